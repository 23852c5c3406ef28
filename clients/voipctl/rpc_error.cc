#include "clients/voipctl/rpc_error.h"

#include "google/rpc/status.pb.h"

namespace voipd::voipctl {
namespace {

constexpr std::string_view kVoipErrorTypeUrl = "type.googleapis.com/voip.v1.VoipError";

}  // namespace

voip::v1::ErrorCode RpcError::error_code() const {
  return voip_error ? voip_error->error_code() : voip::v1::ERROR_CODE_UNSPECIFIED;
}

std::string RpcError::CodeName() const {
  if (error_code() != voip::v1::ERROR_CODE_UNSPECIFIED) {
    return voip::v1::ErrorCode_Name(error_code());
  }
  return GrpcCodeName(code);
}

RpcError DecodeRpcError(int grpc_code, std::string message, std::string_view details_bin) {
  RpcError error;
  error.code = static_cast<absl::StatusCode>(grpc_code);
  error.message = std::move(message);
  google::rpc::Status status;
  // A missing or garbled trailer is not an error of its own: the gRPC code
  // and message still say what happened.
  if (details_bin.empty() ||
      !status.ParseFromArray(details_bin.data(), static_cast<int>(details_bin.size()))) {
    return error;
  }
  for (const auto& any : status.details()) {
    if (any.type_url() != kVoipErrorTypeUrl) continue;
    voip::v1::VoipError voip_error;
    if (voip_error.ParseFromString(any.value())) {
      error.voip_error = std::move(voip_error);
      break;
    }
  }
  return error;
}

std::string GrpcCodeName(absl::StatusCode code) {
  // absl prints canonical codes exactly as gRPC names them.
  return absl::StatusCodeToString(code);
}

}  // namespace voipd::voipctl
