// Duplicated, delayed and reordered Twilio reports: a call only moves
// forward and ends exactly once.
#include "adapters/twilio/call_progress.h"

#include <gtest/gtest.h>

namespace voipd::adapters::twilio {
namespace {

StatusReport Report(const char* status, std::optional<int64_t> seq = std::nullopt,
                    const char* timestamp = nullptr) {
  StatusReport r;
  r.call_status = status;
  r.sequence = seq;
  if (timestamp != nullptr) r.timestamp = ParseTwilioTimestamp(timestamp);
  return r;
}

TEST(CallProgressTest, FullLifecycle) {
  CallProgress p;
  EXPECT_FALSE(p.Apply("s", Report("initiated", 0), false));
  auto ringing = p.Apply("s", Report("ringing", 1), false);
  ASSERT_TRUE(ringing);
  EXPECT_EQ(ringing->kind, ProviderEventKind::kRinging);
  EXPECT_EQ(ringing->session_id, "s");
  auto answered = p.Apply("s", Report("in-progress", 2), false);
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->kind, ProviderEventKind::kAnswered);
  auto ended = p.Apply("s", Report("completed", 3), false);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->kind, ProviderEventKind::kEnded);
  EXPECT_EQ(ended->outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(ended->source, voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(ended->cause.provider_status(), "completed");
  EXPECT_TRUE(p.ended());
}

TEST(CallProgressTest, DuplicatesAreDropped) {
  CallProgress p;
  EXPECT_TRUE(p.Apply("s", Report("ringing", 1), false));
  EXPECT_FALSE(p.Apply("s", Report("ringing", 1), false));
  EXPECT_TRUE(p.Apply("s", Report("completed", 2), false));
  EXPECT_FALSE(p.Apply("s", Report("completed", 2), false));
  EXPECT_FALSE(p.Apply("s", Report("busy", 3), false));  // one terminal event only
}

TEST(CallProgressTest, OlderSequenceNumberIsIgnored) {
  CallProgress p;
  EXPECT_TRUE(p.Apply("s", Report("in-progress", 2), false));
  EXPECT_FALSE(p.Apply("s", Report("ringing", 1), false));
  EXPECT_EQ(p.phase(), CallPhase::kConnected);
}

TEST(CallProgressTest, OutOfOrderEndFirst) {
  CallProgress p;
  auto ended = p.Apply("s", Report("busy", 2), false);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->outcome, EndOutcome::kBusy);
  EXPECT_FALSE(p.Apply("s", Report("ringing", 1), false));
  EXPECT_FALSE(p.Apply("s", Report("initiated", 0), false));
}

TEST(CallProgressTest, OlderTimestampIsIgnoredWithoutSequence) {
  CallProgress p;
  EXPECT_TRUE(
      p.Apply("s", Report("in-progress", std::nullopt, "Mon, 16 Aug 2010 03:45:05 +0000"), false));
  // A same-second report cannot be ordered by time; the phase rank decides.
  EXPECT_FALSE(
      p.Apply("s", Report("ringing", std::nullopt, "Mon, 16 Aug 2010 03:45:05 +0000"), false));
  EXPECT_FALSE(
      p.Apply("s", Report("completed", std::nullopt, "Mon, 16 Aug 2010 03:45:01 +0000"), false));
  EXPECT_TRUE(
      p.Apply("s", Report("completed", std::nullopt, "Mon, 16 Aug 2010 03:46:00 +0000"), false));
}

TEST(CallProgressTest, PollingResultsUseThePhaseRankOnly) {
  CallProgress p;
  EXPECT_TRUE(p.Apply("s", Report("in-progress", 4), false));
  EXPECT_FALSE(p.Apply("s", Report("ringing"), false));   // a stale fetch
  EXPECT_FALSE(p.Apply("s", Report("in-progress"), false));
  EXPECT_TRUE(p.Apply("s", Report("completed"), false));
}

TEST(CallProgressTest, SkippingStatesIsFine) {
  CallProgress p;
  auto answered = p.Apply("s", Report("in-progress", 3), false);
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->kind, ProviderEventKind::kAnswered);
}

TEST(CallProgressTest, FailedCarriesTwilioDetails) {
  CallProgress p;
  StatusReport r = Report("failed", 1);
  r.error_code = "32009";
  r.error_message = "Your TwiML tried to Dial a SIP Endpoint that is not registered";
  r.sip_code = 404;
  auto ended = p.Apply("s", r, false);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->outcome, EndOutcome::kFailed);
  EXPECT_EQ(ended->error_code, voip::v1::PROVIDER_ERROR);
  EXPECT_EQ(ended->source, voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_EQ(ended->cause.provider_code(), "32009");
  EXPECT_EQ(ended->cause.provider_status(), "failed");
  EXPECT_EQ(ended->cause.sip_code(), 404);
  EXPECT_NE(ended->message.find("not registered"), std::string::npos);
}

TEST(CallProgressTest, LocalEndAndCancel) {
  CallProgress p;
  EXPECT_TRUE(p.Apply("s", Report("ringing", 1), false));
  auto ended = p.Apply("s", Report("canceled", 2), /*end_requested=*/true);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(ended->source, voip::v1::HANGUP_SOURCE_LOCAL);
}

TEST(CallProgressTest, MarkEndedStopsEverything) {
  CallProgress p;
  p.MarkEnded();
  EXPECT_FALSE(p.Apply("s", Report("completed", 9), false));
}

TEST(CallProgressTest, UnknownStatusIsIgnored) {
  CallProgress p;
  EXPECT_FALSE(p.Apply("s", Report("teleported", 1), false));
  EXPECT_TRUE(p.Apply("s", Report("ringing", 2), false));
}

TEST(CallProgressTest, ParsesTwilioTimestamps) {
  auto t = ParseTwilioTimestamp("Mon, 16 Aug 2010 03:45:01 +0000");
  ASSERT_TRUE(t);
  EXPECT_EQ(absl::ToUnixSeconds(*t), 1281930301);
  EXPECT_FALSE(ParseTwilioTimestamp("yesterday"));
}

}  // namespace
}  // namespace voipd::adapters::twilio
