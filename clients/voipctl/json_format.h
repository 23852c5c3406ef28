// voipctl's --json output: every record is one JSON object on one line, so
// that `jq` and line-oriented scripts can consume a stream of them.
#pragma once

#include <string>

#include "clients/voipctl/rpc_error.h"
#include "google/protobuf/message.h"

namespace voipd::voipctl {

// Proto3 JSON on one line, with the proto's field names (session_id,
// on_hold) and every scalar field printed, so `.on_hold` is false rather
// than missing.
std::string ToJson(const google::protobuf::Message& message);

// {"error": {<the VoipError's fields>, "grpc_code": "NOT_FOUND"}}. Without a
// VoipError the object has the same shape with error_code
// ERROR_CODE_UNSPECIFIED and the gRPC message.
std::string ErrorToJson(const RpcError& error);

}  // namespace voipd::voipctl
