#include "adapters/sip/sip_credentials.h"

#include "adapters/sip/sip_context.h"

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)

namespace voipd::adapters::sip {

int ProvideCredentials(char** user, char** password, const char*, void* arg) {
  const auto* ctx = static_cast<const SipContext*>(arg);
  if (ctx->settings.username.empty() || ctx->password.empty()) return EAUTH;
  int err = str_dup(user, ctx->settings.username.c_str());
  err |= str_dup(password, ctx->password.c_str());
  return err;
}

}  // namespace voipd::adapters::sip
