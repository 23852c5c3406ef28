#include "clients/voipctl/exit_codes.h"

#include <optional>

namespace voipd::voipctl {
namespace {

// std::nullopt when the domain code says nothing about the exit code (no
// VoipError, or a code added after this table): the gRPC code decides then.
std::optional<ExitCode> ExitCodeForDomain(voip::v1::ErrorCode code) {
  switch (code) {
    case voip::v1::SESSION_NOT_FOUND:
    case voip::v1::UNKNOWN_SYSTEM:
      return kExitNotFound;
    case voip::v1::PROVIDER_ERROR:
    case voip::v1::NETWORK_ERROR:
    // The daemon is going away: as for an unreachable daemon, retrying later
    // may work.
    case voip::v1::DAEMON_SHUTDOWN:
      return kExitUnavailable;
    case voip::v1::INVALID_NUMBER:
    case voip::v1::INVALID_ARGUMENT:
    case voip::v1::INVALID_STATE:
    case voip::v1::DIAL_VIA_SYSTEM_DISABLED:
    case voip::v1::UNSUPPORTED_OPERATION:
    case voip::v1::RATE_LIMITED:
    case voip::v1::IDEMPOTENCY_MISMATCH:
      return kExitRejected;
    // The daemon, not the request, is at fault: nothing the caller can fix
    // by changing the request.
    case voip::v1::CONFIGURATION_ERROR:
      return kExitOther;
    default:
      return std::nullopt;
  }
}

ExitCode ExitCodeForGrpc(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAlreadyExists:
      return kExitRejected;
    default:
      return kExitOther;
  }
}

}  // namespace

ExitCode ExitCodeFor(const RpcError& error) {
  if (error.ok()) return kExitOk;
  return ExitCodeForDomain(error.error_code()).value_or(ExitCodeForGrpc(error.code));
}

const std::string_view kExitCodesHelp =
    "Exit codes:\n"
    "  0    success\n"
    "  1    any other error (e.g. CONFIGURATION_ERROR, INTERNAL)\n"
    "  2    usage error (bad option, argument or label)\n"
    "  3    not found: SESSION_NOT_FOUND, UNKNOWN_SYSTEM, gRPC NOT_FOUND\n"
    "  4    provider or network error: PROVIDER_ERROR, NETWORK_ERROR,\n"
    "       DAEMON_SHUTDOWN, gRPC UNAVAILABLE / DEADLINE_EXCEEDED (also when\n"
    "       voipd cannot be reached)\n"
    "  5    request rejected: INVALID_NUMBER, INVALID_ARGUMENT, INVALID_STATE,\n"
    "       DIAL_VIA_SYSTEM_DISABLED, UNSUPPORTED_OPERATION, RATE_LIMITED,\n"
    "       IDEMPOTENCY_MISMATCH, gRPC INVALID_ARGUMENT / FAILED_PRECONDITION /\n"
    "       OUT_OF_RANGE / RESOURCE_EXHAUSTED / ALREADY_EXISTS\n"
    "  130  `watch` interrupted by Ctrl-C (`events` exits 0 then)\n";

}  // namespace voipd::voipctl
