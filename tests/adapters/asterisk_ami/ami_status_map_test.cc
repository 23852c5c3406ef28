// The status mapping tables (docs/adapters/asterisk.md, "Status mapping").
#include "adapters/asterisk_ami/ami_status_map.h"

#include "gtest/gtest.h"

namespace voipd::adapters::asterisk_ami {
namespace {

struct Row {
  const char* status;
  EndOutcome outcome;
  voip::v1::HangupSource source;
  voip::v1::ErrorCode code;
};

TEST(AmiStatusMapTest, DialStatus) {
  using voip::v1::HANGUP_SOURCE_REMOTE;
  using voip::v1::HANGUP_SOURCE_SYSTEM;
  const Row rows[] = {
      {"BUSY", EndOutcome::kBusy, HANGUP_SOURCE_REMOTE, voip::v1::ERROR_CODE_UNSPECIFIED},
      {"busy", EndOutcome::kBusy, HANGUP_SOURCE_REMOTE, voip::v1::ERROR_CODE_UNSPECIFIED},
      {"NOANSWER", EndOutcome::kUnavailable, HANGUP_SOURCE_SYSTEM,
       voip::v1::ERROR_CODE_UNSPECIFIED},
      {"CHANUNAVAIL", EndOutcome::kUnavailable, HANGUP_SOURCE_REMOTE,
       voip::v1::ERROR_CODE_UNSPECIFIED},
      {"CONGESTION", EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::PROVIDER_ERROR},
      {"CANCEL", EndOutcome::kDisconnected, HANGUP_SOURCE_REMOTE, voip::v1::ERROR_CODE_UNSPECIFIED},
      {"DONTCALL", EndOutcome::kUnavailable, HANGUP_SOURCE_REMOTE,
       voip::v1::ERROR_CODE_UNSPECIFIED},
      {"INVALIDARGS", EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::PROVIDER_ERROR},
      {"SOMETHINGNEW", EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::PROVIDER_ERROR},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.status);
    auto mapped = MapDialStatus(row.status);
    ASSERT_TRUE(mapped.has_value());
    EXPECT_EQ(mapped->outcome, row.outcome);
    EXPECT_EQ(mapped->source, row.source);
    EXPECT_EQ(mapped->error_code, row.code);
  }
  EXPECT_FALSE(MapDialStatus("ANSWER").has_value());
  EXPECT_FALSE(MapDialStatus("").has_value());
}

TEST(AmiStatusMapTest, OriginateReason) {
  // The codes the peer README documents: 4 answered, 3 no answer, 5 busy,
  // 8 congestion, 0 failed.
  EXPECT_FALSE(MapOriginateReason(4).has_value());
  EXPECT_EQ(MapOriginateReason(3)->outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(MapOriginateReason(5)->outcome, EndOutcome::kBusy);
  EXPECT_EQ(MapOriginateReason(8)->outcome, EndOutcome::kFailed);
  EXPECT_EQ(MapOriginateReason(8)->error_code, voip::v1::PROVIDER_ERROR);
  EXPECT_EQ(MapOriginateReason(0)->outcome, EndOutcome::kFailed);
  EXPECT_EQ(MapOriginateReason(1)->outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(MapOriginateReason(2)->outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(MapOriginateReason(77)->outcome, EndOutcome::kFailed);
}

TEST(AmiStatusMapTest, Q850CauseOfAnUnansweredCall) {
  EXPECT_EQ(MapUnansweredCause(17).outcome, EndOutcome::kBusy);
  EXPECT_EQ(MapUnansweredCause(18).outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(MapUnansweredCause(19).outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(MapUnansweredCause(1).outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(MapUnansweredCause(21).outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(MapUnansweredCause(16).outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(MapUnansweredCause(34).outcome, EndOutcome::kFailed);
  EXPECT_EQ(MapUnansweredCause(0).outcome, EndOutcome::kFailed);
}

}  // namespace
}  // namespace voipd::adapters::asterisk_ami
