// The outcome of one RPC as voipctl sees it: the gRPC status plus the
// voip.v1.VoipError the daemon attaches to it. Free of gRPC types so that
// printing and exit-code logic can be used and tested without a channel.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "voip/v1/errors.pb.h"

namespace voipd::voipctl {

struct RpcError {
  // absl and gRPC share the canonical code numbering.
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string message;
  // Present when the status details carried a voip.v1.VoipError.
  std::optional<voip::v1::VoipError> voip_error;

  bool ok() const { return code == absl::StatusCode::kOk; }
  // The domain code, or ERROR_CODE_UNSPECIFIED without a VoipError.
  voip::v1::ErrorCode error_code() const;
  // The most specific name: the VoipError code's, else the gRPC code's
  // ("SESSION_NOT_FOUND", "UNAVAILABLE").
  std::string CodeName() const;
};

// A unary RPC's result: `value` is meaningful only when error.ok().
template <typename T>
struct RpcResult {
  RpcError error;
  T value;

  bool ok() const { return error.ok(); }
};

// Builds an RpcError from a gRPC status's parts. `details_bin` is the
// grpc-status-details-bin trailer (a serialized google.rpc.Status); a
// VoipError is taken from its details when one is there.
RpcError DecodeRpcError(int grpc_code, std::string message, std::string_view details_bin);

// "NOT_FOUND" for absl::StatusCode::kNotFound, as gRPC spells code names.
std::string GrpcCodeName(absl::StatusCode code);

}  // namespace voipd::voipctl
