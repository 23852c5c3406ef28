// Edge validation of API requests. Each error is INVALID_ARGUMENT with a
// VoipError whose `field` is the path of the offending field, and whose
// message starts with it, so a client can point at the input to fix.
#pragma once

#include "absl/status/status.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd {

absl::Status ValidateStartCall(const voip::v1::StartCallRequest& request);
absl::Status ValidateSessionId(const std::string& session_id);
absl::Status ValidateRequestId(const std::string& request_id);

}  // namespace voipd
