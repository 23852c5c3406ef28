// Reads voipd.yaml into a fully validated, defaulted configuration. Nothing
// is started here: the same loader serves start-up, SIGHUP reload (where a
// bad file must leave the running config untouched) and `voipd --check-config`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/api/adapter_factory.h"
#include "daemon/core/router.h"
#include "daemon/security/security_settings.h"
#include "google/protobuf/message.h"
#include "voip/config/v1/daemon.pb.h"

namespace voipd {

struct SystemConfig {
  std::string name;
  std::string type;
  const adapters::AdapterFactory* factory = nullptr;
  std::shared_ptr<const google::protobuf::Message> config;  // the adapter's typed config
  std::string fingerprint;  // type + deterministic serialization
  // "FILE:LINE: " of the system's settings, so that an error found when the
  // adapter is created (an unreadable secret, a port in use) points there
  // like a validation error does.
  std::string where;
};

struct HistorySettings {
  absl::Duration retention = absl::Hours(24 * 90);  // InfiniteDuration: never prune
  bool synchronous_full = true;
};

struct DaemonSettings {
  std::string source;  // file name, for messages
  std::vector<std::string> listen;
  std::string default_region;
  std::string default_system;
  std::vector<RouteRule> routes;
  std::vector<SystemConfig> systems;
  size_t event_window = 10000;
  uint64_t subscriber_max_lag = 4096;
  absl::Duration ended_retention = absl::Hours(1);
  size_t max_ended_calls = 10000;
  absl::Duration idempotency_ttl = absl::Hours(24);
  size_t idempotency_max_keys = 1000000;
  absl::Duration end_call_timeout = absl::Seconds(5);
  bool shutdown_end_active_calls = true;
  absl::Duration shutdown_grace = absl::Seconds(5);
  std::string log_level = "info";
  std::string log_format = "auto";  // text, json, journal or auto (logging.h)
  std::string metrics_listen;       // empty: no metrics endpoint
  SecuritySettings security;
  // Where voipd.db lives; empty = history in memory only. main.cc fills in
  // --state-dir and $STATE_DIRECTORY.
  std::string state_dir;
  HistorySettings history;
};

// The configuration used when no file exists at the default path: the
// sandbox simulator on 127.0.0.1:50051.
inline constexpr char kEmbeddedDefaultConfig[] = R"(listen: ["127.0.0.1:50051"]
default_region: US
default_system: sandbox
systems:
  sandbox: { type: sandbox }
)";

absl::StatusOr<DaemonSettings> LoadConfigFile(const std::string& path);
absl::StatusOr<DaemonSettings> LoadConfigText(const std::string& text, const std::string& source);

}  // namespace voipd
