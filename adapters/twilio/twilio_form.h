// application/x-www-form-urlencoded, the only body format Twilio's REST API
// accepts and the one its webhooks use. The escaping itself is libcurl's
// (curl_easy_escape / curl_easy_unescape); this only joins and splits pairs.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/twilio/twilio_signature.h"

namespace voipd::adapters::twilio {

// "To=%2B1201...&StatusCallbackEvent=initiated&StatusCallbackEvent=ringing":
// repeated keys stay repeated, which is how Twilio expects list parameters.
std::string EncodeForm(const FormParams& params);

// Splits a body or query string. InvalidArgument for a '%' not followed by
// two hex digits or a decoded NUL byte: such a request is malformed.
absl::StatusOr<FormParams> DecodeForm(absl::string_view text);

// Percent-encodes one URL path segment or query value.
std::string UrlEscape(absl::string_view text);

// The first value of `name`, or "" when absent.
std::string FormValue(const FormParams& params, absl::string_view name);

}  // namespace voipd::adapters::twilio
