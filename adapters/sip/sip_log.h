// Log records from the sip adapter, written through the core's logger
// (AdapterContext::logger, kept in SipContext) so that they honour log_level
// and log_format and carry `system` and `session_id` as fields. Never pass
// secrets here: log names, codes and addresses only.
#pragma once

#include "absl/strings/string_view.h"
#include "adapters/sip/sip_context.h"

namespace voipd::adapters::sip {

void SipLogInfo(const SipContext& ctx, absl::string_view message,
                absl::string_view session_id = {});
void SipLogWarn(const SipContext& ctx, absl::string_view message,
                absl::string_view session_id = {});

}  // namespace voipd::adapters::sip
