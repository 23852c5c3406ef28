// Validation and defaults of TwilioAdapterConfig, and the parsed form the
// adapter runs on (durations as absl::Duration, URLs without a trailing '/').
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "voip/config/v1/twilio.pb.h"

namespace voipd::adapters::twilio {

struct TwilioSettings {
  std::string account_sid_file;
  std::string auth_token_file;
  std::string api_key_sid_file;
  std::string api_key_secret_file;

  std::string base_url;  // "https://api.twilio.com"
  bool allow_insecure_http = false;
  std::string default_from;
  absl::Duration default_ring_timeout;

  bool webhooks_enabled = false;
  std::string webhook_listen;      // "127.0.0.1:8089"
  std::string public_url;          // "https://voipd.example.com/twilio"
  uint32_t max_body_bytes = 0;
  absl::Duration webhook_read_timeout;
  uint32_t max_connections = 0;

  absl::Duration poll_interval;
  absl::Duration callback_timeout;

  absl::Duration connect_timeout;
  absl::Duration request_timeout;
  int max_attempts = 0;
  absl::Duration retry_budget;
  absl::Duration retry_initial_backoff;

  std::string conference_prefix;
  std::string hold_url;
  std::string agent_endpoint;

  // Inbound calls on <public_url>/voice/incoming.
  bool inbound_enabled = false;
  std::string inbound_greeting;
  std::string inbound_agent_endpoint;  // inbound.agent_endpoint, else agent_endpoint
};

// Fills defaults into `config` and checks it. InvalidArgument whose message
// starts with the offending field ("webhook.public_url: ...").
absl::Status ValidateTwilioConfig(voip::config::v1::TwilioAdapterConfig& config);

// The settings of a config that passed ValidateTwilioConfig.
TwilioSettings SettingsFromConfig(const voip::config::v1::TwilioAdapterConfig& config);

// True for 127.0.0.0/8, ::1 and "localhost": traffic that never leaves the
// machine, where plain http is acceptable.
bool IsLoopbackHost(absl::string_view host);

// Splits "http(s)://host[:port][/path]". False for anything else (other
// schemes, userinfo, query or fragment).
bool ParseHttpUrl(absl::string_view url, std::string* scheme, std::string* host);

}  // namespace voipd::adapters::twilio
