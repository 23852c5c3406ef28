#include "daemon/daemon.h"

#include <utility>  // before asio (toolchain notes)

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "daemon/logging.h"
#include "daemon/server/grpc_server.h"

namespace voipd {

Daemon::Daemon(std::string config_path)
    : config_path_(std::move(config_path)), io_(std::make_unique<boost::asio::io_context>()) {}

Daemon::~Daemon() {
  Shutdown();
}

void Daemon::ApplyLimits(const DaemonSettings& settings) {
  LogLevel level;
  if (ParseLogLevel(settings.log_level, &level)) SetLogLevel(level);
  bus_->Resize(settings.event_window, settings.subscriber_max_lag);
  registry_->SetLimits(RegistryLimits{settings.ended_retention, settings.max_ended_calls});
  idempotency_->SetLimits(settings.idempotency_ttl, settings.idempotency_max_keys);
}

absl::StatusOr<SystemTablePtr> Daemon::BuildSystems(const DaemonSettings& settings,
                                                    const SystemTable* previous) {
  std::map<std::string, SystemEntry> systems;
  for (const SystemConfig& config : settings.systems) {
    const SystemEntry* old = previous ? previous->Find(config.name) : nullptr;
    if (old != nullptr && old->fingerprint == config.fingerprint) {
      systems[config.name] = *old;  // unchanged: keep the running instance
      continue;
    }
    adapters::AdapterContext context;
    context.system_name = config.name;
    context.events = registry_.get();
    context.io = io_.get();
    context.secrets = &secrets_;
    absl::StatusOr<adapters::AdapterPtr> adapter = config.factory->Create(*config.config, context);
    if (!adapter.ok()) {
      return absl::Status(adapter.status().code(),
                          absl::StrCat("systems.", config.name, ": ", adapter.status().message()));
    }
    systems[config.name] = SystemEntry{config.name, config.type, std::move(*adapter),
                                       config.fingerprint};
  }
  return std::make_shared<const SystemTable>(std::move(systems), settings.default_system,
                                             settings.default_region, settings.routes);
}

absl::Status Daemon::Start(const DaemonSettings& settings) {
  settings_ = settings;
  bus_ = std::make_unique<EventBus>(settings.event_window, settings.subscriber_max_lag);
  registry_ = std::make_unique<CallRegistry>(
      bus_.get(), RegistryLimits{settings.ended_retention, settings.max_ended_calls});
  idempotency_ =
      std::make_unique<IdempotencyCache>(settings.idempotency_ttl, settings.idempotency_max_keys);
  ApplyLimits(settings);

  absl::StatusOr<SystemTablePtr> systems = BuildSystems(settings, nullptr);
  if (!systems.ok()) return systems.status();
  controller_ = std::make_unique<CallController>(registry_.get(), idempotency_.get(), io_.get(),
                                                 *systems,
                                                 ControllerLimits{settings.end_call_timeout});
  io_thread_ = std::thread([io = io_.get()] {
    auto guard = boost::asio::make_work_guard(*io);
    io->run();
  });
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(settings.listen, controller_.get(), registry_.get(), bus_.get());
  if (!server.ok()) return server.status();
  server_ = std::move(*server);
  std::vector<std::string> names;
  for (const auto& s : settings.systems) names.push_back(absl::StrCat(s.name, " (", s.type, ")"));
  LogInfo("daemon", absl::StrCat("listening on ", absl::StrJoin(server_->bound_addresses(), ", "),
                                 "; systems: ", absl::StrJoin(names, ", "),
                                 "; default: ", settings.default_system));
  return absl::OkStatus();
}

absl::Status Daemon::Reload() {
  if (config_path_.empty()) {
    LogInfo("daemon", "reload: running on the embedded default config; nothing to re-read");
    return absl::OkStatus();
  }
  absl::StatusOr<DaemonSettings> settings = LoadConfigFile(config_path_);
  if (!settings.ok()) {
    LogError("daemon", absl::StrCat("reload rejected, keeping the running config: ",
                                    settings.status().message()));
    return settings.status();
  }
  SystemTablePtr previous = controller_->systems();
  absl::StatusOr<SystemTablePtr> systems = BuildSystems(*settings, previous.get());
  if (!systems.ok()) {
    LogError("daemon", absl::StrCat("reload rejected, keeping the running config: ",
                                    systems.status().message()));
    return systems.status();
  }
  if (settings->listen != settings_.listen) {
    LogWarn("daemon", "reload: `listen` changes take effect only after a restart");
  }
  controller_->SetSystems(*systems, ControllerLimits{settings->end_call_timeout});
  ApplyLimits(*settings);
  // Adapters that left the table stop once their last call has ended (the
  // calls hold them); the ones still running are shared with the new table.
  settings->listen = settings_.listen;
  settings_ = std::move(*settings);
  LogInfo("daemon", absl::StrCat("reloaded ", config_path_));
  return absl::OkStatus();
}

void Daemon::Shutdown() {
  if (stopped_ || !controller_) return;
  stopped_ = true;
  controller_->BeginShutdown();
  if (server_) server_->SetServing(false);
  if (settings_.shutdown_end_active_calls) {
    auto all_ended = std::make_shared<absl::Notification>();
    controller_->EndAllCalls(settings_.shutdown_grace, [all_ended] { all_ended->Notify(); });
    // EndAllCalls forces every call to an end after the grace period, so
    // this wait is bounded; the margin covers the timers' own latency.
    all_ended->WaitForNotificationWithTimeout(settings_.shutdown_grace + absl::Seconds(2));
  }
  bus_->CloseAll(absl::UnavailableError(absl::StrCat(
      "voipd is shutting down; reconnect and resume with after_sequence=",
      bus_->last_sequence())));
  // Streams were closed above, so only unary calls in flight remain.
  if (server_) server_->Shutdown(absl::Seconds(1));
  for (const auto& [name, entry] : controller_->systems()->systems()) entry.adapter->Shutdown();
  io_->stop();
  if (io_thread_.joinable()) io_thread_.join();
  LogInfo("daemon", "stopped");
}

std::vector<std::string> Daemon::listen_addresses() const {
  return server_ ? server_->bound_addresses() : std::vector<std::string>{};
}

}  // namespace voipd
