// Wires the core together and runs its lifecycle: start, SIGHUP reload,
// graceful SIGTERM shutdown. Signals themselves are handled in main.cc.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/secret_file_reader.h"
#include "daemon/core/call_controller.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/event_bus.h"
#include "daemon/core/idempotency_cache.h"
#include "daemon/core/system_table.h"

namespace boost::asio {
class io_context;
}

namespace voipd {

class GrpcServer;

class Daemon {
 public:
  // `config_path` is re-read on Reload(); empty means the embedded default.
  explicit Daemon(std::string config_path);
  ~Daemon();

  absl::Status Start(const DaemonSettings& settings);
  // Re-reads the config. A bad file or a system that fails to start leaves
  // everything as it was. Live calls and streams are never interrupted.
  absl::Status Reload();
  // Ends calls (per config), closes streams with a final status, stops.
  void Shutdown();

  std::vector<std::string> listen_addresses() const;

 private:
  absl::StatusOr<SystemTablePtr> BuildSystems(const DaemonSettings& settings,
                                              const SystemTable* previous);
  void ApplyLimits(const DaemonSettings& settings);

  const std::string config_path_;
  DaemonSettings settings_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::thread io_thread_;
  SecretFileReader secrets_;
  std::unique_ptr<EventBus> bus_;
  std::unique_ptr<CallRegistry> registry_;
  std::unique_ptr<IdempotencyCache> idempotency_;
  std::unique_ptr<CallController> controller_;
  std::unique_ptr<GrpcServer> server_;
  bool stopped_ = false;
};

}  // namespace voipd
