#include "adapters/sip/sip_status_mapping.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace voipd::adapters::sip {

bool IsRingingResponse(int sip_code) { return sip_code >= 100 && sip_code < 200; }

FinalResponseOutcome MapFinalResponse(int sip_code) {
  FinalResponseOutcome out;
  switch (sip_code) {
    case 486:
    case 600:
      out.outcome = EndOutcome::kBusy;
      return out;
    case 404:
    case 410:
    case 480:
    case 484:
    case 604:
      out.outcome = EndOutcome::kUnavailable;
      return out;
    case 401:
    case 407:
      // libre answers a challenge once; a final 401/407 means the server
      // refused our credentials (or wants a scheme we cannot do).
      out.outcome = EndOutcome::kFailed;
      out.error_code = voip::v1::CONFIGURATION_ERROR;
      out.source = voip::v1::HANGUP_SOURCE_SYSTEM;
      return out;
    default:
      out.outcome = EndOutcome::kFailed;
      out.error_code = voip::v1::PROVIDER_ERROR;
      return out;
  }
}

namespace {

// Splits `text` at `separator` outside double quotes (quoted text may hold
// commas and semicolons; a backslash escapes the next character).
std::vector<absl::string_view> SplitUnquoted(absl::string_view text, char separator) {
  std::vector<absl::string_view> parts;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == separator && !quoted) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(std::min(start, text.size())));
  return parts;
}

}  // namespace

int ParseQ850Cause(absl::string_view reason_header) {
  // Reason = reason-value *("," reason-value); reason-value = protocol
  // *(";" param) (RFC 3326).
  for (absl::string_view reason : SplitUnquoted(reason_header, ',')) {
    const std::vector<absl::string_view> fields = SplitUnquoted(reason, ';');
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(fields[0]), "Q.850")) continue;
    for (size_t i = 1; i < fields.size(); ++i) {
      const absl::string_view param = fields[i];
      const size_t eq = param.find('=');
      if (eq == absl::string_view::npos ||
          !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(param.substr(0, eq)), "cause")) {
        continue;
      }
      int cause = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(param.substr(eq + 1)), &cause) &&
          cause > 0 && cause < 128) {
        return cause;
      }
      return 0;
    }
  }
  return 0;
}

}  // namespace voipd::adapters::sip
