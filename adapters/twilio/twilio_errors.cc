#include "adapters/twilio/twilio_errors.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters::twilio {
namespace {

// Enough of an unexpected body to diagnose it (a proxy's HTML page, a
// mock's validation report) without flooding the error.
constexpr size_t kBodyExcerpt = 500;

std::string Excerpt(absl::string_view body) {
  if (body.size() <= kBodyExcerpt) return std::string(body);
  return absl::StrCat(body.substr(0, kBodyExcerpt), "...");
}

absl::Status WithDetails(absl::Status status, const TwilioErrorBody* error, long http_status) {
  std::optional<voip::v1::VoipError> detail = GetVoipError(status);
  if (!detail) return status;
  auto& details = *detail->mutable_details();
  details["http_status"] = absl::StrCat(http_status);
  if (error != nullptr) {
    details["twilio_code"] = absl::StrCat(error->code);
    if (!error->more_info.empty()) details["more_info"] = error->more_info;
  }
  return MakeVoipError(*std::move(detail), status.code());
}

}  // namespace

std::optional<TwilioErrorBody> ParseTwilioError(absl::string_view body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  auto code = json.find("code");
  if (code == json.end() || !code->is_number_integer()) return std::nullopt;
  TwilioErrorBody error;
  error.code = code->get<int64_t>();
  if (auto m = json.find("message"); m != json.end() && m->is_string()) {
    error.message = m->get<std::string>();
  }
  if (auto i = json.find("more_info"); i != json.end() && i->is_string()) {
    error.more_info = i->get<std::string>();
  }
  return error;
}

absl::Status ErrorFromResponse(absl::string_view system, absl::string_view operation,
                               const HttpResponse& response) {
  const std::optional<TwilioErrorBody> error = ParseTwilioError(response.body);
  const std::string what =
      error ? absl::StrCat("HTTP ", response.status, ", Twilio error ", error->code, ": ",
                           error->message)
            : absl::StrCat("HTTP ", response.status,
                           response.body.empty() ? "" : ": ", Excerpt(response.body));
  if (response.status == 401 || response.status == 403) {
    // Wrong or revoked credentials, or an account without access: nothing a
    // retry or another number would fix.
    return WithDetails(
        ConfigurationError(absl::StrCat(
            "twilio: ", operation, " failed: Twilio refused the credentials (", what,
            "); check account_sid_file, auth_token_file or api_key_sid_file/api_key_secret_file "
            "of system '", system, "'")),
        error ? &*error : nullptr, response.status);
  }
  voip::v1::ProviderCause cause;
  cause.set_provider_status(absl::StrCat(response.status));
  if (error) {
    cause.set_provider_code(absl::StrCat(error->code));
    cause.set_text(error->message);
  } else {
    cause.set_text(Excerpt(response.body));
  }
  return WithDetails(
      ProviderError(system, absl::StrCat("twilio: ", operation, " failed: ", what), cause),
      error ? &*error : nullptr, response.status);
}

absl::Status ErrorFromFailure(absl::string_view system, absl::string_view operation,
                              const HttpResult& result) {
  std::string why;
  switch (result.failure) {
    case TransportFailure::kNotSent:  why = "cannot connect to Twilio"; break;
    case TransportFailure::kTls:      why = "TLS with Twilio failed"; break;
    case TransportFailure::kTimeout:  why = "Twilio did not answer in time"; break;
    case TransportFailure::kIo:       why = "the connection to Twilio broke"; break;
    case TransportFailure::kTooLarge: why = "Twilio's answer is too large"; break;
    case TransportFailure::kShutdown: why = "the adapter is shutting down"; break;
    case TransportFailure::kNone:     why = "unknown failure"; break;
  }
  return NetworkError(system,
                      absl::StrCat("twilio: ", operation, " failed: ", why, " (", result.error, ")"));
}

absl::Status MalformedResponseError(absl::string_view system, absl::string_view operation,
                                    const HttpResponse& response, absl::string_view why) {
  voip::v1::ProviderCause cause;
  cause.set_provider_status(absl::StrCat(response.status));
  cause.set_text(Excerpt(response.body));
  return ProviderError(
      system, absl::StrCat("twilio: ", operation, " failed: unexpected answer (", why, ")"),
      cause);
}

}  // namespace voipd::adapters::twilio
