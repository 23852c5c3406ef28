#include "adapters/webrtc/webrtc_log.h"

#include "adapters/api/logger.h"

namespace voipd::adapters::webrtc {

void LogWebRtcInfo(const AdapterContext& context, absl::string_view message,
                   absl::string_view session_id) {
  LoggerOr(context.logger).Info("webrtc", message, {context.system_name, session_id});
}

}  // namespace voipd::adapters::webrtc
