#include "daemon/security/call_limiter.h"

#include <set>

#include <gtest/gtest.h>

#include "adapters/api/voip_error.h"

namespace voipd {
namespace {

class CallLimiterTest : public ::testing::Test {
 protected:
  CallLimiterTest()
      : limiter_([this](const std::string& id) { return active_.count(id) > 0; },
                 [this] { return now_; }) {}

  void SetLimits(uint32_t per_minute, uint32_t burst, uint32_t max_concurrent) {
    TokenSpec t;
    t.name = "crm";
    t.start_calls_per_minute = per_minute;
    t.start_call_burst = burst;
    t.max_concurrent_calls = max_concurrent;
    limiter_.SetLimits({t});
  }

  std::set<std::string> active_;
  absl::Time now_ = absl::FromUnixSeconds(1000);
  CallLimiter limiter_;
};

TEST_F(CallLimiterTest, UnknownTokensAreUnlimited) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter_.Acquire("anonymous").ok());
}

TEST_F(CallLimiterTest, RateAllowsTheBurstThenRefillsOverTime) {
  SetLimits(/*per_minute=*/60, /*burst=*/2, 0);
  ASSERT_TRUE(limiter_.Acquire("crm").ok());
  limiter_.Release("crm", std::nullopt);
  ASSERT_TRUE(limiter_.Acquire("crm").ok());
  limiter_.Release("crm", std::nullopt);
  absl::Status limited = limiter_.Acquire("crm");
  EXPECT_TRUE(absl::IsResourceExhausted(limited));
  EXPECT_EQ(GetErrorCode(limited), voip::v1::RATE_LIMITED);
  EXPECT_EQ(GetVoipError(limited)->details().at("limit"), "start_calls_per_minute");
  now_ += absl::Seconds(1);  // 60/min refills one per second
  EXPECT_TRUE(limiter_.Acquire("crm").ok());
  EXPECT_FALSE(limiter_.Acquire("crm").ok());
}

TEST_F(CallLimiterTest, ConcurrencyCountsPendingAndActiveCallsUntilTheyEnd) {
  SetLimits(0, 0, /*max_concurrent=*/2);
  ASSERT_TRUE(limiter_.Acquire("crm").ok());  // pending
  ASSERT_TRUE(limiter_.Acquire("crm").ok());  // pending
  absl::Status full = limiter_.Acquire("crm");
  EXPECT_EQ(GetVoipError(full)->details().at("limit"), "max_concurrent_calls");
  active_ = {"a"};
  limiter_.Release("crm", "a");           // one became a live call
  limiter_.Release("crm", std::nullopt);  // the other failed: slot freed
  EXPECT_TRUE(limiter_.Acquire("crm").ok());
  limiter_.Release("crm", "b");
  active_.insert("b");
  EXPECT_FALSE(limiter_.Acquire("crm").ok());
  active_.erase("a");  // call a ended
  EXPECT_TRUE(limiter_.Acquire("crm").ok());
}

}  // namespace
}  // namespace voipd
