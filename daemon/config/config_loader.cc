#include "daemon/config/config_loader.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/api/registry.h"
#include "adapters/api/tcp_listener.h"
#include "daemon/config/yaml_nodes.h"
#include "daemon/config/yaml_to_proto.h"
#include "daemon/core/number_normalizer.h"
#include "daemon/logging.h"
#include "daemon/security/security_config.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace voipd {
namespace {

constexpr size_t kMaxEventWindow = 1000000;

// Parses "5s", "1h", "24h" (absl::ParseDuration); empty keeps `fallback`.
absl::Status ParseDurationField(const std::string& text, const std::string& source,
                                const YAML::Node& node, const std::string& field,
                                absl::Duration* out) {
  if (text.empty()) return absl::OkStatus();
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return InvalidSetting(
        source, node,
        absl::StrCat(field, ": '", text, "' is not a positive duration such as 5s, 10m, 24h"));
  }
  *out = d;
  return absl::OkStatus();
}

// history.retention: a duration ("720h"), whole days ("90d"), or "0" for
// no pruning.
absl::Status LoadHistorySettings(const voip::config::v1::HistoryConfig& history,
                                 const std::string& source, const YAML::Node& node,
                                 HistorySettings* out) {
  const std::string& retention = history.retention();
  if (retention == "0") {
    out->retention = absl::InfiniteDuration();
  } else if (!retention.empty()) {
    int64_t days = 0;
    absl::Duration d;
    if (retention.back() == 'd' &&
        absl::SimpleAtoi(absl::string_view(retention).substr(0, retention.size() - 1), &days) &&
        days > 0) {
      out->retention = absl::Hours(24 * days);
    } else if (absl::ParseDuration(retention, &d) && d > absl::ZeroDuration()) {
      out->retention = d;
    } else {
      return InvalidSetting(
          source, Child(node, "retention"),
          absl::StrCat("history.retention: '", retention,
                       "' is not a duration such as 90d, 720h, or 0 (keep forever)"));
    }
  }
  if (!history.synchronous().empty()) {
    if (history.synchronous() != "full" && history.synchronous() != "normal") {
      return InvalidSetting(
          source, Child(node, "synchronous"),
          absl::StrCat("history.synchronous: '", history.synchronous(), "' is not full or normal"));
    }
    out->synchronous_full = history.synchronous() == "full";
  }
  return absl::OkStatus();
}

std::string Fingerprint(const std::string& type, const google::protobuf::Message& config) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    config.SerializeToCodedStream(&out);
  }
  return absl::StrCat(type, "\n", bytes);
}

absl::StatusOr<SystemConfig> LoadSystem(const std::string& name, const YAML::Node& node,
                                        const std::string& source) {
  const std::string path = absl::StrCat("systems.", name);
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source, node), path, ": expected a mapping with a `type`"));
  }
  const YAML::Node type_node = node["type"];
  if (!type_node || !type_node.IsScalar() || type_node.Scalar().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(source, node), path, ".type: is required (one of: ",
        absl::StrJoin(adapters::AdapterRegistry::Names(), ", "), ")"));
  }
  SystemConfig system;
  system.name = name;
  system.where = Where(source, node);
  system.type = type_node.Scalar();
  system.factory = adapters::AdapterRegistry::Find(system.type);
  if (system.factory == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(source, type_node), path, ".type: unknown adapter type '", system.type,
        "' (compiled in: ", absl::StrJoin(adapters::AdapterRegistry::Names(), ", "), ")"));
  }
  std::unique_ptr<google::protobuf::Message> config = system.factory->CreateEmptyConfig();
  if (absl::Status s = YamlToProto(node, {source, path}, config.get(), {"type"}); !s.ok()) {
    return s;
  }
  if (absl::Status s = system.factory->Validate(*config); !s.ok()) {
    // Factories start the message with the field, relative to their config:
    // point at that key's line when it was given.
    const std::string message(s.message());
    YAML::Node at = Child(node, message.substr(0, message.find(':')));
    return InvalidSetting(source, at.IsDefined() ? at : node, absl::StrCat(path, ".", message));
  }
  system.fingerprint = Fingerprint(system.type, *config);
  system.config = std::move(config);
  return system;
}

}  // namespace

absl::StatusOr<DaemonSettings> LoadConfigText(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (!root.IsMap()) {
    return InvalidSetting(source, root,
                          "expected a YAML mapping of settings (see config/voipd.example.yaml)");
  }

  voip::config::v1::DaemonConfig proto;
  if (absl::Status s = YamlToProto(root, {source, ""}, &proto, {"systems"}); !s.ok()) return s;

  DaemonSettings settings;
  settings.source = source;

  const YAML::Node systems = root["systems"];
  if (!systems || systems.IsNull() || (systems.IsMap() && systems.size() == 0)) {
    return InvalidSetting(source, systems,
                          "systems: at least one system is required, e.g. "
                          "`systems: { sandbox: { type: sandbox } }`");
  }
  if (!systems.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source, systems), "systems: expected a mapping of name to settings"));
  }
  std::set<std::string> seen;
  for (const auto& kv : systems) {
    const std::string name = kv.first.Scalar();
    // yaml-cpp keeps duplicate keys; a silently shadowed system is a trap.
    if (!seen.insert(name).second) {
      return InvalidSetting(source, kv.first, absl::StrCat("systems.", name, ": defined twice"));
    }
    if (name.empty() || name.size() > 64 ||
        !std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
        })) {
      return absl::InvalidArgumentError(absl::StrCat(
          Where(source, kv.first), "systems.", name,
          ": a system name is 1-64 letters, digits, '-' or '_'"));
    }
    absl::StatusOr<SystemConfig> system = LoadSystem(name, kv.second, source);
    if (!system.ok()) return system.status();
    settings.systems.push_back(std::move(*system));
  }
  auto configured = [&](const std::string& name) {
    for (const auto& s : settings.systems) {
      if (s.name == name) return true;
    }
    return false;
  };

  settings.listen.assign(proto.listen().begin(), proto.listen().end());
  if (settings.listen.empty()) settings.listen.push_back("127.0.0.1:50051");
  for (size_t i = 0; i < settings.listen.size(); ++i) {
    const std::string field = absl::StrCat("listen[", i, "]");
    if (settings.listen[i].empty()) {
      return InvalidSetting(source, Item(Child(root, "listen"), i),
                            absl::StrCat(field, ": is empty"));
    }
    if (absl::Status s = adapters::CheckListenAddress(settings.listen[i], /*allow_unix=*/true);
        !s.ok()) {
      return InvalidSetting(source, Item(Child(root, "listen"), i),
                            absl::StrCat(field, ": ", s.message()));
    }
  }

  settings.default_region = proto.default_region().empty() ? "US" : proto.default_region();
  if (!IsKnownRegion(settings.default_region)) {
    return InvalidSetting(source, Child(root, "default_region"),
                          absl::StrCat("default_region: '", settings.default_region,
                                       "' is not an ISO 3166 region such as US or GB"));
  }

  settings.default_system = proto.default_system();
  if (settings.default_system.empty() && settings.systems.size() == 1) {
    settings.default_system = settings.systems.front().name;
  }
  if (!settings.default_system.empty() && !configured(settings.default_system)) {
    return InvalidSetting(source, Child(root, "default_system"),
                          absl::StrCat("default_system: '", settings.default_system,
                                       "' is not one of the configured systems"));
  }

  for (int i = 0; i < proto.routes_size(); ++i) {
    const auto& r = proto.routes(i);
    const std::string field = absl::StrCat("routes[", i, "]");
    const YAML::Node rule = Item(Child(root, "routes"), i);
    if (r.prefix().empty() == r.country().empty()) {
      return InvalidSetting(source, rule,
                            absl::StrCat(field, ": give exactly one of `prefix` or `country`"));
    }
    if (!r.prefix().empty() &&
        (r.prefix()[0] != '+' || r.prefix().size() < 2 ||
         !std::all_of(r.prefix().begin() + 1, r.prefix().end(),
                      [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }))) {
      return InvalidSetting(
          source, Child(rule, "prefix"),
          absl::StrCat(field, ".prefix: '", r.prefix(), "' must be '+' and digits, e.g. +44"));
    }
    if (!r.country().empty() && !IsKnownRegion(r.country())) {
      return InvalidSetting(source, Child(rule, "country"),
                            absl::StrCat(field, ".country: '", r.country(),
                                         "' is not an ISO 3166 region such as GB"));
    }
    if (!configured(r.system())) {
      return InvalidSetting(
          source, Child(rule, "system"),
          absl::StrCat(field, ".system: '", r.system(), "' is not one of the configured systems"));
    }
    settings.routes.push_back(RouteRule{r.prefix(), r.country(), r.system()});
  }

  if (proto.events().window() > 0) settings.event_window = proto.events().window();
  if (settings.event_window > kMaxEventWindow) {
    return InvalidSetting(source, Child(Child(root, "events"), "window"),
                          absl::StrCat("events.window: at most ", kMaxEventWindow));
  }
  settings.subscriber_max_lag = proto.events().subscriber_max_lag() > 0
                                    ? proto.events().subscriber_max_lag()
                                    : std::min<uint64_t>(4096, settings.event_window);
  if (settings.subscriber_max_lag > settings.event_window) {
    return InvalidSetting(source, Child(Child(root, "events"), "subscriber_max_lag"),
                          "events.subscriber_max_lag: must not exceed events.window");
  }

  const auto& calls = proto.calls();
  const YAML::Node calls_node = Child(root, "calls");
  if (absl::Status s = ParseDurationField(calls.ended_retention(), source, Child(calls_node, "ended_retention"), "calls.ended_retention",
                                          &settings.ended_retention);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseDurationField(calls.idempotency_ttl(), source, Child(calls_node, "idempotency_ttl"), "calls.idempotency_ttl",
                                          &settings.idempotency_ttl);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseDurationField(calls.end_call_timeout(), source, Child(calls_node, "end_call_timeout"),
                                          "calls.end_call_timeout", &settings.end_call_timeout);
      !s.ok()) {
    return s;
  }
  if (calls.max_ended_calls() > 0) settings.max_ended_calls = calls.max_ended_calls();
  if (calls.idempotency_max_keys() > 0) settings.idempotency_max_keys = calls.idempotency_max_keys();

  if (proto.shutdown().has_end_active_calls()) {
    settings.shutdown_end_active_calls = proto.shutdown().end_active_calls();
  }
  if (absl::Status s = ParseDurationField(proto.shutdown().grace(), source, Child(Child(root, "shutdown"), "grace"), "shutdown.grace",
                                          &settings.shutdown_grace);
      !s.ok()) {
    return s;
  }

  if (!proto.log_level().empty()) {
    LogLevel level;
    if (!ParseLogLevel(proto.log_level(), &level)) {
      return InvalidSetting(source, Child(root, "log_level"),
                            absl::StrCat("log_level: '", proto.log_level(),
                                         "' is not one of error, warn, info, debug"));
    }
    settings.log_level = proto.log_level();
  }
  if (!proto.log_format().empty()) {
    LogFormat format;
    if (!ParseLogFormat(proto.log_format(), &format)) {
      return InvalidSetting(source, Child(root, "log_format"),
                            absl::StrCat("log_format: '", proto.log_format(),
                                         "' is not text, json, journal or auto"));
    }
    settings.log_format = proto.log_format();
  }
  settings.metrics_listen = proto.metrics().listen();
  if (!settings.metrics_listen.empty()) {
    // Read as the metrics server will bind it: an IP (or localhost) and a port.
    if (absl::StatusOr<boost::asio::ip::tcp::endpoint> parsed =
            adapters::ParseIpListen(settings.metrics_listen, "metrics.listen");
        !parsed.ok()) {
      return InvalidSetting(source, Child(Child(root, "metrics"), "listen"),
                            std::string(parsed.status().message()));
    }
  }
  settings.state_dir = proto.state_dir();
  if (absl::Status s = LoadHistorySettings(proto.history(), source, Child(root, "history"),
                                           &settings.history);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = LoadSecuritySettings(proto, root, source, settings.listen,
                                            &settings.security);
      !s.ok()) {
    return s;
  }
  return settings;
}

absl::StatusOr<DaemonSettings> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open config file: ",
                                            std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return LoadConfigText(text.str(), path);
}

}  // namespace voipd
