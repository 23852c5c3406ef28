// The one place that judges call state transitions. Adapters report facts
// (ProviderEvents); this decides whether a fact changes the call, and how.
//
//   INITIATING ─► RINGING ─► CONNECTED ◄─► ON_HOLD
//        │           │           │            │
//        └───────────┴───────────┴────────────┴─► one terminal state:
//                   DISCONNECTED | FAILED | BUSY | UNAVAILABLE
//
// Duplicates (ringing twice, held while on hold) and illegal facts
// (ringing after answer, anything after the end) are rejected without
// touching the session, so every call has exactly one terminal event.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "adapters/api/provider_event.h"
#include "voip/v1/call.pb.h"

namespace voipd {

struct TransitionResult {
  bool accepted = false;
  // Why it was rejected (for the log); empty when accepted.
  std::string rejection;
  // A rejected fact that only repeats what the call already shows (ringing
  // twice, held while on hold): normal with real providers, not worth a warning.
  bool duplicate = false;
  voip::v1::CallEventType event_type = voip::v1::CALL_EVENT_TYPE_UNSPECIFIED;
  voip::v1::CallStatus previous_status = voip::v1::CALL_STATUS_UNSPECIFIED;
};

bool IsTerminal(voip::v1::CallStatus status);
// CONNECTED or ON_HOLD: the states where hold and mute make sense.
bool IsEstablished(voip::v1::CallStatus status);
// Lower-case design name: "on_hold", "busy"...
std::string StatusName(voip::v1::CallStatus status);

// Applies `event` to `session` if legal, stamping answered/ended times with
// `now`. On rejection `session` is unchanged.
TransitionResult ApplyProviderEvent(voip::v1::CallSession& session,
                                    const adapters::ProviderEvent& event, absl::Time now);

}  // namespace voipd
