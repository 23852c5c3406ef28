#include "clients/voipctl/human_format.h"

#include <ctime>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "clients/voipctl/call_status_names.h"

namespace voipd::voipctl {
namespace {

const char* YesNo(bool value) { return value ? "yes" : "no"; }

// Free text from the daemon, quoted and escaped so that it stays on one line
// and cannot be mistaken for the key=value fields around it.
std::string Quoted(const std::string& text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

// The callee as dialled when the daemon normalised it, else as typed.
const std::string& Callee(const voip::v1::CallSession& session) {
  return session.to_normalized().empty() ? session.to().number() : session.to_normalized();
}

// " ended_by=remote error=PROVIDER_ERROR reason=\"...\"" for ended calls.
std::string EndReasonSuffix(const voip::v1::CallSession& session) {
  if (!session.has_end_reason()) return "";
  const voip::v1::EndReason& reason = session.end_reason();
  std::string out;
  if (reason.source() != voip::v1::HANGUP_SOURCE_UNSPECIFIED) {
    absl::StrAppend(&out, " ended_by=",
                    absl::AsciiStrToLower(absl::StripPrefix(
                        voip::v1::HangupSource_Name(reason.source()), "HANGUP_SOURCE_")));
  }
  if (reason.error_code() != voip::v1::ERROR_CODE_UNSPECIFIED) {
    absl::StrAppend(&out, " error=", voip::v1::ErrorCode_Name(reason.error_code()));
  }
  if (!reason.message().empty()) {
    absl::StrAppend(&out, " reason=", Quoted(reason.message()));
  }
  return out;
}

// " labels=a=1,b=2", sorted because proto maps have no order.
std::string LabelsSuffix(const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.empty()) return "";
  const std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  return absl::StrCat(" labels=", absl::StrJoin(sorted, ",", absl::PairFormatter("=")));
}

std::string HealthName(voip::v1::HealthState state) {
  const std::string name = voip::v1::HealthState_Name(state);
  if (name.empty()) return "unknown";
  return absl::AsciiStrToLower(absl::StripPrefix(name, "HEALTH_STATE_"));
}

}  // namespace

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(time.seconds());
  std::tm utc{};
  if (gmtime_r(&seconds, &utc) == nullptr) return "-";
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &utc);
  return absl::StrFormat("%s.%03dZ", date, time.nanos() / 1000000);
}

std::string FormatSession(const voip::v1::CallSession& session) {
  return absl::StrCat(session.session_id(), "  ", CallStatusName(session.status()), "  ",
                      session.system_name().empty() ? "-" : session.system_name(), "  ",
                      Callee(session), "  on_hold=", YesNo(session.on_hold()),
                      " muted=", YesNo(session.muted()), EndReasonSuffix(session),
                      LabelsSuffix(session.labels()));
}

std::string FormatEvent(const voip::v1::CallEvent& event) {
  const voip::v1::CallSession& session = event.session();
  std::string out = absl::StrCat("#", event.sequence(), " ", FormatTimestamp(event.time()), " ",
                                 session.session_id(), " ", CallStatusName(session.status()));
  switch (event.type()) {
    case voip::v1::CALL_EVENT_TYPE_SNAPSHOT:
      absl::StrAppend(&out, " (snapshot) on_hold=", YesNo(session.on_hold()),
                      " muted=", YesNo(session.muted()));
      break;
    case voip::v1::CALL_EVENT_TYPE_MUTE_CHANGED:
      absl::StrAppend(&out, " muted=", YesNo(session.muted()));
      break;
    default:
      if (event.previous_status() != voip::v1::CALL_STATUS_UNSPECIFIED) {
        absl::StrAppend(&out, " (was ", CallStatusName(event.previous_status()), ")");
      }
      break;
  }
  absl::StrAppend(&out, EndReasonSuffix(session));
  return out;
}

std::string FormatSystem(const voip::v1::SystemCapabilities& system) {
  std::vector<std::string> ops;
  if (system.can_end()) ops.push_back("end");
  if (system.can_hold()) ops.push_back("hold");
  if (system.can_mute()) ops.push_back("mute");
  std::vector<std::string> numbers = {"e164"};
  if (system.accepts_sip_uri()) numbers.push_back("sip_uri");
  if (system.accepts_extension()) numbers.push_back("extension");
  std::string health = HealthName(system.health().state());
  if (!system.health().message().empty()) {
    absl::StrAppend(&health, " ", Quoted(system.health().message()));
  }
  return absl::StrCat(
      system.name(), "  type=", system.type(), "  ", system.is_default() ? "default" : "-", "  ",
      health, "  ops=", ops.empty() ? "none" : absl::StrJoin(ops, ","),
      "  numbers=", absl::StrJoin(numbers, ","), "  active=", system.active_calls());
}

std::string FormatError(const RpcError& error) {
  const std::string& message = error.voip_error && !error.voip_error->message().empty()
                                   ? error.voip_error->message()
                                   : error.message;
  std::string out = absl::StrCat("error: ", error.CodeName());
  if (!message.empty()) absl::StrAppend(&out, ": ", message);
  if (!error.voip_error) return out;
  const voip::v1::VoipError& voip_error = *error.voip_error;
  std::vector<std::string> context;
  if (!voip_error.field().empty()) context.push_back("field=" + voip_error.field());
  if (!voip_error.system_name().empty()) context.push_back("system=" + voip_error.system_name());
  if (!voip_error.session_id().empty()) context.push_back("session=" + voip_error.session_id());
  const std::map<std::string, std::string> details(voip_error.details().begin(),
                                                   voip_error.details().end());
  for (const auto& [key, value] : details) context.push_back(absl::StrCat(key, "=", value));
  const voip::v1::ProviderCause& cause = voip_error.provider_cause();
  if (cause.sip_code() != 0) {
    context.push_back(absl::StrCat("sip=", cause.sip_code(), cause.sip_reason().empty() ? "" : " ",
                                   cause.sip_reason()));
  }
  if (cause.q850_cause() != 0) context.push_back(absl::StrCat("q850=", cause.q850_cause()));
  if (!cause.provider_status().empty()) {
    context.push_back("provider_status=" + cause.provider_status());
  }
  if (!cause.provider_code().empty()) context.push_back("provider_code=" + cause.provider_code());
  if (!context.empty()) absl::StrAppend(&out, " (", absl::StrJoin(context, ", "), ")");
  return out;
}

}  // namespace voipd::voipctl
