#include "adapters/api/voip_error.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace voipd {

using voip::v1::ErrorCode;

absl::StatusCode CanonicalCodeFor(ErrorCode code) {
  switch (code) {
    case voip::v1::CONFIGURATION_ERROR:      return absl::StatusCode::kFailedPrecondition;
    case voip::v1::NETWORK_ERROR:            return absl::StatusCode::kUnavailable;
    case voip::v1::PROVIDER_ERROR:           return absl::StatusCode::kUnavailable;
    case voip::v1::INVALID_NUMBER:           return absl::StatusCode::kInvalidArgument;
    case voip::v1::DIAL_VIA_SYSTEM_DISABLED: return absl::StatusCode::kFailedPrecondition;
    case voip::v1::UNKNOWN_SYSTEM:           return absl::StatusCode::kNotFound;
    case voip::v1::SESSION_NOT_FOUND:        return absl::StatusCode::kNotFound;
    case voip::v1::INVALID_STATE:            return absl::StatusCode::kFailedPrecondition;
    case voip::v1::UNSUPPORTED_OPERATION:    return absl::StatusCode::kUnimplemented;
    case voip::v1::RATE_LIMITED:             return absl::StatusCode::kResourceExhausted;
    case voip::v1::INVALID_ARGUMENT:         return absl::StatusCode::kInvalidArgument;
    case voip::v1::DAEMON_SHUTDOWN:          return absl::StatusCode::kUnavailable;
    case voip::v1::IDEMPOTENCY_MISMATCH:     return absl::StatusCode::kInvalidArgument;
    case voip::v1::AUTHENTICATION_FAILED:    return absl::StatusCode::kUnauthenticated;
    case voip::v1::PERMISSION_DENIED_SCOPE:  return absl::StatusCode::kPermissionDenied;
    default:                                 return absl::StatusCode::kUnknown;
  }
}

absl::Status MakeVoipError(voip::v1::VoipError error) {
  const absl::StatusCode code = CanonicalCodeFor(error.error_code());
  return MakeVoipError(std::move(error), code);
}

absl::Status MakeVoipError(voip::v1::VoipError error, absl::StatusCode code) {
  absl::Status status(code, error.message());
  status.SetPayload(kVoipErrorTypeUrl, absl::Cord(error.SerializeAsString()));
  return status;
}

absl::Status MakeVoipError(ErrorCode code, std::string message, std::string field) {
  voip::v1::VoipError error;
  error.set_error_code(code);
  error.set_message(std::move(message));
  error.set_field(std::move(field));
  return MakeVoipError(std::move(error));
}

absl::Status ConfigurationError(std::string message, std::string field) {
  return MakeVoipError(voip::v1::CONFIGURATION_ERROR, std::move(message), std::move(field));
}

absl::Status NetworkError(absl::string_view system, std::string message) {
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::NETWORK_ERROR);
  error.set_message(std::move(message));
  error.set_system_name(std::string(system));
  return MakeVoipError(std::move(error));
}

absl::Status ProviderError(absl::string_view system, std::string message,
                           voip::v1::ProviderCause cause) {
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::PROVIDER_ERROR);
  error.set_message(std::move(message));
  error.set_system_name(std::string(system));
  *error.mutable_provider_cause() = std::move(cause);
  return MakeVoipError(std::move(error));
}

absl::Status InvalidNumberError(std::string field, std::string message) {
  return MakeVoipError(voip::v1::INVALID_NUMBER, std::move(message), std::move(field));
}

absl::Status InvalidArgumentError(std::string field, std::string message) {
  return MakeVoipError(voip::v1::INVALID_ARGUMENT, std::move(message), std::move(field));
}

absl::Status SessionNotFoundError(absl::string_view session_id) {
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::SESSION_NOT_FOUND);
  error.set_message(absl::StrCat("session_id: no call '", session_id, "'"));
  error.set_field("session_id");
  error.set_session_id(std::string(session_id));
  return MakeVoipError(std::move(error));
}

absl::Status InvalidStateError(absl::string_view session_id, std::string message) {
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::INVALID_STATE);
  error.set_message(std::move(message));
  error.set_session_id(std::string(session_id));
  return MakeVoipError(std::move(error));
}

absl::Status UnsupportedOperationError(absl::string_view system, absl::string_view operation) {
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::UNSUPPORTED_OPERATION);
  error.set_message(absl::StrCat("system '", system, "' does not support ", operation));
  error.set_system_name(std::string(system));
  return MakeVoipError(std::move(error));
}

std::optional<voip::v1::VoipError> GetVoipError(const absl::Status& status) {
  auto payload = status.GetPayload(kVoipErrorTypeUrl);
  if (!payload) return std::nullopt;
  voip::v1::VoipError error;
  if (!error.ParseFromString(std::string(*payload))) return std::nullopt;
  return error;
}

ErrorCode GetErrorCode(const absl::Status& status) {
  auto error = GetVoipError(status);
  return error ? error->error_code() : voip::v1::ERROR_CODE_UNSPECIFIED;
}

absl::Status WithCallContext(const absl::Status& status, absl::string_view session_id,
                             absl::string_view system_name) {
  if (status.ok()) return status;
  voip::v1::VoipError error;
  if (auto existing = GetVoipError(status)) {
    error = *existing;
  } else {
    // An adapter returned a plain status: keep its code, call it a provider error.
    error.set_error_code(voip::v1::PROVIDER_ERROR);
    error.set_message(std::string(status.message()));
  }
  if (error.session_id().empty()) error.set_session_id(std::string(session_id));
  if (error.system_name().empty()) error.set_system_name(std::string(system_name));
  absl::Status out(status.code(), status.message());
  out.SetPayload(kVoipErrorTypeUrl, absl::Cord(error.SerializeAsString()));
  return out;
}

absl::Status RateLimitedError(std::string message, absl::string_view limit) {
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::RATE_LIMITED);
  error.set_message(std::move(message));
  (*error.mutable_details())["limit"] = std::string(limit);
  return MakeVoipError(std::move(error));
}

absl::Status UnauthenticatedError(std::string message) {
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::AUTHENTICATION_FAILED);
  error.set_message(std::move(message));
  return MakeVoipError(std::move(error), absl::StatusCode::kUnauthenticated);
}

absl::Status PermissionDeniedError(std::string message, absl::string_view required_scope) {
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::PERMISSION_DENIED_SCOPE);
  error.set_message(std::move(message));
  (*error.mutable_details())["required_scope"] = std::string(required_scope);
  return MakeVoipError(std::move(error), absl::StatusCode::kPermissionDenied);
}

}  // namespace voipd
