#include "adapters/twilio/twilio_status_mapping.h"

#include <gtest/gtest.h>

namespace voipd::adapters::twilio {
namespace {

TEST(TwilioStatusMappingTest, IssueTable) {
  struct Row {
    const char* status;
    CallPhase phase;
    EndOutcome outcome;
  };
  const Row rows[] = {
      {"queued", CallPhase::kInitiating, EndOutcome::kDisconnected},
      {"initiated", CallPhase::kInitiating, EndOutcome::kDisconnected},
      {"ringing", CallPhase::kRinging, EndOutcome::kDisconnected},
      {"in-progress", CallPhase::kConnected, EndOutcome::kDisconnected},
      {"completed", CallPhase::kEnded, EndOutcome::kDisconnected},
      {"busy", CallPhase::kEnded, EndOutcome::kBusy},
      {"no-answer", CallPhase::kEnded, EndOutcome::kUnavailable},
      {"failed", CallPhase::kEnded, EndOutcome::kFailed},
      {"canceled", CallPhase::kEnded, EndOutcome::kDisconnected},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.status);
    std::optional<StatusMapping> m = MapCallStatus(row.status);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->phase, row.phase);
    if (row.phase == CallPhase::kEnded) {
      EXPECT_EQ(m->outcome, row.outcome);
    }
  }
}

TEST(TwilioStatusMappingTest, UnknownValuesAreNotGuessed) {
  EXPECT_FALSE(MapCallStatus("").has_value());
  EXPECT_FALSE(MapCallStatus("answered").has_value());  // an event name, not a status
  EXPECT_FALSE(MapCallStatus("Completed").has_value());
}

TEST(TwilioStatusMappingTest, HangupSource) {
  EXPECT_EQ(HangupSourceFor("completed", false), voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(HangupSourceFor("completed", true), voip::v1::HANGUP_SOURCE_LOCAL);
  EXPECT_EQ(HangupSourceFor("canceled", true), voip::v1::HANGUP_SOURCE_LOCAL);
  EXPECT_EQ(HangupSourceFor("canceled", false), voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_EQ(HangupSourceFor("busy", true), voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(HangupSourceFor("no-answer", false), voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(HangupSourceFor("failed", false), voip::v1::HANGUP_SOURCE_SYSTEM);
}

}  // namespace
}  // namespace voipd::adapters::twilio
