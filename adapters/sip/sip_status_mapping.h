// How SIP responses become provider-neutral facts (docs/adapters/sip.md has
// the same table for users). Pure functions so that the table is unit-tested
// without a network.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "adapters/api/provider_event.h"

namespace voipd::adapters::sip {

// Any provisional response (100-199) reports the far end as ringing; the
// first one counts, the core drops repeats.
bool IsRingingResponse(int sip_code);

struct FinalResponseOutcome {
  EndOutcome outcome = EndOutcome::kFailed;
  // ERROR_CODE_UNSPECIFIED for the ordinary outcomes (busy, unavailable).
  voip::v1::ErrorCode error_code = voip::v1::ERROR_CODE_UNSPECIFIED;
  voip::v1::HangupSource source = voip::v1::HANGUP_SOURCE_REMOTE;
};

// The outcome of an INVITE that ended with a final response >= 300:
//   486, 600                      -> busy
//   404, 410, 480, 484, 604       -> unavailable
//   401, 407 (credentials refused) -> failed, CONFIGURATION_ERROR
//   any other 3xx-6xx             -> failed, PROVIDER_ERROR
FinalResponseOutcome MapFinalResponse(int sip_code);

// The Q.850 cause of a Reason header value ("Q.850;cause=16;text=\"...\"",
// possibly after other reasons separated by commas); 0 when there is none.
int ParseQ850Cause(absl::string_view reason_header);

}  // namespace voipd::adapters::sip
