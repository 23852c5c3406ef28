#include "adapters/sip/sip_config.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "adapters/api/registry.h"

namespace voipd::adapters::sip {
namespace {

using voip::config::v1::SipAdapterConfig;

SipAdapterConfig Minimal() {
  SipAdapterConfig config;
  config.set_server("pbx.example.com");
  return config;
}

// The error must be InvalidArgument and start with the field's name.
void ExpectFieldError(SipAdapterConfig config, absl::string_view field) {
  const absl::Status s = ValidateSipConfig(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), absl::StrCat(field, ": "))) << s.message();
}

TEST(SipConfigTest, MinimalConfigGetsDefaults) {
  SipAdapterConfig config = Minimal();
  ASSERT_TRUE(ValidateSipConfig(config).ok());
  EXPECT_EQ(config.transport(), "udp");
  EXPECT_EQ(config.media(), "rtp");
  EXPECT_EQ(config.rtp_ports(), "16384-32767");
  EXPECT_EQ(config.ring_timeout(), "30s");
  EXPECT_EQ(config.codecs_size(), 2);
  EXPECT_TRUE(config.telephone_event());
  absl::StatusOr<SipSettings> s = ParseSipConfig(config);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->uri_template, "sip:{number}@pbx.example.com");
  EXPECT_EQ(s->from_uri, "sip:voipd@pbx.example.com");
  EXPECT_EQ(s->OutboundRoute(), "sip:pbx.example.com;transport=udp");
  EXPECT_EQ(s->ring_timeout, absl::Seconds(30));
  EXPECT_EQ(s->rtp_min, 16384);
  EXPECT_EQ(s->rtp_max, 32767);
}

TEST(SipConfigTest, MissingServerNamesTheField) {
  ExpectFieldError(SipAdapterConfig(), "server");
  SipAdapterConfig config = Minimal();
  config.set_server("sip:pbx:5060:1");
  ExpectFieldError(config, "server");
  config.set_server("pbx:99999");
  ExpectFieldError(config, "server");
}

TEST(SipConfigTest, BadTransport) {
  SipAdapterConfig config = Minimal();
  config.set_transport("sctp");
  ExpectFieldError(config, "transport");
}

TEST(SipConfigTest, BadRtpPorts) {
  for (const char* bad : {"10000", "10000-", "a-b", "20000-10000", "10001-10100", "80-100",
                          "10000-70000", "10000-10001"}) {
    SipAdapterConfig config = Minimal();
    config.set_rtp_ports(bad);
    ExpectFieldError(config, "rtp_ports");
  }
}

TEST(SipConfigTest, OtherBadFields) {
  SipAdapterConfig config = Minimal();
  config.set_ring_timeout("soon");
  ExpectFieldError(config, "ring_timeout");
  config = Minimal();
  config.set_response_timeout("-1s");
  ExpectFieldError(config, "response_timeout");
  config = Minimal();
  config.set_media("webrtc");
  ExpectFieldError(config, "media");
  config = Minimal();
  config.add_codecs("G729");
  ExpectFieldError(config, "codecs[0]");
  config = Minimal();
  config.set_local_address("localhost");
  ExpectFieldError(config, "local_address");
  config = Minimal();
  config.set_uri_template("sip:{phone}@pbx");
  ExpectFieldError(config, "uri_template");
  config = Minimal();
  config.set_register_(true);
  ExpectFieldError(config, "username");
  config = Minimal();
  config.set_password_file("/run/secret");
  ExpectFieldError(config, "username");
  config = Minimal();
  config.set_tls_ca_file("/etc/ssl/ca.pem");
  ExpectFieldError(config, "tls_ca_file");
  config = Minimal();
  config.mutable_from()->set_uri("alice@pbx");
  ExpectFieldError(config, "from.uri");
  config = Minimal();
  config.set_prompt_wav("/nonexistent/prompt.wav");
  ExpectFieldError(config, "prompt_wav");
}

TEST(SipConfigTest, ProxyTransportAndIpv6) {
  SipAdapterConfig config = Minimal();
  config.set_server("[::1]:5080");
  config.set_proxy("10.0.0.1:5070");
  config.set_transport("TCP");
  config.set_username("alice");
  ASSERT_TRUE(ValidateSipConfig(config).ok());
  absl::StatusOr<SipSettings> s = ParseSipConfig(config);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->transport, SipTransport::kTcp);
  EXPECT_EQ(s->OutboundRoute(), "sip:10.0.0.1:5070;transport=tcp");
  EXPECT_EQ(s->uri_template, "sip:{number}@[::1]:5080");
  EXPECT_EQ(s->from_uri, "sip:alice@[::1]");
}

TEST(SipConfigTest, TlsDefaultsToVerifyingTheServerName) {
  SipAdapterConfig config = Minimal();
  config.set_transport("tls");
  ASSERT_TRUE(ValidateSipConfig(config).ok());
  absl::StatusOr<SipSettings> s = ParseSipConfig(config);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->tls_server_name, "pbx.example.com");
  EXPECT_EQ(s->tls_ca_file, "/etc/ssl/certs/ca-certificates.crt");
}

TEST(SipConfigTest, HostPortParsing) {
  EXPECT_EQ(ParseHostPort("pbx")->ForUri(), "pbx");
  EXPECT_EQ(ParseHostPort("pbx:5080")->port, 5080);
  EXPECT_EQ(ParseHostPort("[2001:db8::1]:5060")->ForUri(), "[2001:db8::1]:5060");
  EXPECT_FALSE(ParseHostPort("2001:db8::1").ok());
  EXPECT_FALSE(ParseHostPort("[pbx]").ok());
  EXPECT_FALSE(ParseHostPort("").ok());
  EXPECT_FALSE(ParseHostPort("pbx:").ok());
  EXPECT_FALSE(ParseHostPort("pb x").ok());
}

TEST(SipConfigTest, FactoryIsRegisteredAndValidates) {
  const AdapterFactory* factory = AdapterRegistry::Find("sip");
  ASSERT_NE(factory, nullptr);
  std::unique_ptr<google::protobuf::Message> config = factory->CreateEmptyConfig();
  const absl::Status s = factory->Validate(*config);
  EXPECT_TRUE(absl::StartsWith(s.message(), "server: ")) << s;
}

}  // namespace
}  // namespace voipd::adapters::sip
