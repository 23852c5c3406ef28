// The sip adapter's settings: defaults and checks for SipAdapterConfig (the
// YAML), and the parsed form the rest of the adapter uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "voip/config/v1/sip.pb.h"

namespace voipd::adapters::sip {

enum class SipTransport { kUdp, kTcp, kTls };
enum class MediaMode { kRtp, kNone };
enum class Codec { kPcmu, kPcma };

const char* TransportName(SipTransport transport);  // "udp", "tcp", "tls"
const char* CodecName(Codec codec);                 // "PCMU", "PCMA"

struct HostPort {
  std::string host;   // name or IP literal, without brackets
  uint16_t port = 0;  // 0 = the transport's default
  bool is_ipv6 = false;

  // "host", "host:5080", "[::1]:5080": for URIs.
  std::string ForUri() const;
  // Host only, bracketed for IPv6.
  std::string HostForUri() const;
};

// SipInboundConfig, parsed.
struct SipInboundSettings {
  bool enabled = false;
  // nullopt: never answer by itself.
  std::optional<absl::Duration> answer_after;
  uint16_t reject_code = 480;  // while disabled
  uint32_t max_concurrent = 0;  // 0 = only max_calls
};

struct SipSettings {
  HostPort server;
  std::optional<HostPort> proxy;
  SipTransport transport = SipTransport::kUdp;
  std::string local_address;  // IP literal; empty = the default route's
  uint16_t local_port = 0;
  std::string uri_template;
  std::string username;
  std::string password_file;
  std::string from_display_name;
  std::string from_uri;
  std::vector<Codec> codecs;
  bool telephone_event = true;
  uint16_t rtp_min = 0;
  uint16_t rtp_max = 0;
  absl::Duration ring_timeout;
  absl::Duration response_timeout;
  absl::Duration register_expires;
  std::string prompt_wav;
  bool prompt_loop = false;
  bool register_ = false;
  MediaMode media = MediaMode::kRtp;
  std::string tls_ca_file;
  std::string tls_server_name;
  uint32_t max_calls = 0;
  SipInboundSettings inbound;

  // "sip:HOST:PORT;transport=T": where every request goes (the proxy, else
  // the server), as a pre-loaded loose Route.
  std::string OutboundRoute() const;
};

// Fills defaults into `config` and checks it. Errors are InvalidArgument and
// start with the offending field, e.g. "transport: must be udp, tcp or tls".
absl::Status ValidateSipConfig(voip::config::v1::SipAdapterConfig& config);

// The parsed form of a config that passed ValidateSipConfig (it re-checks, so
// it can also be used alone).
absl::StatusOr<SipSettings> ParseSipConfig(const voip::config::v1::SipAdapterConfig& config);

// "host", "host:port", "[v6]" or "[v6]:port".
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

}  // namespace voipd::adapters::sip
