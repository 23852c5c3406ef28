#include "adapters/sip/sip_log.h"

#include "adapters/api/logger.h"

namespace voipd::adapters::sip {

void SipLogInfo(const SipContext& ctx, absl::string_view message, absl::string_view session_id) {
  LoggerOr(ctx.logger).Info("sip", message, {ctx.system, session_id});
}

void SipLogWarn(const SipContext& ctx, absl::string_view message, absl::string_view session_id) {
  LoggerOr(ctx.logger).Warn("sip", message, {ctx.system, session_id});
}

}  // namespace voipd::adapters::sip
