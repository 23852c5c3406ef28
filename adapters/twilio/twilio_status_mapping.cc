#include "adapters/twilio/twilio_status_mapping.h"

namespace voipd::adapters::twilio {

std::optional<StatusMapping> MapCallStatus(absl::string_view s) {
  if (s == "queued" || s == "initiated") return StatusMapping{CallPhase::kInitiating};
  if (s == "ringing") return StatusMapping{CallPhase::kRinging};
  if (s == "in-progress") return StatusMapping{CallPhase::kConnected};
  if (s == "completed" || s == "canceled") {
    return StatusMapping{CallPhase::kEnded, EndOutcome::kDisconnected};
  }
  if (s == "busy") return StatusMapping{CallPhase::kEnded, EndOutcome::kBusy};
  if (s == "no-answer") return StatusMapping{CallPhase::kEnded, EndOutcome::kUnavailable};
  if (s == "failed") return StatusMapping{CallPhase::kEnded, EndOutcome::kFailed};
  return std::nullopt;
}

voip::v1::HangupSource HangupSourceFor(absl::string_view s, bool end_requested) {
  if (s == "completed" || s == "canceled") {
    if (end_requested) return voip::v1::HANGUP_SOURCE_LOCAL;
    // Only the REST API cancels a call: someone other than this voipd did.
    return s == "canceled" ? voip::v1::HANGUP_SOURCE_SYSTEM : voip::v1::HANGUP_SOURCE_REMOTE;
  }
  // Busy and no-answer are the far end's doing (proto: HangupSource).
  if (s == "busy" || s == "no-answer") return voip::v1::HANGUP_SOURCE_REMOTE;
  return voip::v1::HANGUP_SOURCE_SYSTEM;  // failed: Twilio could not place it
}

std::string EndMessageFor(absl::string_view s) {
  if (s == "completed") return "the call was hung up";
  if (s == "canceled") return "the call was canceled before it was answered";
  if (s == "busy") return "the far end is busy";
  if (s == "no-answer") return "no answer before the ring timeout";
  if (s == "failed") return "Twilio could not place the call";
  return "the call ended";
}

}  // namespace voipd::adapters::twilio
