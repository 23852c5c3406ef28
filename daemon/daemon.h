// Wires the core together and runs its lifecycle: start, SIGHUP reload,
// graceful SIGTERM shutdown. Signals themselves are handled in main.cc.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/secret_file_reader.h"
#include "daemon/core/call_controller.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/core_call_host.h"
#include "daemon/core/event_bus.h"
#include "daemon/core/idempotency_cache.h"
#include "daemon/core/system_table.h"
#include "daemon/history/durable_history.h"
#include "daemon/observability/liveness_gate.h"
#include "daemon/observability/metrics.h"
#include "daemon/security/authorizer.h"
#include "daemon/security/call_limiter.h"

namespace boost::asio {
class io_context;
class thread_pool;
}

namespace voipd {

class GrpcServer;
class CallMetrics;
class ProviderMetrics;
class Heartbeat;
class MetricsHttpServer;

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
  // "host:port" of the metrics endpoint; empty when it is off.
  std::string metrics_address() const;
  // "N active calls", for systemd's STATUS=.
  std::string StatusLine() const;

 private:
  absl::StatusOr<SystemTablePtr> BuildSystems(const DaemonSettings& settings,
                                              const SystemTable* previous);
  void ApplyLimits(const DaemonSettings& settings);
  absl::Status StartObservability(const DaemonSettings& settings);
  // Runs on the io_context: watchdog keepalive, STATUS=, health.
  void Tick();
  bool DefaultSystemHealthy() const;
  // Whether call history is being written (false also without one).
  bool HistoryHealthy() const;
  // Calls that were active when the previous run died: each gets its one
  // terminal event (DAEMON_RESTART).
  void RecoverActiveCalls();
  void CollectGauges(std::string* out) const;

  const std::string config_path_;
  DaemonSettings settings_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::thread io_thread_;
  // Runs subscriber wake-ups (gRPC writes) off the publishing threads.
  // Declared before bus_ so that it outlives it.
  std::unique_ptr<boost::asio::thread_pool> fanout_;
  SecretFileReader secrets_;
  std::unique_ptr<EventBus> bus_;
  // Durable history; null when no state_dir is configured. Stopped before
  // bus_ goes away.
  std::unique_ptr<history::DurableHistory> history_;
  // A state_dir is configured but its database could not be opened for a
  // disk fault: voipd runs without history, reported as degraded.
  bool history_unavailable_ = false;
  std::unique_ptr<CallRegistry> registry_;
  std::unique_ptr<IdempotencyCache> idempotency_;
  // Adapters keep a pointer to it, so it outlives controller_ (which holds
  // them); it is detached at Shutdown, before anything it uses goes away.
  std::unique_ptr<CoreCallHost> host_;
  std::unique_ptr<CallController> controller_;
  std::unique_ptr<GrpcServer> server_;
  Metrics metrics_;
  Authorizer authorizer_;
  std::unique_ptr<CallLimiter> limiter_;
  // The gRPC StartCall and adapter-placed calls (host_) both go through it.
  std::unique_ptr<CallAdmission> admission_;
  std::unique_ptr<CallMetrics> call_metrics_;
  std::unique_ptr<ProviderMetrics> provider_metrics_;
  std::unique_ptr<MetricsHttpServer> metrics_server_;
  std::unique_ptr<Heartbeat> heartbeat_;
  bool watchdog_ = false;
  // Probes the adapters' own loops (LivenessGate); touched only by Tick.
  std::unique_ptr<LivenessGate> liveness_;
  std::vector<std::string> stuck_systems_;
  std::string last_status_;  // touched only by Tick (io thread)
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
};

}  // namespace voipd
