// Bearer-token authentication and scope checks. The token table is
// replaced on reload; lookups hash the presented token once and compare it
// against every stored hash in constant time.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "daemon/security/principal.h"
#include "daemon/security/security_settings.h"

namespace voipd {

class Authorizer {
 public:
  explicit Authorizer(std::vector<TokenSpec> tokens = {});

  void SetTokens(std::vector<TokenSpec> tokens);
  // False when no tokens are configured: every caller is "anonymous" admin
  // (only allowed on loopback/unix listeners or with mTLS or allow_insecure).
  bool enabled() const;

  // `authorization` is the value of the `authorization` request header
  // ("Bearer <token>"), nullopt when absent. UNAUTHENTICATED when missing,
  // malformed or unknown; PERMISSION_DENIED when the token lacks the scope
  // `method` needs.
  // Who presents `authorization`, without a scope check (UNAUTHENTICATED
  // as Authorize). Used by adapters' own listeners (webrtc signaling).
  absl::StatusOr<Principal> Authenticate(std::optional<absl::string_view> authorization) const;

  absl::StatusOr<Principal> Authorize(std::optional<absl::string_view> authorization,
                                      absl::string_view method) const;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const std::vector<TokenSpec>> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd
