// CallEndWaiter: the provider's answer and the call's end arrive in either
// order; the client is answered once, with the ended call or the error.
#include "daemon/core/call_end_waiter.h"

#include <optional>
#include <thread>

#include "gtest/gtest.h"

namespace voipd {
namespace {

using voip::v1::CallSession;

CallSession Ended(const std::string& id) {
  CallSession s;
  s.set_session_id(id);
  s.set_status(voip::v1::CALL_STATUS_DISCONNECTED);
  return s;
}

class CallEndWaiterTest : public ::testing::Test {
 protected:
  CallEndWaiter waiter_{[this](absl::StatusOr<CallSession> r) {
    ++answers_;
    result_ = std::move(r);
  }};
  boost::asio::io_context io_;
  int answers_ = 0;
  std::optional<absl::StatusOr<CallSession>> result_;
};

TEST_F(CallEndWaiterTest, EndBeforeTheProvidersAnswerIsHeldUntilIt) {
  waiter_.Ended(Ended("a"));
  EXPECT_EQ(answers_, 0);  // the provider may still refuse
  bool ended_locally = false;
  waiter_.Accepted(io_, absl::Seconds(10), [&] { ended_locally = true; });
  ASSERT_EQ(answers_, 1);
  ASSERT_TRUE(result_->ok());
  EXPECT_EQ((*result_)->session_id(), "a");
  EXPECT_EQ(io_.run(), 0u);  // no timer was armed
  EXPECT_FALSE(ended_locally);
}

TEST_F(CallEndWaiterTest, EndAfterTheProvidersAnswerCancelsTheLocalEnd) {
  bool ended_locally = false;
  waiter_.Accepted(io_, absl::Milliseconds(1), [&] { ended_locally = true; });
  EXPECT_EQ(answers_, 0);
  waiter_.Ended(Ended("b"));
  ASSERT_EQ(answers_, 1);
  EXPECT_EQ((*result_)->session_id(), "b");
  io_.run();  // the cancelled timer's handler
  EXPECT_FALSE(ended_locally);
}

TEST_F(CallEndWaiterTest, NoEndWithinTheTimeoutEndsLocally) {
  waiter_.Accepted(io_, absl::Milliseconds(1), [&] { waiter_.Ended(Ended("c")); });
  EXPECT_EQ(answers_, 0);
  io_.run();
  ASSERT_EQ(answers_, 1);
  EXPECT_EQ((*result_)->session_id(), "c");
}

TEST_F(CallEndWaiterTest, RefusalIsAnsweredAndALaterEndIsNot) {
  waiter_.Finish(absl::UnavailableError("provider down"));
  ASSERT_EQ(answers_, 1);
  EXPECT_EQ(result_->status().code(), absl::StatusCode::kUnavailable);
  waiter_.Ended(Ended("d"));
  waiter_.Accepted(io_, absl::Milliseconds(1), [] { FAIL() << "no local end after an answer"; });
  io_.run();
  EXPECT_EQ(answers_, 1);
}

TEST_F(CallEndWaiterTest, RefusalAfterTheEndStillAnswersTheRefusal) {
  // What the client asked for (the hangup) failed, even though the call ended
  // some other way meanwhile: the error says so.
  waiter_.Ended(Ended("e"));
  waiter_.Finish(absl::InternalError("refused"));
  ASSERT_EQ(answers_, 1);
  EXPECT_EQ(result_->status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace voipd
