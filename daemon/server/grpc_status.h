// The one conversion from absl::Status to the wire. Every payload (the
// VoipError) becomes a google.protobuf.Any in a google.rpc.Status carried in
// the grpc-status-details-bin trailer, which grpcio, grpc-js and grpc-go all
// know how to read.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace voipd {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace voipd
