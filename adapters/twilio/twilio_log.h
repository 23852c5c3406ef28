// Log records from the twilio adapter, written through the core's logger
// (AdapterContext::logger) so that they honour log_level and log_format and
// carry `system` and `session_id` as fields. Never pass a secret or a whole
// request: names, ids and statuses only.
#pragma once

#include "absl/strings/string_view.h"
#include "adapters/api/adapter_context.h"

namespace voipd::adapters::twilio {

void LogTwilioInfo(const AdapterContext& context, absl::string_view message,
                   absl::string_view session_id = {});
void LogTwilioWarn(const AdapterContext& context, absl::string_view message,
                   absl::string_view session_id = {});

}  // namespace voipd::adapters::twilio
