#include "adapters/asterisk_ami/ami_login.h"

#include <openssl/evp.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace voipd::adapters::asterisk_ami {

AmiMessage ChallengeAction() {
  AmiMessage challenge = AmiMessage::Action("Challenge");
  challenge.Add("AuthType", "MD5");
  return challenge;
}

absl::StatusOr<AmiMessage> LoginAction(absl::string_view username, absl::string_view secret,
                                       absl::string_view events, bool md5,
                                       absl::string_view challenge) {
  AmiMessage login = AmiMessage::Action("Login");
  login.Add("Username", username);
  if (md5) {
    if (challenge.empty()) return absl::InvalidArgumentError("no MD5 challenge");
    absl::StatusOr<std::string> key = Md5Hex(absl::StrCat(challenge, secret));
    if (!key.ok()) return key.status();
    login.Add("AuthType", "MD5").Add("Key", *key);
  } else {
    login.Add("Secret", secret);
  }
  if (!events.empty()) login.Add("Events", events);
  return login;
}

absl::StatusOr<std::string> Md5Hex(absl::string_view data) {
  // Never hand-rolled: OpenSSL's digest. (EVP_md5 may be missing in a FIPS
  // build, which is reported rather than crashing.)
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr) != 1) {
    return absl::FailedPreconditionError("MD5 is not available in this OpenSSL (FIPS mode?)");
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace voipd::adapters::asterisk_ami
