// Minimal stderr logging in the daemon's line format. Adapters may not
// include daemon/ headers (docs/architecture.md), and the adapter API has no
// logger yet, so the twilio adapter writes its few lines itself. Never pass
// a secret or a whole request: names, ids and statuses only.
#pragma once

#include "absl/strings/string_view.h"

namespace voipd::adapters::twilio {

void LogTwilioInfo(absl::string_view system, absl::string_view message);
void LogTwilioWarn(absl::string_view system, absl::string_view message);

}  // namespace voipd::adapters::twilio
