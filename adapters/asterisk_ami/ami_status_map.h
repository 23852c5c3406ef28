// How Asterisk's words for an unsuccessful call map to voipd's outcomes. One
// table per source, because Asterisk reports a failure in three places with
// different vocabularies and they are not equally reliable:
//   1. Dial()'s DIALSTATUS (DialEnd `DialStatus`): the best, names the reason.
//   2. OriginateResponse `Reason` (an AST_CONTROL_* number) for the originated
//      channel.
//   3. The Q.850 hangup cause, a last resort: on busy and congestion the
//      originated Local ;1 channel reports 0 (see the peer README).
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "adapters/api/provider_event.h"

namespace voipd::adapters::asterisk_ami {

struct MappedOutcome {
  EndOutcome outcome = EndOutcome::kFailed;
  voip::v1::HangupSource source = voip::v1::HANGUP_SOURCE_REMOTE;
  voip::v1::ErrorCode error_code = voip::v1::ERROR_CODE_UNSPECIFIED;
  std::string description;  // "busy", "no answer", ...
};

// DialEnd `DialStatus` other than ANSWER. nullopt for ANSWER, and for an
// empty status (no information).
std::optional<MappedOutcome> MapDialStatus(absl::string_view dial_status);

// OriginateResponse `Reason` of a `Response: Failure`. nullopt for 4
// (answered).
std::optional<MappedOutcome> MapOriginateReason(int reason);

// A Q.850 cause of a call that was never answered. 0 (unknown) counts as
// failed.
MappedOutcome MapUnansweredCause(int q850_cause);

}  // namespace voipd::adapters::asterisk_ami
