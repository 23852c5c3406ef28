#include "daemon/security/listener_policy.h"

#include "adapters/api/tcp_listener.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace voipd {
absl::Status CheckListenerExposure(const std::vector<std::string>& addresses,
                                   const SecuritySettings& security, const std::string& what) {
  if (security.authenticates() || security.allow_insecure) return absl::OkStatus();
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (adapters::IsLocalAddress(addresses[i])) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        what, "[", i, "]: '",
        addresses[i],
        "' is reachable from other hosts but no client has to authenticate: anyone could "
        "place calls (toll fraud). Configure auth.tokens (or tls.client_ca_file), listen on "
        "loopback or a unix socket, or set allow_insecure: true"));
  }
  return absl::OkStatus();
}

}  // namespace voipd
