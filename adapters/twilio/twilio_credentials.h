// The account's credentials, read from files through the core's
// SecretReader. Nothing here ever logs or returns a secret in a message.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/api/adapter_context.h"
#include "adapters/twilio/twilio_config.h"

namespace voipd::adapters::twilio {

struct TwilioAuth {
  std::string account_sid;    // "AC..." (REST paths)
  std::string rest_user;      // Basic auth: the Account SID or API Key SID
  std::string rest_password;  // Basic auth: the Auth Token or API Key secret
  std::string auth_token;     // X-Twilio-Signature key; empty if not configured
};

class TwilioCredentials {
 public:
  TwilioCredentials(const SecretReader* reader, const TwilioSettings& settings);

  // Reads every configured file again. On failure the previous good
  // credentials are dropped: a file that became unreadable is a
  // configuration problem the operator must see (health: unhealthy).
  absl::Status Reload();
  // Reload(), but at most once per `min_interval`, and only while failing.
  void RetryIfFailing(absl::Duration min_interval);
  // The credentials, or CONFIGURATION_ERROR naming the file that failed.
  absl::StatusOr<TwilioAuth> Get() const;

 private:
  absl::StatusOr<TwilioAuth> ReadAll() const;

  const SecretReader* const reader_;
  const std::string account_sid_file_;
  const std::string auth_token_file_;
  const std::string api_key_sid_file_;
  const std::string api_key_secret_file_;

  mutable absl::Mutex mu_;
  absl::StatusOr<TwilioAuth> auth_ ABSL_GUARDED_BY(mu_);
  absl::Time last_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace voipd::adapters::twilio
