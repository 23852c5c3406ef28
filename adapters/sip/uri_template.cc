#include "adapters/sip/uri_template.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace voipd::adapters::sip {
namespace {

constexpr absl::string_view kPlaceholders[] = {"{number}", "{e164}", "{extension}"};

// RFC 3261 user part: unreserved / escaped / user-unreserved. Dialled
// targets only hold digits, '+', '*' and '#'; '#' must be escaped.
std::string EscapeUser(absl::string_view user) {
  std::string out;
  for (char c : user) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '*' || c == '-' ||
        c == '.' || c == '_' || c == '!' || c == '~') {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace

absl::Status ValidateUriTemplate(absl::string_view tmpl) {
  if (!absl::StartsWithIgnoreCase(tmpl, "sip:") && !absl::StartsWithIgnoreCase(tmpl, "sips:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("uri_template: must be a sip: or sips: URI, got '", tmpl, "'"));
  }
  bool has_placeholder = false;
  for (size_t open = tmpl.find('{'); open != absl::string_view::npos;
       open = tmpl.find('{', open + 1)) {
    const size_t close = tmpl.find('}', open);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("uri_template: unterminated '{'");
    }
    const absl::string_view name = tmpl.substr(open, close - open + 1);
    bool known = false;
    for (absl::string_view p : kPlaceholders) known = known || name == p;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "uri_template: unknown placeholder ", name, " (known: {number}, {e164}, {extension})"));
    }
    has_placeholder = true;
  }
  if (!has_placeholder) {
    return absl::InvalidArgumentError(
        "uri_template: needs a placeholder ({number}, {e164} or {extension})");
  }
  for (unsigned char c : tmpl) {
    if (c <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("uri_template: must not contain spaces or controls");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExpandUriTemplate(absl::string_view tmpl, TargetKind kind,
                                              absl::string_view target) {
  if (kind == TargetKind::kSipUri) return std::string(target);
  if (target.empty()) return absl::InvalidArgumentError("empty target");
  const std::string number = EscapeUser(target);
  const std::string e164 =
      EscapeUser(absl::StartsWith(target, "+") ? target.substr(1) : target);
  return absl::StrReplaceAll(
      tmpl, {{"{number}", number}, {"{e164}", e164}, {"{extension}", number}});
}

}  // namespace voipd::adapters::sip
