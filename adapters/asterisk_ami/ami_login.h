// The login actions: plaintext `Login` with `Secret`, or the MD5 handshake
// (`Challenge` with AuthType MD5, then `Login` with Key = MD5(challenge +
// secret), so the secret never crosses the wire).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/asterisk_ami/ami_message.h"

namespace voipd::adapters::asterisk_ami {

AmiMessage ChallengeAction();

// `challenge` is used (and required) when md5 is true. `events` may be empty
// (no Events header: Asterisk's default mask).
absl::StatusOr<AmiMessage> LoginAction(absl::string_view username, absl::string_view secret,
                                       absl::string_view events, bool md5,
                                       absl::string_view challenge);

// Lower-case hex MD5 through OpenSSL's EVP interface. An error when the
// OpenSSL build refuses MD5 (FIPS mode).
absl::StatusOr<std::string> Md5Hex(absl::string_view data);

}  // namespace voipd::adapters::asterisk_ami
