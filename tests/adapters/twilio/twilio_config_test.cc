// Config validation: every error names its field first (the loader prefixes
// "FILE:LINE: systems.NAME.").
#include "adapters/twilio/twilio_config.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "adapters/api/registry.h"
#include "voip/config/v1/twilio.pb.h"

namespace voipd::adapters::twilio {
namespace {

using voip::config::v1::TwilioAdapterConfig;

TwilioAdapterConfig Minimal() {
  TwilioAdapterConfig c;
  c.set_account_sid_file("account_sid");
  c.set_auth_token_file("auth_token");
  return c;
}

// Validates through the registered factory, as the config loader does.
absl::Status Validate(TwilioAdapterConfig& c) {
  const AdapterFactory* factory = AdapterRegistry::Find("twilio");
  EXPECT_NE(factory, nullptr);
  if (factory == nullptr) return absl::InternalError("no twilio factory");
  return factory->Validate(c);
}

void ExpectFieldError(TwilioAdapterConfig c, absl::string_view field) {
  absl::Status s = Validate(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), absl::StrCat(field, ": "))) << s.message();
}

TEST(TwilioConfigTest, RegisteredUnderItsName) {
  const AdapterFactory* factory = AdapterRegistry::Find("twilio");
  ASSERT_NE(factory, nullptr);
  EXPECT_EQ(factory->name(), "twilio");
  EXPECT_NE(dynamic_cast<TwilioAdapterConfig*>(factory->CreateEmptyConfig().get()), nullptr);
}

TEST(TwilioConfigTest, MinimalConfigGetsDefaults) {
  TwilioAdapterConfig c = Minimal();
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_EQ(c.base_url(), "https://api.twilio.com");
  EXPECT_EQ(c.poll_interval(), "5s");
  EXPECT_EQ(c.max_attempts(), 4u);
  EXPECT_EQ(c.conference_prefix(), "voipd-");
  EXPECT_EQ(c.webhook().max_body_bytes(), 65536u);
  const TwilioSettings s = SettingsFromConfig(c);
  EXPECT_FALSE(s.webhooks_enabled);
  EXPECT_EQ(s.poll_interval, absl::Seconds(5));
  EXPECT_EQ(s.default_ring_timeout, absl::Seconds(30));
}

TEST(TwilioConfigTest, CredentialFiles) {
  TwilioAdapterConfig c = Minimal();
  c.clear_account_sid_file();
  ExpectFieldError(c, "account_sid_file");

  c = Minimal();
  c.clear_auth_token_file();
  ExpectFieldError(c, "auth_token_file");

  c.set_api_key_sid_file("key_sid");
  ExpectFieldError(c, "api_key_secret_file");
  c.set_api_key_secret_file("key_secret");
  EXPECT_TRUE(Validate(c).ok());  // API key alone is enough without webhooks

  c.mutable_webhook()->set_public_url("https://voipd.example.com/twilio");
  c.mutable_webhook()->set_listen("127.0.0.1:8089");
  ExpectFieldError(c, "auth_token_file");  // signatures need the Auth Token
}

TEST(TwilioConfigTest, BaseUrl) {
  TwilioAdapterConfig c = Minimal();
  c.set_base_url("http://api.twilio.com");
  ExpectFieldError(c, "base_url");
  c.set_allow_insecure_http(true);
  EXPECT_TRUE(Validate(c).ok());

  c = Minimal();
  c.set_base_url("http://127.0.0.1:4010/");
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_EQ(c.base_url(), "http://127.0.0.1:4010");  // trailing '/' dropped
  c.set_base_url("http://[::1]:4010");
  EXPECT_TRUE(Validate(c).ok());
  c.set_base_url("https://api.dublin.ie1.twilio.com");
  EXPECT_TRUE(Validate(c).ok());

  for (const char* bad : {"ftp://api.twilio.com", "api.twilio.com", "https://",
                          "https://api.twilio.com?x=1", "https://user@api.twilio.com",
                          "https://api.twilio.com:99999"}) {
    SCOPED_TRACE(bad);
    c = Minimal();
    c.set_base_url(bad);
    ExpectFieldError(c, "base_url");
  }
}

TEST(TwilioConfigTest, Webhook) {
  TwilioAdapterConfig c = Minimal();
  c.mutable_webhook()->set_listen("127.0.0.1:8089");
  ExpectFieldError(c, "webhook.public_url");

  c = Minimal();
  c.mutable_webhook()->set_public_url("https://voipd.example.com/twilio");
  ExpectFieldError(c, "webhook.listen");
  for (const char* bad : {"127.0.0.1", "voipd.example.com:8089", "127.0.0.1:0", ":8089",
                          "::1:8089", "[::1]:70000"}) {
    SCOPED_TRACE(bad);
    c.mutable_webhook()->set_listen(bad);
    ExpectFieldError(c, "webhook.listen");
  }
  for (const char* good : {"[::1]:8089", "0.0.0.0:8089", "localhost:8089"}) {
    c.mutable_webhook()->set_listen(good);
    EXPECT_TRUE(Validate(c).ok()) << good;
  }
  c.mutable_webhook()->set_listen("127.0.0.1:8089");
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_TRUE(SettingsFromConfig(c).webhooks_enabled);

  c.mutable_webhook()->set_public_url("http://voipd.example.com/twilio");
  ExpectFieldError(c, "webhook.public_url");
  c.mutable_webhook()->set_public_url("http://127.0.0.1:8089");
  EXPECT_TRUE(Validate(c).ok());

  c.mutable_webhook()->set_max_body_bytes(100);
  ExpectFieldError(c, "webhook.max_body_bytes");
  c.mutable_webhook()->set_max_body_bytes(0);
  c.mutable_webhook()->set_read_timeout("forever");
  ExpectFieldError(c, "webhook.read_timeout");
}

TEST(TwilioConfigTest, Durations) {
  for (const char* field : {"poll_interval", "callback_timeout", "connect_timeout",
                            "request_timeout", "retry_budget", "default_ring_timeout"}) {
    SCOPED_TRACE(field);
    TwilioAdapterConfig c = Minimal();
    const auto* f = c.GetDescriptor()->FindFieldByName(field);
    ASSERT_NE(f, nullptr);
    c.GetReflection()->SetString(&c, f, "ten seconds");
    ExpectFieldError(c, field);
    c.GetReflection()->SetString(&c, f, "-1s");
    ExpectFieldError(c, field);
  }
  TwilioAdapterConfig c = Minimal();
  c.set_default_ring_timeout("601s");
  ExpectFieldError(c, "default_ring_timeout");
  c.set_default_ring_timeout("45s");
  c.set_poll_interval("250ms");
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_EQ(SettingsFromConfig(c).poll_interval, absl::Milliseconds(250));
}

TEST(TwilioConfigTest, Others) {
  TwilioAdapterConfig c = Minimal();
  c.set_max_attempts(11);
  ExpectFieldError(c, "max_attempts");
  c = Minimal();
  c.set_conference_prefix("voipd <x>");
  ExpectFieldError(c, "conference_prefix");
  c = Minimal();
  c.set_hold_url("not a url");
  ExpectFieldError(c, "hold_url");
  c = Minimal();
  c.set_agent_endpoint("client:<alice>");
  ExpectFieldError(c, "agent_endpoint");
  c = Minimal();
  c.set_agent_endpoint("client:alice");
  c.set_default_from("+12015550123");
  EXPECT_TRUE(Validate(c).ok());
}

TEST(TwilioConfigTest, LoopbackHosts) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("LOCALHOST"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("127.evil.example"));
}

}  // namespace
}  // namespace voipd::adapters::twilio

namespace voipd::adapters::twilio {
namespace {

TEST(TwilioConfigTest, InboundNeedsWebhooksAndPlainEndpoints) {
  voip::config::v1::TwilioAdapterConfig c;
  c.set_account_sid_file("account_sid");
  c.set_auth_token_file("auth_token");
  c.mutable_inbound()->set_enabled(true);
  ExpectFieldError(c, "inbound.enabled");
  c.mutable_webhook()->set_listen("127.0.0.1:8089");
  c.mutable_webhook()->set_public_url("https://voipd.example.com/twilio");
  c.set_agent_endpoint("client:bob");
  voip::config::v1::TwilioAdapterConfig ok = c;
  ASSERT_TRUE(Validate(ok).ok());
  TwilioSettings s = SettingsFromConfig(ok);
  EXPECT_TRUE(s.inbound_enabled);
  EXPECT_EQ(s.inbound_agent_endpoint, "client:bob");  // falls back to agent_endpoint
  c.mutable_inbound()->set_agent_endpoint("client:<alice>");
  ExpectFieldError(c, "inbound.agent_endpoint");
  c.mutable_inbound()->set_agent_endpoint("client:alice");
  ok = c;
  ASSERT_TRUE(Validate(ok).ok());
  EXPECT_EQ(SettingsFromConfig(ok).inbound_agent_endpoint, "client:alice");
}

}  // namespace
}  // namespace voipd::adapters::twilio
