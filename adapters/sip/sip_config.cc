#include "adapters/sip/sip_config.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/sip/uri_template.h"
#include "adapters/sip/wav_prompt.h"

namespace voipd::adapters::sip {
namespace {

using voip::config::v1::SipAdapterConfig;

constexpr absl::string_view kDefaultRtpPorts = "16384-32767";
constexpr absl::string_view kDefaultRingTimeout = "30s";
constexpr absl::string_view kDefaultResponseTimeout = "10s";
constexpr absl::string_view kDefaultRegisterExpires = "600s";
constexpr uint32_t kDefaultMaxCalls = 5000;
constexpr uint32_t kDefaultInboundRejectCode = 480;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsIpLiteral(const std::string& text, bool* ipv6) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    *ipv6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    *ipv6 = true;
    return true;
  }
  return false;
}

absl::StatusOr<absl::Duration> ParsePositiveDuration(absl::string_view field,
                                                     absl::string_view text,
                                                     absl::Duration max) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return Invalid(field, absl::StrCat("expected a positive duration such as \"30s\", got '",
                                       text, "'"));
  }
  if (d > max) return Invalid(field, absl::StrCat("must be at most ", absl::FormatDuration(max)));
  return d;
}

absl::Status ParseRtpPorts(absl::string_view text, uint16_t* min, uint16_t* max) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  uint32_t lo = 0, hi = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &lo) || !absl::SimpleAtoi(parts[1], &hi) ||
      lo < 1024 || hi > 65535 || lo + 2 > hi || lo % 2 != 0) {
    return Invalid("rtp_ports",
                   absl::StrCat("expected \"MIN-MAX\" with an even MIN >= 1024, MAX <= 65535 and "
                                "room for at least one port pair, got '",
                                text, "'"));
  }
  *min = static_cast<uint16_t>(lo);
  *max = static_cast<uint16_t>(hi);
  return absl::OkStatus();
}

}  // namespace

const char* TransportName(SipTransport transport) {
  switch (transport) {
    case SipTransport::kUdp: return "udp";
    case SipTransport::kTcp: return "tcp";
    case SipTransport::kTls: return "tls";
  }
  return "udp";
}

const char* CodecName(Codec codec) { return codec == Codec::kPcmu ? "PCMU" : "PCMA"; }

std::string HostPort::HostForUri() const { return is_ipv6 ? absl::StrCat("[", host, "]") : host; }

std::string HostPort::ForUri() const {
  return port == 0 ? HostForUri() : absl::StrCat(HostForUri(), ":", port);
}

std::string SipSettings::OutboundRoute() const {
  const HostPort& next = proxy ? *proxy : server;
  // libre adds ";lr" to every pre-loaded route itself.
  return absl::StrCat("sip:", next.ForUri(), ";transport=", TransportName(transport));
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  HostPort hp;
  absl::string_view port_text;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("unterminated '['");
    hp.host = std::string(text.substr(1, close - 1));
    absl::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return absl::InvalidArgumentError("expected ':' after ']'");
      port_text = after.substr(1);
    }
    bool v6 = false;
    if (!IsIpLiteral(hp.host, &v6) || !v6) {
      return absl::InvalidArgumentError(absl::StrCat("'", hp.host, "' is not an IPv6 address"));
    }
    hp.is_ipv6 = true;
  } else {
    const size_t colon = text.find(':');
    if (colon != absl::string_view::npos && text.find(':', colon + 1) != absl::string_view::npos) {
      return absl::InvalidArgumentError("write IPv6 addresses in brackets: [::1]:5060");
    }
    hp.host = std::string(text.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = text.substr(colon + 1);
  }
  if (hp.host.empty()) return absl::InvalidArgumentError("the host is empty");
  for (unsigned char c : hp.host) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != ':' && c != '_') {
      return absl::InvalidArgumentError(absl::StrCat("'", hp.host, "' is not a host name"));
    }
  }
  if (!port_text.empty() || absl::EndsWith(text, ":")) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port '", port_text, "'"));
    }
    hp.port = static_cast<uint16_t>(port);
  }
  return hp;
}

absl::Status ValidateSipConfig(SipAdapterConfig& config) {
  if (config.transport().empty()) config.set_transport("udp");
  if (config.media().empty()) config.set_media("rtp");
  if (config.codecs().empty()) {
    config.add_codecs("PCMU");
    config.add_codecs("PCMA");
  }
  if (!config.has_telephone_event()) config.set_telephone_event(true);
  if (config.rtp_ports().empty()) config.set_rtp_ports(std::string(kDefaultRtpPorts));
  if (config.ring_timeout().empty()) config.set_ring_timeout(std::string(kDefaultRingTimeout));
  if (config.response_timeout().empty()) {
    config.set_response_timeout(std::string(kDefaultResponseTimeout));
  }
  if (config.register_expires().empty()) {
    config.set_register_expires(std::string(kDefaultRegisterExpires));
  }
  if (config.max_calls() == 0) config.set_max_calls(kDefaultMaxCalls);
  if (config.inbound().reject_code() == 0) {
    config.mutable_inbound()->set_reject_code(kDefaultInboundRejectCode);
  }
  absl::StatusOr<SipSettings> settings = ParseSipConfig(config);
  if (!settings.ok()) return settings.status();
  if (!settings->prompt_wav.empty()) {
    absl::StatusOr<std::shared_ptr<const WavPrompt>> prompt = LoadWavPrompt(settings->prompt_wav);
    if (!prompt.ok()) return prompt.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<SipSettings> ParseSipConfig(const SipAdapterConfig& config) {
  SipSettings s;
  if (config.server().empty()) {
    return Invalid("server", "is required (the SIP server's host[:port], e.g. pbx.example.com)");
  }
  absl::StatusOr<HostPort> server = ParseHostPort(config.server());
  if (!server.ok()) return Invalid("server", server.status().message());
  s.server = *server;
  if (!config.proxy().empty()) {
    absl::StatusOr<HostPort> proxy = ParseHostPort(config.proxy());
    if (!proxy.ok()) return Invalid("proxy", proxy.status().message());
    s.proxy = *proxy;
  }

  const std::string transport = absl::AsciiStrToLower(config.transport());
  if (transport.empty() || transport == "udp") {
    s.transport = SipTransport::kUdp;
  } else if (transport == "tcp") {
    s.transport = SipTransport::kTcp;
  } else if (transport == "tls") {
    s.transport = SipTransport::kTls;
  } else {
    return Invalid("transport", absl::StrCat("must be udp, tcp or tls, got '", config.transport(),
                                             "'"));
  }

  if (!config.local_address().empty()) {
    bool v6 = false;
    if (!IsIpLiteral(config.local_address(), &v6)) {
      return Invalid("local_address",
                     absl::StrCat("must be an IP address, got '", config.local_address(), "'"));
    }
    s.local_address = config.local_address();
  }
  if (config.local_port() > 65535) return Invalid("local_port", "must be 0-65535");
  s.local_port = static_cast<uint16_t>(config.local_port());

  s.uri_template = config.uri_template().empty()
                       ? absl::StrCat("sip:{number}@", s.server.ForUri())
                       : config.uri_template();
  if (absl::Status st = ValidateUriTemplate(s.uri_template); !st.ok()) return st;

  s.username = config.username();
  s.password_file = config.password_file();
  if (!s.password_file.empty() && s.username.empty()) {
    return Invalid("username", "is required when password_file is set");
  }
  if (config.register_() && s.username.empty()) {
    return Invalid("username", "is required when register is true");
  }
  s.register_ = config.register_();

  s.from_display_name = config.from().display_name();
  for (unsigned char c : s.from_display_name) {
    if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) {
      return Invalid("from.display_name", "must not contain quotes, backslashes or controls");
    }
  }
  s.from_uri = config.from().uri().empty()
                   ? absl::StrCat("sip:", s.username.empty() ? "voipd" : s.username, "@",
                                  s.server.HostForUri())
                   : config.from().uri();
  if (!absl::StartsWithIgnoreCase(s.from_uri, "sip:") &&
      !absl::StartsWithIgnoreCase(s.from_uri, "sips:")) {
    return Invalid("from.uri", absl::StrCat("must be a sip: URI, got '", s.from_uri, "'"));
  }

  const auto& codecs = config.codecs();
  for (int i = 0; i < codecs.size(); ++i) {
    const std::string name = absl::AsciiStrToUpper(codecs[i]);
    Codec codec;
    if (name == "PCMU") {
      codec = Codec::kPcmu;
    } else if (name == "PCMA") {
      codec = Codec::kPcma;
    } else {
      return Invalid(absl::StrCat("codecs[", i, "]"),
                     absl::StrCat("must be PCMU or PCMA, got '", codecs[i], "'"));
    }
    for (Codec seen : s.codecs) {
      if (seen == codec) return Invalid(absl::StrCat("codecs[", i, "]"), "listed twice");
    }
    s.codecs.push_back(codec);
  }
  if (s.codecs.empty()) s.codecs = {Codec::kPcmu, Codec::kPcma};
  s.telephone_event = !config.has_telephone_event() || config.telephone_event();

  if (absl::Status st = ParseRtpPorts(
          config.rtp_ports().empty() ? kDefaultRtpPorts : config.rtp_ports(), &s.rtp_min,
          &s.rtp_max);
      !st.ok()) {
    return st;
  }

  absl::StatusOr<absl::Duration> d = ParsePositiveDuration(
      "ring_timeout", config.ring_timeout().empty() ? kDefaultRingTimeout : config.ring_timeout(),
      absl::Hours(1));
  if (!d.ok()) return d.status();
  s.ring_timeout = *d;
  d = ParsePositiveDuration(
      "response_timeout",
      config.response_timeout().empty() ? kDefaultResponseTimeout : config.response_timeout(),
      absl::Minutes(5));
  if (!d.ok()) return d.status();
  s.response_timeout = *d;
  d = ParsePositiveDuration("register_expires",
                            config.register_expires().empty() ? kDefaultRegisterExpires
                                                              : config.register_expires(),
                            absl::Hours(24));
  if (!d.ok()) return d.status();
  if (*d < absl::Seconds(2)) return Invalid("register_expires", "must be at least 2s");
  s.register_expires = *d;

  s.prompt_wav = config.prompt_wav();
  s.prompt_loop = config.prompt_loop();

  const std::string media = absl::AsciiStrToLower(config.media());
  if (media.empty() || media == "rtp") {
    s.media = MediaMode::kRtp;
  } else if (media == "none") {
    s.media = MediaMode::kNone;
  } else {
    return Invalid("media", absl::StrCat("must be rtp or none, got '", config.media(), "'"));
  }
  if (s.media == MediaMode::kNone && !s.prompt_wav.empty()) {
    return Invalid("prompt_wav", "needs media: rtp");
  }

  s.tls_ca_file = config.tls_ca_file();
  s.tls_server_name = config.tls_server_name();
  if (s.transport != SipTransport::kTls && (!s.tls_ca_file.empty() || !s.tls_server_name.empty())) {
    return Invalid(s.tls_ca_file.empty() ? "tls_server_name" : "tls_ca_file",
                   "only applies with transport: tls");
  }
  if (s.transport == SipTransport::kTls) {
    if (s.tls_ca_file.empty()) s.tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";
    if (s.tls_server_name.empty()) s.tls_server_name = (s.proxy ? *s.proxy : s.server).host;
  }
  s.max_calls = config.max_calls() == 0 ? kDefaultMaxCalls : config.max_calls();

  const auto& inbound = config.inbound();
  s.inbound.enabled = inbound.enabled();
  if (!inbound.answer_after().empty()) {
    absl::Duration after;
    if (!absl::ParseDuration(inbound.answer_after(), &after) || after < absl::ZeroDuration()) {
      return Invalid("inbound.answer_after",
                     absl::StrCat("expected a duration such as \"0s\" or \"2s\" (empty = never), "
                                  "got '",
                                  inbound.answer_after(), "'"));
    }
    if (after >= s.ring_timeout) {
      return Invalid("inbound.answer_after",
                     absl::StrCat("must be shorter than ring_timeout (",
                                  absl::FormatDuration(s.ring_timeout),
                                  "), or the call would never be answered"));
    }
    s.inbound.answer_after = after;
  }
  const uint32_t reject =
      inbound.reject_code() == 0 ? kDefaultInboundRejectCode : inbound.reject_code();
  if (reject < 400 || reject > 699) {
    return Invalid("inbound.reject_code",
                   absl::StrCat("must be a SIP failure status 400-699, got ", reject));
  }
  s.inbound.reject_code = static_cast<uint16_t>(reject);
  s.inbound.max_concurrent = inbound.max_concurrent();
  return s;
}

}  // namespace voipd::adapters::sip
