#include "adapters/twilio/twilio_credentials.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters::twilio {
namespace {

bool LooksLikeSid(absl::string_view value, absl::string_view prefix) {
  if (value.size() != 34 || !absl::StartsWith(value, prefix)) return false;
  for (char c : value.substr(2)) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

absl::StatusOr<std::string> ReadOne(const SecretReader* reader, absl::string_view field,
                                    const std::string& path) {
  if (reader == nullptr) {
    return ConfigurationError(absl::StrCat(field, ": no secret reader available"), "");
  }
  absl::StatusOr<std::string> value = reader->ReadSecretFile(path);
  if (!value.ok()) {
    // The reader's message names the path, never the content.
    return ConfigurationError(absl::StrCat(field, ": ", value.status().message()));
  }
  std::string v(absl::StripAsciiWhitespace(*value));
  if (v.empty()) return ConfigurationError(absl::StrCat(field, ": the file is empty"));
  return v;
}

}  // namespace

TwilioCredentials::TwilioCredentials(const SecretReader* reader, const TwilioSettings& settings)
    : reader_(reader),
      account_sid_file_(settings.account_sid_file),
      auth_token_file_(settings.auth_token_file),
      api_key_sid_file_(settings.api_key_sid_file),
      api_key_secret_file_(settings.api_key_secret_file),
      auth_(absl::UnavailableError("credentials not read yet")) {}

absl::StatusOr<TwilioAuth> TwilioCredentials::ReadAll() const {
  TwilioAuth auth;
  absl::StatusOr<std::string> sid = ReadOne(reader_, "account_sid_file", account_sid_file_);
  if (!sid.ok()) return sid.status();
  if (!LooksLikeSid(*sid, "AC")) {
    return ConfigurationError(
        "account_sid_file: the file does not hold an Account SID (\"AC\" + 32 hex digits)");
  }
  auth.account_sid = *sid;
  if (!auth_token_file_.empty()) {
    absl::StatusOr<std::string> token = ReadOne(reader_, "auth_token_file", auth_token_file_);
    if (!token.ok()) return token.status();
    auth.auth_token = *token;
  }
  if (!api_key_sid_file_.empty()) {
    absl::StatusOr<std::string> key = ReadOne(reader_, "api_key_sid_file", api_key_sid_file_);
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> secret =
        ReadOne(reader_, "api_key_secret_file", api_key_secret_file_);
    if (!secret.ok()) return secret.status();
    auth.rest_user = *key;
    auth.rest_password = *secret;
  } else {
    auth.rest_user = auth.account_sid;
    auth.rest_password = auth.auth_token;
  }
  return auth;
}

absl::Status TwilioCredentials::Reload() {
  absl::StatusOr<TwilioAuth> auth = ReadAll();
  absl::MutexLock lock(&mu_);
  last_attempt_ = absl::Now();
  auth_ = std::move(auth);
  return auth_.status();
}

void TwilioCredentials::RetryIfFailing(absl::Duration min_interval) {
  {
    absl::MutexLock lock(&mu_);
    if (auth_.ok() || absl::Now() - last_attempt_ < min_interval) return;
  }
  (void)Reload();
}

absl::StatusOr<TwilioAuth> TwilioCredentials::Get() const {
  absl::MutexLock lock(&mu_);
  return auth_;
}

}  // namespace voipd::adapters::twilio
