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

  CallPhase phase() const { return phase_; }
  bool ended() const { return phase_ == CallPhase::kEnded; }

 private:
  bool IsStale(const StatusReport& report) const;

  CallPhase phase_ = CallPhase::kInitiating;
  std::optional<int64_t> last_sequence_;
  std::optional<absl::Time> last_timestamp_;
};

}  // namespace voipd::adapters::twilio
