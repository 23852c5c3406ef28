// Validated security settings, as loaded from voipd.yaml (and the token
// file). Plain data: the loader fills it, the Authorizer, CallLimiter and
// gRPC listener consume it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace voipd {

// Bit set of scopes (scopes.h).
using ScopeSet = uint32_t;

struct TokenSpec {
  std::string name;
  std::string sha256;  // 32 raw bytes, never the token
  ScopeSet scopes = 0;
  std::map<std::string, std::string> labels;
  uint32_t start_calls_per_minute = 0;  // 0 = unlimited
  uint32_t start_call_burst = 0;
  uint32_t max_concurrent_calls = 0;  // 0 = unlimited
};

struct TlsSettings {
  std::string cert_file;  // resolved paths; empty = plaintext
  std::string key_file;
  std::string client_ca_file;  // non-empty = mTLS
  absl::Duration refresh_interval = absl::Seconds(60);
  bool enabled() const { return !cert_file.empty(); }
};

struct UnixSocketSettings {
  int mode = -1;  // -1 = leave as created
  std::string group;
};

struct SecuritySettings {
  std::vector<TokenSpec> tokens;
  TlsSettings tls;
  UnixSocketSettings unix_socket;
  bool allow_insecure = false;
  uint32_t max_request_bytes = 64 * 1024;
  // True when clients must prove who they are (tokens or client certificates).
  bool authenticates() const { return !tokens.empty() || !tls.client_ca_file.empty(); }
};

}  // namespace voipd
