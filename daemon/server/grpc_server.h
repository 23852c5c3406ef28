// The gRPC listener: VoipService, grpc.health.v1.Health and server
// reflection, on TCP (optionally TLS/mTLS), unix sockets and sockets passed
// by systemd. Plaintext listeners are voipd's own (plaintext_listener.h),
// TLS ones gRPC's. Kept behind a pimpl so that gRPC's heavy headers stay in
// daemon/server/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/core/call_controller.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/event_bus.h"
#include "daemon/observability/metrics.h"
#include "daemon/security/authorizer.h"
#include "daemon/security/call_admission.h"
#include "daemon/security/security_settings.h"

namespace voipd {

// What the service needs from the rest of the daemon; all outlive the server.
struct ServiceDeps {
  CallController* controller = nullptr;
  CallRegistry* registry = nullptr;
  EventBus* bus = nullptr;
  const Authorizer* authorizer = nullptr;
  const CallAdmission* admission = nullptr;
  Metrics* metrics = nullptr;
};

struct GrpcServerOptions {
  std::vector<std::string> listen;  // ignored when activated_fds is not empty
  std::vector<int> activated_fds;   // socket activation: inherited listeners
  SecuritySettings security;
};

class GrpcServer {
 public:
  // Binds every address ("127.0.0.1:0" picks a free port) and starts serving.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                           const ServiceDeps& deps);
  ~GrpcServer();

  // The addresses actually bound, with port 0 replaced by the chosen port.
  const std::vector<std::string>& bound_addresses() const;
  // grpc.health.v1 for the daemon (service ""): SERVING or NOT_SERVING.
  // Safe from any thread, also after Shutdown (then a no-op). Watchers hear
  // only changes, however often it is called.
  void SetServing(bool serving);
  // A named health entry for one part of the daemon ("voipd.history"): the
  // daemon stays SERVING while that part is degraded. Independent of
  // SetServing.
  void SetComponentServing(const std::string& service, bool serving);
  // Every entry NOT_SERVING: the daemon is stopping.
  void StopServing();
  // Re-reads the TLS certificate, key and client CA files now (SIGHUP); new
  // connections get them. On error the served certificate stays.
  absl::Status ReloadTls();
  // Stops accepting RPCs, lets running ones finish until `deadline`, then
  // cancels the rest.
  void Shutdown(absl::Duration deadline);

 private:
  struct Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace voipd
