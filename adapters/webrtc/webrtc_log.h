// Minimal stderr logging in the daemon's line format (as twilio_log.h: the
// adapter API has no logger yet). Never pass a token or a whole message:
// identities, page numbers and error codes only.
#pragma once

#include "absl/strings/string_view.h"

namespace voipd::adapters::webrtc {

void LogWebRtcInfo(absl::string_view system, absl::string_view message);

}  // namespace voipd::adapters::webrtc
