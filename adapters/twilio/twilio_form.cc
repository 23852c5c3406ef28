#include "adapters/twilio/twilio_form.h"

#include "adapters/twilio/curl_api.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace voipd::adapters::twilio {
namespace {

std::string Escape(absl::string_view text) {
  // Since libcurl 7.82 the handle may be null: escaping needs no transfer.
  char* escaped = Curl().easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  if (escaped == nullptr) return std::string();
  std::string out(escaped);
  Curl().free(escaped);
  return out;
}

absl::StatusOr<std::string> Unescape(absl::string_view text) {
  // curl_easy_unescape leaves a stray '%' as is; a sender that produced one
  // is broken, so refuse rather than guess.
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size()) {
      return absl::InvalidArgumentError("truncated percent-escape");
    }
    if (!absl::ascii_isxdigit(text[i + 1]) || !absl::ascii_isxdigit(text[i + 2])) {
      return absl::InvalidArgumentError("invalid percent-escape");
    }
  }
  // Form encoding writes a space as '+', which URL unescaping does not undo.
  std::string plus_as_space(text);
  for (char& c : plus_as_space) {
    if (c == '+') c = ' ';
  }
  int length = 0;
  char* raw = Curl().easy_unescape(nullptr, plus_as_space.data(),
                                 static_cast<int>(plus_as_space.size()), &length);
  if (raw == nullptr) return absl::InvalidArgumentError("cannot decode form value");
  std::string out(raw, static_cast<size_t>(length));
  Curl().free(raw);
  if (out.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("NUL byte in form value");
  }
  return out;
}

}  // namespace

std::string UrlEscape(absl::string_view text) { return Escape(text); }

std::string EncodeForm(const FormParams& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(Escape(name)).append("=").append(Escape(value));
  }
  return out;
}

absl::StatusOr<FormParams> DecodeForm(absl::string_view text) {
  FormParams params;
  if (text.empty()) return params;
  for (absl::string_view pair : absl::StrSplit(text, '&')) {
    if (pair.empty()) continue;  // "a=1&&b=2" is tolerated by every parser
    const size_t eq = pair.find('=');
    absl::StatusOr<std::string> name = Unescape(pair.substr(0, eq));
    if (!name.ok()) return name.status();
    if (name->empty()) return absl::InvalidArgumentError("empty parameter name");
    std::string value;
    if (eq != absl::string_view::npos) {
      absl::StatusOr<std::string> decoded = Unescape(pair.substr(eq + 1));
      if (!decoded.ok()) return decoded.status();
      value = std::move(*decoded);
    }
    params.emplace_back(std::move(*name), std::move(value));
  }
  return params;
}

std::string FormValue(const FormParams& params, absl::string_view name) {
  for (const auto& [n, v] : params) {
    if (n == name) return v;
  }
  return std::string();
}

}  // namespace voipd::adapters::twilio
