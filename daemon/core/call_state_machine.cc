#include "daemon/core/call_state_machine.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "daemon/core/proto_time.h"

namespace voipd {
namespace {

using adapters::EndOutcome;
using adapters::ProviderEventKind;
using voip::v1::CallStatus;

CallStatus TerminalStatusFor(EndOutcome outcome, bool answered) {
  // Busy and unavailable describe a call that never connected. A provider
  // that reports them after answer (some do on odd hangups) really means the
  // call ended, so keep the history truthful.
  switch (outcome) {
    case EndOutcome::kFailed:       return voip::v1::CALL_STATUS_FAILED;
    case EndOutcome::kBusy:         return answered ? voip::v1::CALL_STATUS_DISCONNECTED
                                                    : voip::v1::CALL_STATUS_BUSY;
    case EndOutcome::kUnavailable:  return answered ? voip::v1::CALL_STATUS_DISCONNECTED
                                                    : voip::v1::CALL_STATUS_UNAVAILABLE;
    case EndOutcome::kDisconnected: return voip::v1::CALL_STATUS_DISCONNECTED;
  }
  return voip::v1::CALL_STATUS_FAILED;
}

TransitionResult Reject(std::string why) {
  TransitionResult result;
  result.rejection = std::move(why);
  return result;
}

TransitionResult Duplicate(std::string why) {
  TransitionResult result = Reject(std::move(why));
  result.duplicate = true;
  return result;
}

TransitionResult Accept(voip::v1::CallEventType type, CallStatus previous) {
  TransitionResult result;
  result.accepted = true;
  result.event_type = type;
  result.previous_status = previous;
  return result;
}

}  // namespace

bool IsTerminal(CallStatus status) {
  return status == voip::v1::CALL_STATUS_DISCONNECTED || status == voip::v1::CALL_STATUS_FAILED ||
         status == voip::v1::CALL_STATUS_BUSY || status == voip::v1::CALL_STATUS_UNAVAILABLE;
}

bool IsEstablished(CallStatus status) {
  return status == voip::v1::CALL_STATUS_CONNECTED || status == voip::v1::CALL_STATUS_ON_HOLD;
}

std::string StatusName(CallStatus status) {
  if (status == voip::v1::CALL_STATUS_UNSPECIFIED) return "unspecified";
  std::string name = voip::v1::CallStatus_Name(status);
  constexpr absl::string_view kPrefix = "CALL_STATUS_";
  if (absl::string_view(name).substr(0, kPrefix.size()) == kPrefix) name.erase(0, kPrefix.size());
  return absl::AsciiStrToLower(name);
}

TransitionResult ApplyProviderEvent(voip::v1::CallSession& session,
                                    const adapters::ProviderEvent& event, absl::Time now) {
  const CallStatus from = session.status();
  if (IsTerminal(from)) {
    return Reject(absl::StrCat("call already ended (", StatusName(from), ")"));
  }
  auto set_status = [&](CallStatus to) {
    session.set_status(to);
    if (!event.provider_call_id.empty() && session.provider_call_id().empty()) {
      session.set_provider_call_id(event.provider_call_id);
    }
    return Accept(voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED, from);
  };

  switch (event.kind) {
    case ProviderEventKind::kRinging:
      if (from == voip::v1::CALL_STATUS_INITIATING) return set_status(voip::v1::CALL_STATUS_RINGING);
      if (from == voip::v1::CALL_STATUS_RINGING) return Duplicate("duplicate ringing");
      return Reject(absl::StrCat("ringing while ", StatusName(from)));

    case ProviderEventKind::kAnswered:
      if (from == voip::v1::CALL_STATUS_INITIATING || from == voip::v1::CALL_STATUS_RINGING) {
        *session.mutable_answered_at() = ToProtoTimestamp(now);
        return set_status(voip::v1::CALL_STATUS_CONNECTED);
      }
      return Reject(absl::StrCat("answered while ", StatusName(from)));

    case ProviderEventKind::kHeld:
      if (from == voip::v1::CALL_STATUS_CONNECTED) {
        session.set_on_hold(true);
        return set_status(voip::v1::CALL_STATUS_ON_HOLD);
      }
      if (from == voip::v1::CALL_STATUS_ON_HOLD) return Duplicate("already on hold");
      return Reject(absl::StrCat("held while ", StatusName(from)));

    case ProviderEventKind::kResumed:
      if (from == voip::v1::CALL_STATUS_ON_HOLD) {
        session.set_on_hold(false);
        return set_status(voip::v1::CALL_STATUS_CONNECTED);
      }
      if (from == voip::v1::CALL_STATUS_CONNECTED) return Duplicate("already resumed");
      return Reject(absl::StrCat("resumed while ", StatusName(from)));

    case ProviderEventKind::kMuted:
    case ProviderEventKind::kUnmuted: {
      const bool mute = event.kind == ProviderEventKind::kMuted;
      if (!IsEstablished(from)) {
        return Reject(absl::StrCat(mute ? "muted" : "unmuted", " while ", StatusName(from)));
      }
      if (session.muted() == mute) return Duplicate(mute ? "already muted" : "already unmuted");
      session.set_muted(mute);
      return Accept(voip::v1::CALL_EVENT_TYPE_MUTE_CHANGED, from);
    }

    case ProviderEventKind::kEnded: {
      const bool answered = session.has_answered_at();
      // An ended call has no media to hold or mute: stale flags on the final
      // snapshot would show a finished call as held or muted in UIs.
      session.set_on_hold(false);
      session.set_muted(false);
      *session.mutable_ended_at() = ToProtoTimestamp(now);
      auto* reason = session.mutable_end_reason();
      reason->set_error_code(event.error_code);
      reason->set_source(event.source);
      reason->set_message(event.message);
      *reason->mutable_provider_cause() = event.cause;
      return set_status(TerminalStatusFor(event.outcome, answered));
    }
  }
  return Reject("unknown event kind");
}

}  // namespace voipd
