#include "adapters/twilio/twilio_signature.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace voipd::adapters::twilio {
namespace {

std::string Base64(const unsigned char* data, size_t size) {
  // EVP_EncodeBlock writes 4 output bytes per 3 input bytes plus a NUL.
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                static_cast<int>(size));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

std::string HmacSha1Base64(absl::string_view key, absl::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
           &mac_len) == nullptr) {
    return "";  // never matches: ValidateSignature refuses empty values
  }
  return Base64(mac, mac_len);
}

// Constant-time, so that a forger learns nothing from response timing about
// how many leading characters of a guess were right. Lengths are public
// (a base64 SHA-1 is always 28 characters).
bool SecureEquals(absl::string_view a, absl::string_view b) {
  return !a.empty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct UrlParts {
  absl::string_view scheme;     // "https"
  absl::string_view host;       // "example.com" or "[::1]"
  absl::string_view port;       // "" when absent
  absl::string_view rest;       // "/path?query", may be empty
};

bool SplitUrl(absl::string_view url, UrlParts* parts) {
  const size_t sep = url.find("://");
  if (sep == absl::string_view::npos) return false;
  parts->scheme = url.substr(0, sep);
  absl::string_view after = url.substr(sep + 3);
  const size_t slash = after.find_first_of("/?#");
  absl::string_view authority = after.substr(0, slash);
  parts->rest = slash == absl::string_view::npos ? absl::string_view() : after.substr(slash);
  // A bracketed IPv6 host may contain ':'; the port follows the ']'.
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket)) {
    parts->host = authority.substr(0, colon);
    parts->port = authority.substr(colon + 1);
  } else {
    parts->host = authority;
    parts->port = absl::string_view();
  }
  return !parts->host.empty();
}

}  // namespace

std::string ComputeSignature(absl::string_view auth_token, absl::string_view url,
                             const FormParams& params) {
  // Sorted by name, then value; a repeated identical pair counts once, as in
  // Twilio's libraries.
  FormParams sorted = params;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string data(url);
  for (const auto& [name, value] : sorted) {
    data.append(name);
    data.append(value);
  }
  return HmacSha1Base64(auth_token, data);
}

std::string AlternatePortForm(absl::string_view url) {
  UrlParts parts;
  if (!SplitUrl(url, &parts)) return std::string(url);
  const std::string scheme = absl::AsciiStrToLower(parts.scheme);
  const absl::string_view default_port = scheme == "https" ? "443" : scheme == "http" ? "80" : "";
  if (default_port.empty()) return std::string(url);
  if (!parts.port.empty() && parts.port != default_port) return std::string(url);
  return absl::StrCat(parts.scheme, "://", parts.host,
                      parts.port.empty() ? absl::StrCat(":", default_port) : "", parts.rest);
}

bool ValidateSignature(absl::string_view auth_token, absl::string_view url,
                       const FormParams& params, absl::string_view signature) {
  if (signature.empty() || auth_token.empty()) return false;
  // Both forms are always computed so that timing does not reveal which one
  // matched.
  const bool as_given = SecureEquals(ComputeSignature(auth_token, url, params), signature);
  const std::string other = AlternatePortForm(url);
  const bool alternate = SecureEquals(ComputeSignature(auth_token, other, params), signature);
  return as_given || alternate;
}

bool ValidateSignatureWithBody(absl::string_view auth_token, absl::string_view url,
                               absl::string_view body, absl::string_view signature) {
  const size_t q = url.find('?');
  if (q == absl::string_view::npos) return false;
  absl::string_view claimed;
  for (absl::string_view pair : absl::StrSplit(url.substr(q + 1), '&')) {
    if (absl::ConsumePrefix(&pair, "bodySHA256=")) claimed = pair;
  }
  if (claimed.empty()) return false;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  const std::string actual = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
  const bool body_ok = SecureEquals(actual, absl::AsciiStrToLower(claimed));
  const bool url_ok = ValidateSignature(auth_token, url, {}, signature);
  return body_ok && url_ok;
}

}  // namespace voipd::adapters::twilio
