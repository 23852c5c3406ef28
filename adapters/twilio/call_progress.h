// Turns a stream of Twilio status reports for one call (webhooks, which may
// be duplicated, delayed or reordered, and polling results) into the
// ProviderEvents voipd reports: a call only moves forward, and it ends once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "adapters/api/provider_event.h"
#include "adapters/twilio/twilio_status_mapping.h"

namespace voipd::adapters::twilio {

// One status observation for a call.
struct StatusReport {
  std::string call_status;                // CallStatus / "status"
  std::optional<int64_t> sequence;        // SequenceNumber (callbacks only)
  std::optional<absl::Time> timestamp;    // Timestamp (callbacks only)
  std::string error_code;                 // ErrorCode, when Twilio sends one
  std::string error_message;              // ErrorMessage
  int sip_code = 0;                       // SipResponseCode
};

// Parses Twilio's RFC 2822 Timestamp ("Mon, 16 Aug 2010 03:45:01 +0000").
std::optional<absl::Time> ParseTwilioTimestamp(absl::string_view text);

class CallProgress {
 public:
  // The event this report adds, or nullopt when it is stale (an older
  // SequenceNumber or Timestamp than one already applied), a duplicate, a
  // step backwards, unknown, or anything after the end.
  std::optional<ProviderEvent> Apply(const std::string& session_id, const StatusReport& report,
                                     bool end_requested);

  // For an end voipd decides itself (the agent leg failed): later reports
  // are ignored like after any other end.
  void MarkEnded() { phase_ = CallPhase::kEnded; }

  // Starts tracking at `phase` without an event: a call the core already
  // announced that far (an inbound call is ringing when it arrives; a
  // re-adopted call is where the previous run left it).
  void Restore(CallPhase phase) { phase_ = phase; }

  CallPhase phase() const { return phase_; }
  bool ended() const { return phase_ == CallPhase::kEnded; }

 private:
  bool IsStale(const StatusReport& report) const;

  CallPhase phase_ = CallPhase::kInitiating;
  std::optional<int64_t> last_sequence_;
  std::optional<absl::Time> last_timestamp_;
};

// Re-adoption after a restart (Adapter::Readopt): what Twilio's answer to
// GET Calls/{Sid} means for a call stored with `stored` status.
struct ReadoptDecision {
  // Twilio still has the call (queued, ringing, in-progress): take it over.
  // False for a finished call (the core ends it with DAEMON_RESTART) and
  // for a status voipd does not know.
  bool alive = false;
  // The tracker to continue with, already at the fetched status.
  CallProgress progress;
  // kAnswered when the call answered while voipd was down, kRinging when it
  // started ringing then; nullopt when nothing changed.
  std::optional<ProviderEvent> event;
};
ReadoptDecision DecideReadopt(const std::string& session_id, voip::v1::CallStatus stored,
                              absl::string_view twilio_status);

// The tracker phase a stored CallStatus corresponds to.
CallPhase PhaseOfStoredStatus(voip::v1::CallStatus status);

}  // namespace voipd::adapters::twilio
