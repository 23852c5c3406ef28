#include "daemon/security/listener_policy.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace voipd {
namespace {

// "host:port" / "[v6]:port" / "ipv4:host:port" → host.
std::string HostOf(std::string address) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "dns:"}) {
    if (absl::StartsWith(address, scheme)) address = address.substr(scheme.size());
  }
  if (!address.empty() && address.front() == '[') {
    const size_t end = address.find(']');
    return end == std::string::npos ? address : address.substr(1, end - 1);
  }
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace

bool IsLocalListener(const std::string& address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  const std::string host = HostOf(address);
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as dotted decimal.
  if (absl::StartsWith(host, "127.")) {
    int dots = 0;
    for (char c : host) dots += c == '.';
    return dots == 3;
  }
  return false;
}

absl::Status CheckListenerExposure(const std::vector<std::string>& addresses,
                                   const SecuritySettings& security, const std::string& what) {
  if (security.authenticates() || security.allow_insecure) return absl::OkStatus();
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (IsLocalListener(addresses[i])) continue;
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
