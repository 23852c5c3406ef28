// Edge validation of API requests. Each error is INVALID_ARGUMENT with a
// VoipError whose `field` is the path of the offending field, and whose
// message starts with it, so a client can point at the input to fix.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd {

absl::Status ValidateStartCall(const voip::v1::StartCallRequest& request);
absl::Status ValidateListCalls(const voip::v1::ListCallsRequest& request);
// A stream's filter (SubscribeCallEvents); `prefix` ("filter.") starts each
// field's path.
absl::Status ValidateCallFilter(const std::string& session_id, const std::string& system_name,
                                const google::protobuf::Map<std::string, std::string>& labels,
                                const std::string& prefix);
absl::Status ValidateSystemName(const std::string& system_name, const std::string& field);
absl::Status ValidateSessionId(const std::string& session_id);
absl::Status ValidateRequestId(const std::string& request_id);
// What an adapter reports about an inbound call is edge input too.
absl::Status ValidateInboundCall(const std::string& provider_call_id, const std::string& from,
                                 const std::string& to,
                                 const std::map<std::string, std::string>& labels);

}  // namespace voipd
