// What an adapter tells the core about a call: a provider-neutral fact
// ("the far end is ringing", "the call ended busy"), never a state. The core's
// CallStateMachine alone decides whether the fact changes the call's status.
#pragma once

#include <string>

#include "voip/v1/call.pb.h"
#include "voip/v1/errors.pb.h"

namespace voipd::adapters {

enum class ProviderEventKind {
  kRinging,    // SIP 180/183, AMI Newstate Ringing, Twilio "ringing"
  kAnswered,   // SIP 200, AMI target answered, Twilio "in-progress"
  kHeld,       // hold confirmed by the far end / provider
  kResumed,    // resume confirmed
  kMuted,      // mute confirmed
  kUnmuted,    // unmute confirmed
  kEnded,      // the call is over; `outcome` says how
};

// How an ended call ended. Mapped 1:1 to a terminal CallStatus by the core.
enum class EndOutcome {
  kDisconnected,  // normal hangup by either side, or cancelled
  kBusy,
  kUnavailable,   // no answer, unreachable, not found
  kFailed,        // anything else that went wrong
};

struct ProviderEvent {
  std::string session_id;
  ProviderEventKind kind = ProviderEventKind::kRinging;
  // Only for kAnswered/kRinging when the provider assigns its id late.
  std::string provider_call_id;
  // Only for kEnded.
  EndOutcome outcome = EndOutcome::kDisconnected;
  voip::v1::HangupSource source = voip::v1::HANGUP_SOURCE_REMOTE;
  voip::v1::ErrorCode error_code = voip::v1::ERROR_CODE_UNSPECIFIED;
  std::string message;
  voip::v1::ProviderCause cause;
};

// Receives provider events. Thread-safe; may be called from any thread, but
// an adapter must report one call's events in the order they happened.
class CallEventSink {
 public:
  virtual ~CallEventSink() = default;
  virtual void OnProviderEvent(ProviderEvent event) = 0;
};

}  // namespace voipd::adapters
