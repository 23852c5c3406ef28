// What a failed Twilio request means to voipd's clients:
//   Twilio error JSON {code, message, more_info}  -> PROVIDER_ERROR, code kept
//   401 / 403                                     -> CONFIGURATION_ERROR
//   429 / 5xx (after the retries)                 -> PROVIDER_ERROR
//   no connection, timeout, broken connection     -> NETWORK_ERROR
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adapters/twilio/http_transport.h"

namespace voipd::adapters::twilio {

// Twilio's error body: {"code": 21211, "message": "...", "more_info": "...",
// "status": 400}.
struct TwilioErrorBody {
  int64_t code = 0;
  std::string message;
  std::string more_info;
};

// nullopt when `body` is not a JSON object with a numeric `code`.
std::optional<TwilioErrorBody> ParseTwilioError(absl::string_view body);

// `operation` completes "twilio: <operation> failed", e.g. "creating the call".
absl::Status ErrorFromResponse(absl::string_view system, absl::string_view operation,
                               const HttpResponse& response);
absl::Status ErrorFromFailure(absl::string_view system, absl::string_view operation,
                              const HttpResult& result);
// A 2xx whose body is not the JSON it should be.
absl::Status MalformedResponseError(absl::string_view system, absl::string_view operation,
                                    const HttpResponse& response, absl::string_view why);

}  // namespace voipd::adapters::twilio
