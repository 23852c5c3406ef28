// The factory's typed-config hooks: defaults, and errors that start with the
// offending field (the config loader prefixes "systems.<name>.").
#include <string>

#include "absl/strings/match.h"
#include "adapters/api/registry.h"
#include "gtest/gtest.h"
#include "voip/config/v1/asterisk_ami.pb.h"

namespace voipd::adapters {
namespace {

using voip::config::v1::AsteriskAmiAdapterConfig;

const AdapterFactory& Factory() {
  const AdapterFactory* factory = AdapterRegistry::Find("asterisk-ami");
  EXPECT_NE(factory, nullptr) << "asterisk-ami is not registered";
  return *factory;
}

AsteriskAmiAdapterConfig Minimal() {
  AsteriskAmiAdapterConfig c;
  c.set_host("127.0.0.1");
  c.set_username("voipd");
  c.set_secret_file("ami.secret");
  c.mutable_click_to_call()->set_context("voipd-outbound");
  return c;
}

void ExpectFieldError(AsteriskAmiAdapterConfig c, const std::string& field) {
  absl::Status s = Factory().Validate(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field << ": " << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), field + ":")) << s.message();
}

TEST(AsteriskAmiConfigTest, RegisteredUnderItsTypeName) {
  EXPECT_EQ(Factory().name(), "asterisk-ami");
  EXPECT_EQ(Factory().CreateEmptyConfig()->GetDescriptor()->full_name(),
            "voip.config.v1.AsteriskAmiAdapterConfig");
}

TEST(AsteriskAmiConfigTest, DefaultsAreFilled) {
  AsteriskAmiAdapterConfig c = Minimal();
  ASSERT_TRUE(Factory().Validate(c).ok());
  EXPECT_EQ(c.port(), 5038u);
  EXPECT_EQ(c.auth(), "plaintext");
  EXPECT_EQ(c.events(), "call");
  EXPECT_EQ(c.click_to_call().agent_channel(), "PJSIP/{from}");
  EXPECT_EQ(c.click_to_call().exten(), "{target}");
  EXPECT_EQ(c.click_to_call().priority(), 1);
  EXPECT_EQ(c.click_to_call().agent_ring_timeout_seconds(), 30);
  EXPECT_EQ(c.default_ring_timeout_seconds(), 30);
  EXPECT_EQ(c.channel_id_prefix(), "voipd-");
  EXPECT_EQ(c.keepalive_interval_seconds(), 20);
  EXPECT_EQ(c.reconnect_min_seconds(), 0.5);
  EXPECT_EQ(c.reconnect_max_seconds(), 30);
  EXPECT_EQ(c.max_message_bytes(), 65536u);
}

TEST(AsteriskAmiConfigTest, TlsDefaultsToPort5039) {
  AsteriskAmiAdapterConfig c = Minimal();
  c.mutable_tls()->set_enabled(true);
  ASSERT_TRUE(Factory().Validate(c).ok());
  EXPECT_EQ(c.port(), 5039u);
}

TEST(AsteriskAmiConfigTest, ErrorsNameTheField) {
  auto without = [](auto clear) {
    AsteriskAmiAdapterConfig c = Minimal();
    clear(c);
    return c;
  };
  ExpectFieldError(without([](auto& c) { c.clear_host(); }), "host");
  ExpectFieldError(without([](auto& c) { c.clear_username(); }), "username");
  ExpectFieldError(without([](auto& c) { c.clear_secret_file(); }), "secret_file");
  ExpectFieldError(without([](auto& c) { c.set_port(70000); }), "port");
  ExpectFieldError(without([](auto& c) { c.set_auth("sha1"); }), "auth");
  ExpectFieldError(without([](auto& c) { c.clear_click_to_call(); }), "click_to_call");
  ExpectFieldError(without([](auto& c) { c.mutable_click_to_call()->clear_context(); }),
                   "click_to_call.context");
  ExpectFieldError(without([](auto& c) { c.mutable_click_to_call()->set_exten("{tagret}"); }),
                   "click_to_call.exten");
  ExpectFieldError(
      without([](auto& c) { c.mutable_click_to_call()->set_agent_ring_timeout_seconds(-1); }),
      "click_to_call.agent_ring_timeout_seconds");
  ExpectFieldError(without([](auto& c) { c.mutable_direct()->set_application("Echo"); }),
                   "direct.channel");
  ExpectFieldError(
      without([](auto& c) { c.mutable_direct()->set_channel("PJSIP/{target_digits}@trunk"); }),
      "direct.application");
  ExpectFieldError(without([](auto& c) { c.mutable_hold(); }), "hold.context");
  ExpectFieldError(without([](auto& c) { c.mutable_inbound()->add_contexts(""); }),
                   "inbound.contexts[0]");
  ExpectFieldError(without([](auto& c) {
                     c.mutable_inbound()->add_contexts("from-pstn");
                     c.mutable_inbound()->add_contexts("from pstn");
                   }),
                   "inbound.contexts[1]");
  ExpectFieldError(without([](auto& c) { c.mutable_hold()->set_context("voipd-hold"); }),
                   "hold.agent_context");
  ExpectFieldError(without([](auto& c) {
                     c.mutable_direct()->set_channel("PJSIP/{target}@trunk");
                     c.mutable_direct()->set_application("Echo");
                     c.mutable_hold()->set_context("voipd-hold");
                   }),
                   "hold.resume_context");
  ExpectFieldError(without([](auto& c) { c.set_mute_direction("both"); }), "mute_direction");
  ExpectFieldError(without([](auto& c) { c.set_channel_id_prefix("a/b"); }), "channel_id_prefix");
  ExpectFieldError(without([](auto& c) { c.set_keepalive_interval_seconds(-1); }),
                   "keepalive_interval_seconds");
  ExpectFieldError(without([](auto& c) {
                     c.set_reconnect_min_seconds(10);
                     c.set_reconnect_max_seconds(1);
                   }),
                   "reconnect_max_seconds");
  ExpectFieldError(without([](auto& c) { c.set_max_message_bytes(10); }), "max_message_bytes");
  ExpectFieldError(without([](auto& c) { c.set_caller_id("\"x\" <{who}>"); }), "caller_id");
}

TEST(AsteriskAmiConfigTest, DirectModeWithContextOrApplication) {
  AsteriskAmiAdapterConfig c = Minimal();
  c.mutable_direct()->set_channel("PJSIP/{target_digits}@trunk");
  c.mutable_direct()->set_context("voipd-connected");
  ASSERT_TRUE(Factory().Validate(c).ok());
  EXPECT_EQ(c.direct().exten(), "s");
  EXPECT_EQ(c.direct().priority(), 1);
  c.mutable_direct()->set_application("Playback");
  EXPECT_FALSE(Factory().Validate(c).ok()) << "not both";
}

TEST(AsteriskAmiConfigTest, CreateNeedsAnIoContext) {
  AsteriskAmiAdapterConfig c = Minimal();
  ASSERT_TRUE(Factory().Validate(c).ok());
  AdapterContext context;  // no io
  EXPECT_FALSE(Factory().Create(c, context).ok());
}

}  // namespace
}  // namespace voipd::adapters
