// The gRPC listener: VoipService, grpc.health.v1.Health and server
// reflection. Kept behind a pimpl so that gRPC's heavy headers stay in
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

namespace voipd {

class GrpcServer {
 public:
  // Binds every address ("127.0.0.1:0" picks a free port) and starts serving.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const std::vector<std::string>& listen,
                                                           CallController* controller,
                                                           CallRegistry* registry, EventBus* bus);
  ~GrpcServer();

  // The addresses actually bound, with port 0 replaced by the chosen port.
  const std::vector<std::string>& bound_addresses() const;
  // grpc.health.v1: SERVING or NOT_SERVING.
  void SetServing(bool serving);
  // Stops accepting RPCs, lets running ones finish until `deadline`, then
  // cancels the rest.
  void Shutdown(absl::Duration deadline);

 private:
  struct Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace voipd
