#include "adapters/sip/sip_status_mapping.h"

#include <gtest/gtest.h>

namespace voipd::adapters::sip {
namespace {

TEST(SipStatusMappingTest, ProvisionalResponsesMeanRinging) {
  for (int code : {100, 180, 181, 182, 183, 199}) EXPECT_TRUE(IsRingingResponse(code)) << code;
  for (int code : {99, 200, 486}) EXPECT_FALSE(IsRingingResponse(code)) << code;
}

TEST(SipStatusMappingTest, BusyCodes) {
  for (int code : {486, 600}) {
    const FinalResponseOutcome out = MapFinalResponse(code);
    EXPECT_EQ(out.outcome, EndOutcome::kBusy) << code;
    EXPECT_EQ(out.error_code, voip::v1::ERROR_CODE_UNSPECIFIED) << code;
    EXPECT_EQ(out.source, voip::v1::HANGUP_SOURCE_REMOTE) << code;
  }
}

TEST(SipStatusMappingTest, UnavailableCodes) {
  for (int code : {404, 410, 480, 484, 604}) {
    const FinalResponseOutcome out = MapFinalResponse(code);
    EXPECT_EQ(out.outcome, EndOutcome::kUnavailable) << code;
    EXPECT_EQ(out.error_code, voip::v1::ERROR_CODE_UNSPECIFIED) << code;
  }
}

TEST(SipStatusMappingTest, RefusedCredentialsAreConfigurationErrors) {
  for (int code : {401, 407}) {
    const FinalResponseOutcome out = MapFinalResponse(code);
    EXPECT_EQ(out.outcome, EndOutcome::kFailed) << code;
    EXPECT_EQ(out.error_code, voip::v1::CONFIGURATION_ERROR) << code;
    EXPECT_EQ(out.source, voip::v1::HANGUP_SOURCE_SYSTEM) << code;
  }
}

TEST(SipStatusMappingTest, EverythingElseFailsAsProviderError) {
  for (int code : {300, 403, 408, 487, 488, 500, 502, 503, 603, 699}) {
    const FinalResponseOutcome out = MapFinalResponse(code);
    EXPECT_EQ(out.outcome, EndOutcome::kFailed) << code;
    EXPECT_EQ(out.error_code, voip::v1::PROVIDER_ERROR) << code;
    EXPECT_EQ(out.source, voip::v1::HANGUP_SOURCE_REMOTE) << code;
  }
}

TEST(SipStatusMappingTest, Q850CauseFromReasonHeader) {
  EXPECT_EQ(ParseQ850Cause("Q.850;cause=16;text=\"Normal call clearing\""), 16);
  EXPECT_EQ(ParseQ850Cause("q.850 ; cause = 17"), 17);
  EXPECT_EQ(ParseQ850Cause("SIP;cause=200;text=\"Call completed elsewhere\", Q.850;cause=26"), 26);
  EXPECT_EQ(ParseQ850Cause("SIP;text=\"a, b\";cause=487, Q.850;cause=31"), 31);
  EXPECT_EQ(ParseQ850Cause("Q.850;text=\"x;cause=1\";cause=34"), 34)
      << "quoted text is not a parameter";
  EXPECT_EQ(ParseQ850Cause("Q.850;text=\"say \\\"hi\\\", Q.850;cause=2\";cause=3"), 3);
}

TEST(SipStatusMappingTest, Q850CauseAbsentOrBroken) {
  EXPECT_EQ(ParseQ850Cause(""), 0);
  EXPECT_EQ(ParseQ850Cause("SIP;cause=486"), 0);
  EXPECT_EQ(ParseQ850Cause("Q.850"), 0);
  EXPECT_EQ(ParseQ850Cause("Q.850;cause=abc"), 0);
  EXPECT_EQ(ParseQ850Cause("Q.850;cause=999"), 0);
  EXPECT_EQ(ParseQ850Cause("Q.850;text=\"unterminated"), 0);
}

}  // namespace
}  // namespace voipd::adapters::sip
