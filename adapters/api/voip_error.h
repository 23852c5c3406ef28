// VoipError on absl::Status: each constructor picks the canonical gRPC code
// for a domain error and attaches a serialized voip.v1.VoipError payload
// under its type URL. Adapters and the core build errors only through these
// functions, so the code table lives in one place (voip_error.cc); the server
// turns the payload into a google.rpc.Status detail at the wire.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "voip/v1/errors.pb.h"

namespace voipd {

inline constexpr absl::string_view kVoipErrorTypeUrl =
    "type.googleapis.com/voip.v1.VoipError";

// The canonical status code used for each domain code.
absl::StatusCode CanonicalCodeFor(voip::v1::ErrorCode code);

// The general constructor; the named ones below fill it in.
absl::Status MakeVoipError(voip::v1::VoipError error);
// With a canonical code other than the default for error.error_code().
absl::Status MakeVoipError(voip::v1::VoipError error, absl::StatusCode code);
absl::Status MakeVoipError(voip::v1::ErrorCode code, std::string message,
                           std::string field = "");

absl::Status ConfigurationError(std::string message, std::string field = "");
absl::Status NetworkError(absl::string_view system, std::string message);
absl::Status ProviderError(absl::string_view system, std::string message,
                           voip::v1::ProviderCause cause = {});
absl::Status InvalidNumberError(std::string field, std::string message);
absl::Status InvalidArgumentError(std::string field, std::string message);
absl::Status SessionNotFoundError(absl::string_view session_id);
absl::Status InvalidStateError(absl::string_view session_id, std::string message);
absl::Status UnsupportedOperationError(absl::string_view system, absl::string_view operation);
// RESOURCE_EXHAUSTED + RATE_LIMITED; `limit` names the limit in details["limit"].
absl::Status RateLimitedError(std::string message, absl::string_view limit);
// UNAUTHENTICATED + AUTHENTICATION_FAILED / PERMISSION_DENIED +
// PERMISSION_DENIED_SCOPE, which says what is missing in details["required_scope"].
absl::Status UnauthenticatedError(std::string message);
absl::Status PermissionDeniedError(std::string message, absl::string_view required_scope);

// The attached VoipError, if the status carries one.
std::optional<voip::v1::VoipError> GetVoipError(const absl::Status& status);
// ERROR_CODE_UNSPECIFIED when the status carries no VoipError.
voip::v1::ErrorCode GetErrorCode(const absl::Status& status);
// Returns `status` with session_id/system_name set on its VoipError (adding
// one derived from the canonical code when missing).
absl::Status WithCallContext(const absl::Status& status, absl::string_view session_id,
                             absl::string_view system_name);

}  // namespace voipd
