// SHA-256 of bearer tokens (OpenSSL EVP) and a constant-time comparison, so
// that neither stored hashes nor response timing reveal a token.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace voipd {

// The 32 raw bytes of SHA-256(data).
std::string Sha256(absl::string_view data);
// 64 hex digits (either case) → 32 raw bytes; nullopt if malformed.
std::optional<std::string> DecodeSha256Hex(absl::string_view hex);
// Compares in time that depends only on the length.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace voipd
