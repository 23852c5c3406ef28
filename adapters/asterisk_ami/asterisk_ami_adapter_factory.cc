// Registers the `asterisk-ami` type: fills the config's defaults, checks it
// (errors start with the offending field), and creates the adapter.
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/registry.h"
#include "adapters/asterisk_ami/asterisk_ami_adapter.h"

namespace voipd::adapters::asterisk_ami {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// Rejects a typo such as {tagret} at start-up rather than dialling it.
absl::Status CheckTemplate(absl::string_view field, absl::string_view pattern) {
  size_t pos = 0;
  while ((pos = pattern.find('{', pos)) != absl::string_view::npos) {
    const size_t end = pattern.find('}', pos);
    if (end == absl::string_view::npos) return Invalid(field, "unclosed '{'");
    const absl::string_view name = pattern.substr(pos + 1, end - pos - 1);
    if (name != "target" && name != "target_digits" && name != "from" && name != "session_id") {
      return Invalid(field, absl::StrCat("unknown placeholder {", name,
                                         "} (known: {target}, {target_digits}, {from}, "
                                         "{session_id})"));
    }
    pos = end + 1;
  }
  if (pattern.find_first_of("\r\n") != absl::string_view::npos) {
    return Invalid(field, "must be one line");
  }
  return absl::OkStatus();
}

// Sets a default for a zero duration and rejects negative ones.
absl::Status Seconds(absl::string_view field, double& value, double fallback) {
  if (value < 0) return Invalid(field, "must be >= 0");
  if (value == 0) value = fallback;
  return absl::OkStatus();
}

#define VOIPD_RETURN_IF_ERROR(expr)    \
  do {                                 \
    absl::Status _status = (expr);     \
    if (!_status.ok()) return _status; \
  } while (false)

class AsteriskAmiAdapterFactory final : public TypedAdapterFactory<Config> {
 public:
  std::string name() const override { return "asterisk-ami"; }

 protected:
  absl::Status ValidateTyped(Config& c) const override {
    if (c.host().empty()) return Invalid("host", "required (the PBX's AMI address)");
    if (c.port() > 65535) return Invalid("port", "must be <= 65535");
    if (c.port() == 0) c.set_port(c.tls().enabled() ? 5039 : 5038);
    if (c.username().empty()) return Invalid("username", "required (the manager.conf user)");
    if (c.secret_file().empty()) {
      return Invalid("secret_file", "required (a file holding the AMI secret)");
    }
    c.set_auth(absl::AsciiStrToLower(c.auth()));
    if (c.auth().empty()) c.set_auth("plaintext");
    if (c.auth() != "plaintext" && c.auth() != "md5") {
      return Invalid("auth", "must be \"plaintext\" or \"md5\"");
    }
    if (c.events().empty()) c.set_events("call");
    VOIPD_RETURN_IF_ERROR(CheckTemplate("events", c.events()));

    switch (c.mode_case()) {
      case Config::MODE_NOT_SET:
        return Invalid("click_to_call", "one of click_to_call or direct is required");
      case Config::kClickToCall: {
        auto& m = *c.mutable_click_to_call();
        if (m.agent_channel().empty()) m.set_agent_channel("PJSIP/{from}");
        if (m.context().empty()) {
          return Invalid("click_to_call.context",
                         "required (where the answered agent leg dials the target)");
        }
        if (m.exten().empty()) m.set_exten("{target}");
        if (m.priority() < 0) return Invalid("click_to_call.priority", "must be >= 1");
        if (m.priority() == 0) m.set_priority(1);
        double ring = m.agent_ring_timeout_seconds();
        VOIPD_RETURN_IF_ERROR(Seconds("click_to_call.agent_ring_timeout_seconds", ring, 30));
        m.set_agent_ring_timeout_seconds(ring);
        VOIPD_RETURN_IF_ERROR(CheckTemplate("click_to_call.agent_channel", m.agent_channel()));
        VOIPD_RETURN_IF_ERROR(CheckTemplate("click_to_call.context", m.context()));
        VOIPD_RETURN_IF_ERROR(CheckTemplate("click_to_call.exten", m.exten()));
        break;
      }
      case Config::kDirect: {
        auto& m = *c.mutable_direct();
        if (m.channel().empty()) {
          return Invalid("direct.channel",
                         "required (the target through a trunk, e.g. "
                         "\"PJSIP/{target_digits}@trunk\")");
        }
        if (m.application().empty() == m.context().empty()) {
          return Invalid("direct.application",
                         "give either application or context (where the answered call goes)");
        }
        if (!m.context().empty() && m.exten().empty()) m.set_exten("s");
        if (m.priority() < 0) return Invalid("direct.priority", "must be >= 1");
        if (m.priority() == 0) m.set_priority(1);
        VOIPD_RETURN_IF_ERROR(CheckTemplate("direct.channel", m.channel()));
        VOIPD_RETURN_IF_ERROR(CheckTemplate("direct.application_data", m.application_data()));
        VOIPD_RETURN_IF_ERROR(CheckTemplate("direct.context", m.context()));
        VOIPD_RETURN_IF_ERROR(CheckTemplate("direct.exten", m.exten()));
        break;
      }
    }
    VOIPD_RETURN_IF_ERROR(CheckTemplate("caller_id", c.caller_id()));
    if (c.channel_id_prefix().empty()) c.set_channel_id_prefix("voipd-");
    for (char ch : c.channel_id_prefix()) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' &&
          ch != '.') {
        return Invalid("channel_id_prefix", "only letters, digits, '-', '_' and '.'");
      }
    }
    if (c.channel_id_prefix().size() > 64) return Invalid("channel_id_prefix", "too long");

    if (c.has_hold()) {
      auto& h = *c.mutable_hold();
      if (h.context().empty()) return Invalid("hold.context", "required (plays music on hold)");
      if (h.exten().empty()) h.set_exten("s");
      if (h.priority() < 0) return Invalid("hold.priority", "must be >= 1");
      if (h.priority() == 0) h.set_priority(1);
      if (c.has_click_to_call()) {
        if (h.agent_context().empty()) {
          return Invalid("hold.agent_context",
                         "required in click_to_call mode (where the agent waits while the "
                         "other party is on hold)");
        }
        if (h.agent_exten().empty()) h.set_agent_exten("s");
        if (h.agent_priority() < 0) return Invalid("hold.agent_priority", "must be >= 1");
        if (h.agent_priority() == 0) h.set_agent_priority(1);
      } else {
        if (h.resume_context().empty()) {
          return Invalid("hold.resume_context",
                         "required in direct mode (where resume sends the call back)");
        }
        if (h.resume_exten().empty()) h.set_resume_exten("s");
        if (h.resume_priority() < 0) return Invalid("hold.resume_priority", "must be >= 1");
        if (h.resume_priority() == 0) h.set_resume_priority(1);
      }
      double confirm = h.confirm_timeout_seconds();
      VOIPD_RETURN_IF_ERROR(Seconds("hold.confirm_timeout_seconds", confirm, 5));
      h.set_confirm_timeout_seconds(confirm);
    }
    const std::string dir = absl::AsciiStrToLower(c.mute_direction());
    if (!dir.empty() && dir != "in" && dir != "out" && dir != "all") {
      return Invalid("mute_direction", "must be \"in\", \"out\" or \"all\" (or empty: no mute)");
    }
    c.set_mute_direction(dir);

    struct Timing {
      const char* field;
      double (Config::*get)() const;
      void (Config::*set)(double);
      double fallback;
    };
    const Timing timings[] = {
        {"default_ring_timeout_seconds", &Config::default_ring_timeout_seconds,
         &Config::set_default_ring_timeout_seconds, 30},
        {"connect_timeout_seconds", &Config::connect_timeout_seconds,
         &Config::set_connect_timeout_seconds, 5},
        {"keepalive_interval_seconds", &Config::keepalive_interval_seconds,
         &Config::set_keepalive_interval_seconds, 20},
        {"keepalive_timeout_seconds", &Config::keepalive_timeout_seconds,
         &Config::set_keepalive_timeout_seconds, 10},
        {"action_timeout_seconds", &Config::action_timeout_seconds,
         &Config::set_action_timeout_seconds, 10},
        {"reconnect_min_seconds", &Config::reconnect_min_seconds,
         &Config::set_reconnect_min_seconds, 0.5},
        {"reconnect_max_seconds", &Config::reconnect_max_seconds,
         &Config::set_reconnect_max_seconds, 30},
        {"end_settle_seconds", &Config::end_settle_seconds, &Config::set_end_settle_seconds, 0.5},
    };
    for (const Timing& t : timings) {
      double value = (c.*t.get)();
      VOIPD_RETURN_IF_ERROR(Seconds(t.field, value, t.fallback));
      (c.*t.set)(value);
    }
    if (c.reconnect_max_seconds() < c.reconnect_min_seconds()) {
      return Invalid("reconnect_max_seconds", "must be >= reconnect_min_seconds");
    }
    if (c.max_message_bytes() == 0) c.set_max_message_bytes(64 * 1024);
    if (c.max_message_bytes() < 1024 || c.max_message_bytes() > 16 * 1024 * 1024) {
      return Invalid("max_message_bytes", "must be between 1024 and 16777216");
    }
    for (int i = 0; i < c.inbound().contexts_size(); ++i) {
      const std::string& ctx = c.inbound().contexts(i);
      const std::string field = absl::StrCat("inbound.contexts[", i, "]");
      if (ctx.empty()) return Invalid(field, "must not be empty");
      if (ctx.find_first_of(" \t\r\n,") != std::string::npos) {
        return Invalid(field, "a dialplan context name (no spaces or commas)");
      }
    }
    if (c.tls().enabled() && c.tls().server_name().find_first_of(" \r\n") != std::string::npos) {
      return Invalid("tls.server_name", "must be a host name or address");
    }
    return absl::OkStatus();
  }

  absl::Status CheckFilesTyped(const Config& config, const SecretReader& secrets) const override {
    // The adapter reads it at every (re)connect; this is the same read.
    return CheckSecretFile(secrets, "secret_file", config.secret_file());
  }

  absl::StatusOr<AdapterPtr> CreateTyped(const Config& config,
                                         const AdapterContext& context) const override {
    if (context.io == nullptr) {
      return absl::FailedPreconditionError("asterisk-ami needs the daemon's io_context");
    }
    auto adapter = std::make_shared<AsteriskAmiAdapter>(config, context);
    adapter->Start();
    return adapter;
  }
};

REGISTER_ADAPTER(AsteriskAmiAdapterFactory);

}  // namespace
}  // namespace voipd::adapters::asterisk_ami
