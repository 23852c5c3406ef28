// The per-RPC edge work every VoipService method shares: authenticate and
// authorize the caller, write the audit line, and finish unary RPCs while
// recording their latency. gRPC-specific, so it lives in daemon/server/.
#pragma once

#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/security/principal.h"
#include "daemon/server/event_stream.h"
#include "daemon/server/grpc_server.h"

namespace voipd {

class RpcContext {
 public:
  RpcContext(grpc::CallbackServerContext* ctx, const ServiceDeps& deps, const char* method);

  // Checks the bearer token and the method's scope. On failure logs the
  // audit line, counts it, and returns the status to finish with.
  absl::StatusOr<Principal> Authorize(absl::string_view session_id);

  // Finishes a unary RPC: metrics, and for calls:write methods (and every
  // refusal) an audit line naming the token, peer, RPC and session.
  void Finish(grpc::ServerUnaryReactor* reactor, const absl::Status& status,
              absl::string_view session_id, absl::string_view system = {}) const;

  // For a stream, after Authorize gave `principal`: what to re-check before
  // each event it writes.
  StreamCaller StreamCallerFor(const Principal& principal) const;

  const char* method() const { return method_; }
  const std::string& principal_name() const { return principal_name_; }

 private:
  // The client's address, for audit lines only: most RPCs write none, so it
  // is fetched (a formatted string from gRPC) only when one is written.
  std::string peer() const;

  grpc::CallbackServerContext* const ctx_;  // valid until Finish
  const ServiceDeps deps_;
  const char* const method_;
  const absl::Time start_;
  std::optional<std::string> authorization_;  // the header, never logged
  std::string principal_name_ = "-";
};

// Writes one audit line. Never given a token or hash: only the token name.
void AuditLine(bool allowed, absl::string_view token, absl::string_view peer,
               absl::string_view method, absl::string_view session_id, absl::string_view outcome,
               absl::string_view system = {});

}  // namespace voipd
