#include "adapters/twilio/call_progress.h"

namespace voipd::adapters::twilio {

std::optional<absl::Time> ParseTwilioTimestamp(absl::string_view text) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S %z", text, &t, &error)) return t;
  return std::nullopt;
}

bool CallProgress::IsStale(const StatusReport& report) const {
  // SequenceNumber orders one call's callbacks exactly; Timestamp has only
  // second resolution, so it can prove a report older but never newer.
  if (report.sequence && last_sequence_) return *report.sequence <= *last_sequence_;
  if (report.timestamp && last_timestamp_) return *report.timestamp < *last_timestamp_;
  return false;
}

std::optional<ProviderEvent> CallProgress::Apply(const std::string& session_id,
                                                 const StatusReport& report, bool end_requested) {
  if (ended() || IsStale(report)) return std::nullopt;
  if (report.sequence) last_sequence_ = report.sequence;
  if (report.timestamp && (!last_timestamp_ || *report.timestamp > *last_timestamp_)) {
    last_timestamp_ = report.timestamp;
  }
  const std::optional<StatusMapping> mapping = MapCallStatus(report.call_status);
  // The phase rank is the final guard: polling results carry no sequence,
  // and a late "ringing" must never undo "in-progress".
  if (!mapping || mapping->phase <= phase_) return std::nullopt;
  phase_ = mapping->phase;

  ProviderEvent event;
  event.session_id = session_id;
  switch (mapping->phase) {
    case CallPhase::kInitiating:
      return std::nullopt;  // unreachable: never above the starting phase
    case CallPhase::kRinging:
      event.kind = ProviderEventKind::kRinging;
      return event;
    case CallPhase::kConnected:
      event.kind = ProviderEventKind::kAnswered;
      return event;
    case CallPhase::kEnded:
      break;
  }
  event.kind = ProviderEventKind::kEnded;
  event.outcome = mapping->outcome;
  event.source = HangupSourceFor(report.call_status, end_requested);
  event.error_code = mapping->outcome == EndOutcome::kFailed ? voip::v1::PROVIDER_ERROR
                                                             : voip::v1::ERROR_CODE_UNSPECIFIED;
  event.message = EndMessageFor(report.call_status);
  if (!report.error_message.empty()) event.message += ": " + report.error_message;
  event.cause.set_provider_status(report.call_status);
  event.cause.set_provider_code(report.error_code);
  event.cause.set_sip_code(report.sip_code);
  event.cause.set_text(report.error_message);
  return event;
}

CallPhase PhaseOfStoredStatus(voip::v1::CallStatus status) {
  switch (status) {
    case voip::v1::CALL_STATUS_RINGING:
      return CallPhase::kRinging;
    case voip::v1::CALL_STATUS_CONNECTED:
    case voip::v1::CALL_STATUS_ON_HOLD:
      return CallPhase::kConnected;
    case voip::v1::CALL_STATUS_DISCONNECTED:
    case voip::v1::CALL_STATUS_FAILED:
    case voip::v1::CALL_STATUS_BUSY:
    case voip::v1::CALL_STATUS_UNAVAILABLE:
      return CallPhase::kEnded;
    default:
      return CallPhase::kInitiating;
  }
}

ReadoptDecision DecideReadopt(const std::string& session_id, voip::v1::CallStatus stored,
                              absl::string_view twilio_status) {
  ReadoptDecision decision;
  const std::optional<StatusMapping> mapping = MapCallStatus(twilio_status);
  const CallPhase phase = PhaseOfStoredStatus(stored);
  if (!mapping || mapping->phase == CallPhase::kEnded || phase == CallPhase::kEnded) {
    return decision;
  }
  decision.alive = true;
  decision.progress.Restore(phase);
  StatusReport report;
  report.call_status = std::string(twilio_status);
  decision.event = decision.progress.Apply(session_id, report, /*end_requested=*/false);
  return decision;
}

}  // namespace voipd::adapters::twilio
