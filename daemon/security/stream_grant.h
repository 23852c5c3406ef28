// What a long-lived stream (WatchCall, SubscribeCallEvents) was authorized
// with, so that it does not outlive its token's rights.
//
// A reload can revoke a token, rotate its secret, take a scope away, turn
// authentication on, or change a tenant's labels. A unary RPC meets the new
// table on its next call; a stream is authorized once, when it opens, and
// would otherwise go on delivering events to a revoked token. So the stream
// asks Check() before each write, and the daemon wakes every stream after a
// reload so that an idle one is ended too.
//
// Holds the token's SHA-256 (what the config holds), never the token.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "daemon/security/authorizer.h"
#include "daemon/security/principal.h"

namespace voipd {

class StreamGrant {
 public:
  // `principal` is what `authorizer` gave for the token with digest
  // `token_sha256` (nullopt: none was presented) and `method`.
  StreamGrant(const Authorizer* authorizer, std::optional<std::string> token_sha256,
              Principal principal, std::string method);

  // OK while the token grants what it granted when the stream opened;
  // otherwise the status to end the stream with:
  // - UNAUTHENTICATED: the token was removed or rotated, or tokens are now
  //   required and the stream has none;
  // - PERMISSION_DENIED: the token lost the method's scope;
  // - UNAVAILABLE: the token's tenant labels changed, so the stream's
  //   filter is stale; opening it again applies the new ones.
  // The first call always re-checks (a reload may have come between the
  // RPC's authorization and the stream's start); later ones only after the
  // token table changed (an atomic load otherwise). Once failed it stays
  // failed. One stream's drain loop calls it, so it is not thread-safe.
  absl::Status Check();

  const std::string& principal_name() const { return principal_.name; }
  const std::string& method() const { return method_; }

 private:
  absl::Status Recheck() const;

  const Authorizer* const authorizer_;
  const std::optional<std::string> token_sha256_;
  const Principal principal_;
  const std::string method_;
  std::optional<uint64_t> checked_generation_;  // none: not checked yet
  absl::Status status_;
};

}  // namespace voipd
