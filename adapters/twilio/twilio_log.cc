#include "adapters/twilio/twilio_log.h"

#include "adapters/api/logger.h"

namespace voipd::adapters::twilio {

void LogTwilioInfo(const AdapterContext& context, absl::string_view message,
                   absl::string_view session_id) {
  LoggerOr(context.logger).Info("twilio", message, {context.system_name, session_id});
}

void LogTwilioWarn(const AdapterContext& context, absl::string_view message,
                   absl::string_view session_id) {
  LoggerOr(context.logger).Warn("twilio", message, {context.system_name, session_id});
}

}  // namespace voipd::adapters::twilio
