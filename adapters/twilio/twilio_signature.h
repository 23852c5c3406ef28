// X-Twilio-Signature: how Twilio proves a webhook came from the holder of
// the account's Auth Token. Twilio computes
//   base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 ...))
// over the URL it requested and the POST parameters sorted by name (see
// docs/adapters/twilio.md); JSON bodies are covered through a bodySHA256
// query parameter instead.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace voipd::adapters::twilio {

// Form parameters in arrival order; a repeated key appears once per value.
using FormParams = std::vector<std::pair<std::string, std::string>>;

// The signature Twilio sends for `url` and `params`.
std::string ComputeSignature(absl::string_view auth_token, absl::string_view url,
                             const FormParams& params);

// True when `signature` is valid for a form-encoded request. Like Twilio's
// own libraries it also accepts the URL with the scheme's default port added
// or removed, because Twilio's edge may sign either form. The comparison is
// constant-time; an empty signature never matches.
bool ValidateSignature(absl::string_view auth_token, absl::string_view url,
                       const FormParams& params, absl::string_view signature);

// For a JSON (or other non-form) body: `url` must carry
// bodySHA256=<hex SHA-256 of body>, and the URL is signed with no parameters.
bool ValidateSignatureWithBody(absl::string_view auth_token, absl::string_view url,
                               absl::string_view body, absl::string_view signature);

// `url` with its explicit default port (":443" for https, ":80" for http)
// removed, or added when absent; `url` itself when it has another port.
std::string AlternatePortForm(absl::string_view url);

}  // namespace voipd::adapters::twilio
