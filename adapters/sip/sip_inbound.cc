#include "adapters/sip/sip_inbound.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace voipd::adapters::sip {

InboundAdmission AdmitInbound(const SipSettings& settings, size_t active_calls,
                              size_t active_inbound) {
  InboundAdmission admission;
  if (!settings.inbound.enabled) {
    admission.reject = {settings.inbound.reject_code, ReasonPhrase(settings.inbound.reject_code)};
    return admission;
  }
  if (active_calls >= settings.max_calls ||
      (settings.inbound.max_concurrent != 0 &&
       active_inbound >= settings.inbound.max_concurrent)) {
    admission.reject = {486, ReasonPhrase(486)};
    return admission;
  }
  admission.accept = true;
  return admission;
}

const char* ReasonPhrase(uint16_t code) {
  switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 415: return "Unsupported Media Type";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 484: return "Address Incomplete";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    case 604: return "Does Not Exist Anywhere";
    case 606: return "Not Acceptable";
    default: return "Rejected";
  }
}

SipReply RejectionForCoreError(voip::v1::ErrorCode code) {
  switch (code) {
    case voip::v1::DAEMON_SHUTDOWN:
    case voip::v1::RATE_LIMITED:
      return {503, ReasonPhrase(503)};
    case voip::v1::INVALID_ARGUMENT:
    case voip::v1::INVALID_NUMBER:
      return {400, ReasonPhrase(400)};
    default:
      return {500, ReasonPhrase(500)};
  }
}

std::string UriText(const UriParts& uri) {
  std::string scheme = absl::AsciiStrToLower(absl::StripSuffix(uri.scheme, ":"));
  if (scheme.empty()) scheme = "sip";
  std::string text = absl::StrCat(scheme, ":");
  if (!uri.user.empty()) absl::StrAppend(&text, uri.user, "@");
  if (uri.ipv6) {
    absl::StrAppend(&text, "[", uri.host, "]");
  } else {
    absl::StrAppend(&text, uri.host);
  }
  if (uri.port != 0) absl::StrAppend(&text, ":", uri.port);
  return text;
}

std::string DialledParty(const UriParts& to, const UriParts& request_uri) {
  if (!to.user.empty()) return std::string(to.user);
  if (!request_uri.user.empty()) return std::string(request_uri.user);
  return UriText(to);
}

std::string SafeDisplayName(absl::string_view raw, size_t max_bytes) {
  absl::string_view name = absl::StripAsciiWhitespace(raw);
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
  }
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == '\\' && i + 1 < name.size()) c = static_cast<unsigned char>(name[++i]);
    if (c < 0x20 || c == 0x7f) continue;
    out.push_back(static_cast<char>(c));
  }
  out = std::string(absl::StripAsciiWhitespace(out));
  if (out.size() > max_bytes) {
    size_t cut = max_bytes;
    // Back up over UTF-8 continuation bytes so no character is split.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

}  // namespace voipd::adapters::sip
