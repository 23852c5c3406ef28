// Log records from the webrtc adapter, written through the core's logger
// (AdapterContext::logger) so that they honour log_level and log_format and
// carry `system` as a field. Never pass a token or a whole message:
// identities, page numbers and error codes only.
#pragma once

#include "absl/strings/string_view.h"
#include "adapters/api/adapter_context.h"

namespace voipd::adapters::webrtc {

void LogWebRtcInfo(const AdapterContext& context, absl::string_view message,
                   absl::string_view session_id = {});

}  // namespace voipd::adapters::webrtc
