#include "adapters/sip/sip_inbound.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "adapters/sip/sip_config.h"

namespace voipd::adapters::sip {
namespace {

using voip::config::v1::SipAdapterConfig;

SipSettings Settings(bool enabled, uint32_t max_calls = 10, uint32_t max_inbound = 0) {
  SipSettings s;
  s.max_calls = max_calls;
  s.inbound.enabled = enabled;
  s.inbound.max_concurrent = max_inbound;
  return s;
}

TEST(SipInboundTest, DisabledRejectsWithTheConfiguredCode) {
  InboundAdmission a = AdmitInbound(Settings(false), 0, 0);
  EXPECT_FALSE(a.accept);
  EXPECT_EQ(a.reject.code, 480);
  EXPECT_EQ(a.reject.reason, "Temporarily Unavailable");
  SipSettings s = Settings(false);
  s.inbound.reject_code = 603;
  a = AdmitInbound(s, 0, 0);
  EXPECT_EQ(a.reject.code, 603);
  EXPECT_EQ(a.reject.reason, "Decline");
}

TEST(SipInboundTest, LimitsGiveBusyHere) {
  EXPECT_TRUE(AdmitInbound(Settings(true, 10), 9, 9).accept);
  InboundAdmission a = AdmitInbound(Settings(true, 10), 10, 0);
  EXPECT_FALSE(a.accept);
  EXPECT_EQ(a.reject.code, 486);
  EXPECT_EQ(a.reject.reason, "Busy Here");
  EXPECT_TRUE(AdmitInbound(Settings(true, 10, 2), 5, 1).accept);
  a = AdmitInbound(Settings(true, 10, 2), 5, 2);
  EXPECT_FALSE(a.accept);
  EXPECT_EQ(a.reject.code, 486);
}

TEST(SipInboundTest, CoreRefusalsMapToSipCodes) {
  EXPECT_EQ(RejectionForCoreError(voip::v1::DAEMON_SHUTDOWN).code, 503);
  EXPECT_EQ(RejectionForCoreError(voip::v1::RATE_LIMITED).code, 503);
  EXPECT_EQ(RejectionForCoreError(voip::v1::INVALID_ARGUMENT).code, 400);
  EXPECT_EQ(RejectionForCoreError(voip::v1::INVALID_NUMBER).code, 400);
  const SipReply other = RejectionForCoreError(voip::v1::CONFIGURATION_ERROR);
  EXPECT_EQ(other.code, 500);
  EXPECT_EQ(other.reason, "Server Internal Error");
  EXPECT_STREQ(ReasonPhrase(499), "Rejected");
}

TEST(SipInboundTest, UriTextDropsParametersAndBracketsIpv6) {
  UriParts u;
  u.scheme = "SIP";
  u.user = "alice";
  u.host = "example.org";
  EXPECT_EQ(UriText(u), "sip:alice@example.org");
  u.scheme = "sips:";
  u.port = 5061;
  EXPECT_EQ(UriText(u), "sips:alice@example.org:5061");
  UriParts v6;
  v6.scheme = "sip";
  v6.host = "::1";
  v6.ipv6 = true;
  v6.port = 5060;
  EXPECT_EQ(UriText(v6), "sip:[::1]:5060");
  UriParts none;
  none.host = "h";
  EXPECT_EQ(UriText(none), "sip:h");
}

TEST(SipInboundTest, DialledPartyPrefersTheToUser) {
  UriParts to;
  to.scheme = "sip";
  to.user = "+12015550100";
  to.host = "pbx";
  UriParts ruri;
  ruri.scheme = "sip";
  ruri.user = "voipd";
  ruri.host = "10.0.0.2";
  EXPECT_EQ(DialledParty(to, ruri), "+12015550100");
  to.user = "";
  EXPECT_EQ(DialledParty(to, ruri), "voipd");
  ruri.user = "";
  EXPECT_EQ(DialledParty(to, ruri), "sip:pbx");
}

TEST(SipInboundTest, SafeDisplayName) {
  EXPECT_EQ(SafeDisplayName("\"Alice Smith\""), "Alice Smith");
  EXPECT_EQ(SafeDisplayName("  Bob  "), "Bob");
  EXPECT_EQ(SafeDisplayName("\"say \\\"hi\\\"\""), "say \"hi\"");
  EXPECT_EQ(SafeDisplayName(std::string("a\tb\x7f" "c\x01", 6)), "abc");
  EXPECT_EQ(SafeDisplayName(""), "");
  EXPECT_EQ(SafeDisplayName(std::string(300, 'x')).size(), 64u);
  // "é" is two bytes: a cut in its middle backs up to before it.
  const std::string name = std::string(63, 'x') + "\xc3\xa9";
  EXPECT_EQ(SafeDisplayName(name), std::string(63, 'x'));
  EXPECT_EQ(SafeDisplayName(name, 65), name);
}

SipAdapterConfig Minimal() {
  SipAdapterConfig config;
  config.set_server("pbx.example.com");
  return config;
}

TEST(SipInboundConfigTest, DefaultsAreDisabledWith480) {
  SipAdapterConfig config = Minimal();
  ASSERT_TRUE(ValidateSipConfig(config).ok());
  EXPECT_EQ(config.inbound().reject_code(), 480u);
  absl::StatusOr<SipSettings> s = ParseSipConfig(config);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->inbound.enabled);
  EXPECT_FALSE(s->inbound.answer_after.has_value());
  EXPECT_EQ(s->inbound.reject_code, 480);
  EXPECT_EQ(s->inbound.max_concurrent, 0u);
}

TEST(SipInboundConfigTest, AnswerAfterParses) {
  SipAdapterConfig config = Minimal();
  config.mutable_inbound()->set_enabled(true);
  config.mutable_inbound()->set_answer_after("0s");
  absl::StatusOr<SipSettings> s = ParseSipConfig(config);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->inbound.enabled);
  ASSERT_TRUE(s->inbound.answer_after.has_value());
  EXPECT_EQ(*s->inbound.answer_after, absl::ZeroDuration());
  config.mutable_inbound()->set_answer_after("1500ms");
  s = ParseSipConfig(config);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s->inbound.answer_after, absl::Milliseconds(1500));
}

void ExpectInboundError(SipAdapterConfig config, absl::string_view field) {
  const absl::Status s = ValidateSipConfig(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), absl::StrCat(field, ": "))) << s.message();
}

TEST(SipInboundConfigTest, BadValuesNameTheField) {
  SipAdapterConfig config = Minimal();
  config.mutable_inbound()->set_answer_after("soon");
  ExpectInboundError(config, "inbound.answer_after");
  config.mutable_inbound()->set_answer_after("-1s");
  ExpectInboundError(config, "inbound.answer_after");
  // Never shorter than the ring timeout: the call would never be answered.
  config.mutable_inbound()->set_answer_after("30s");
  ExpectInboundError(config, "inbound.answer_after");
  config = Minimal();
  config.mutable_inbound()->set_reject_code(200);
  ExpectInboundError(config, "inbound.reject_code");
  config.mutable_inbound()->set_reject_code(700);
  ExpectInboundError(config, "inbound.reject_code");
  config.mutable_inbound()->set_reject_code(603);
  EXPECT_TRUE(ValidateSipConfig(config).ok());
}

}  // namespace
}  // namespace voipd::adapters::sip
