// Bearer-token authentication and scope checks. The token table is
// replaced on reload; lookups hash the presented token once and compare it
// against every stored hash in constant time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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

  // For sessions that outlive a token table (StreamGrant, an adapter's
  // registered page): the SHA-256 of the well-formed bearer token in
  // `authorization` (nullopt when there is none), and the caller known by
  // that digest as the current table has it. When the table no longer
  // accepts it, UNAUTHENTICATED saying so about `previous_name` (what the
  // caller was authenticated as: a token name, or "anonymous").
  static std::optional<std::string> DigestOf(std::optional<absl::string_view> authorization);
  absl::StatusOr<Principal> Reauthenticate(const std::optional<std::string>& sha256,
                                           absl::string_view previous_name) const;
  // PERMISSION_DENIED (with the required scope) unless `principal` may call
  // `method`; Authorize's own scope check.
  static absl::Status RequireScope(const Principal& principal, absl::string_view method);
  // Bumped by every SetTokens, so a stream re-checks its token only after
  // the table changed.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  using TokenTable = std::shared_ptr<const std::vector<TokenSpec>>;
  TokenTable tokens() const;

  std::atomic<uint64_t> generation_{0};
  mutable absl::Mutex mu_;
  TokenTable tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd
