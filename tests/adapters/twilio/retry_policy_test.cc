#include "adapters/twilio/retry_policy.h"

#include <gtest/gtest.h>

namespace voipd::adapters::twilio {
namespace {

TEST(RetryPolicyTest, ParsesRetryAfter) {
  const absl::Time now = absl::FromUnixSeconds(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("3", now), absl::Seconds(3));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", now), absl::Seconds(5));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("", now));
  EXPECT_FALSE(ParseRetryAfter("-1", now));
  EXPECT_FALSE(ParseRetryAfter("soon", now));
}

TEST(RetryPolicyTest, ExponentialWithJitterAndCap) {
  RetryPolicy p;
  p.max_attempts = 10;
  p.budget = absl::Hours(1);
  p.initial_backoff = absl::Seconds(1);
  p.max_backoff = absl::Seconds(4);
  // jitter 1.0 = the full backoff; 0.0 = half of it.
  EXPECT_EQ(NextRetryDelay(p, 1, absl::ZeroDuration(), std::nullopt, 1.0), absl::Seconds(1));
  EXPECT_EQ(NextRetryDelay(p, 2, absl::ZeroDuration(), std::nullopt, 1.0), absl::Seconds(2));
  EXPECT_EQ(NextRetryDelay(p, 3, absl::ZeroDuration(), std::nullopt, 1.0), absl::Seconds(4));
  EXPECT_EQ(NextRetryDelay(p, 6, absl::ZeroDuration(), std::nullopt, 1.0), absl::Seconds(4));
  EXPECT_EQ(NextRetryDelay(p, 1, absl::ZeroDuration(), std::nullopt, 0.0),
            absl::Milliseconds(500));
}

TEST(RetryPolicyTest, RetryAfterIsAFloor) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(100);
  EXPECT_EQ(NextRetryDelay(p, 1, absl::ZeroDuration(), absl::Seconds(2), 0.5), absl::Seconds(2));
  EXPECT_EQ(NextRetryDelay(p, 1, absl::ZeroDuration(), absl::ZeroDuration(), 1.0),
            absl::Milliseconds(100));
}

TEST(RetryPolicyTest, BoundedInAttemptsAndTime) {
  RetryPolicy p;
  p.max_attempts = 3;
  p.budget = absl::Seconds(10);
  p.initial_backoff = absl::Seconds(1);
  EXPECT_TRUE(NextRetryDelay(p, 2, absl::ZeroDuration(), std::nullopt, 1.0));
  EXPECT_FALSE(NextRetryDelay(p, 3, absl::ZeroDuration(), std::nullopt, 1.0));
  // A Retry-After beyond the budget: give up now rather than wait for nothing.
  EXPECT_FALSE(NextRetryDelay(p, 1, absl::ZeroDuration(), absl::Seconds(60), 1.0));
  EXPECT_FALSE(NextRetryDelay(p, 1, absl::Seconds(9.5), std::nullopt, 1.0));
  p.max_attempts = 1;
  EXPECT_FALSE(NextRetryDelay(p, 1, absl::ZeroDuration(), std::nullopt, 1.0));
}

}  // namespace
}  // namespace voipd::adapters::twilio
