// Twilio's CallStatus values mapped onto voipd's provider-neutral facts.
//
//   queued, initiated -> initiating      busy      -> ended busy
//   ringing           -> ringing         no-answer -> ended unavailable
//   in-progress       -> connected       failed    -> ended failed
//   completed         -> ended (disconnected)
//   canceled          -> ended (disconnected)
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "adapters/api/provider_event.h"

namespace voipd::adapters::twilio {

// How far a call has got, in the only order it may move.
enum class CallPhase { kInitiating = 0, kRinging = 1, kConnected = 2, kEnded = 3 };

struct StatusMapping {
  CallPhase phase = CallPhase::kInitiating;
  EndOutcome outcome = EndOutcome::kDisconnected;  // meaningful for kEnded
};

// nullopt for a value Twilio may add in the future: ignored, never guessed.
std::optional<StatusMapping> MapCallStatus(absl::string_view call_status);

// Who ended the call, for a terminal status. `end_requested`: voipd asked
// Twilio to cancel or hang up this call.
voip::v1::HangupSource HangupSourceFor(absl::string_view call_status, bool end_requested);

// A short human sentence for the end reason ("the far end is busy").
std::string EndMessageFor(absl::string_view call_status);

}  // namespace voipd::adapters::twilio
