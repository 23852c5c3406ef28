#include "daemon/daemon.h"

#include <pthread.h>

#include <utility>  // before asio (toolchain notes)

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "daemon/adapter_logger.h"
#include "daemon/core/call_recovery.h"
#include "daemon/core/call_state_machine.h"
#include "daemon/logging.h"
#include "daemon/observability/call_metrics.h"
#include "daemon/observability/heartbeat.h"
#include "daemon/observability/metrics_http_server.h"
#include "daemon/observability/provider_metrics.h"
#include "daemon/observability/sd_notify.h"
#include "daemon/security/listener_policy.h"
#include "daemon/server/grpc_server.h"
#include "daemon/server/socket_activation.h"

namespace voipd {

// How long an adapter may take to say whether a call from before a crash
// still exists (an AMI or REST round trip after connecting).
constexpr absl::Duration kReadoptTimeout = absl::Seconds(15);

Daemon::Daemon(std::string config_path)
    : config_path_(std::move(config_path)), io_(std::make_unique<boost::asio::io_context>()) {}

Daemon::~Daemon() {
  Shutdown();
}

void Daemon::ApplyLimits(const DaemonSettings& settings) {
  LogLevel level;
  if (ParseLogLevel(settings.log_level, &level)) SetLogLevel(level);
  LogFormat format;
  if (ParseLogFormat(settings.log_format, &format)) SetLogFormat(format);
  authorizer_.SetTokens(settings.security.tokens);
  limiter_->SetLimits(settings.security.tokens);
  bus_->Resize(settings.event_window, settings.subscriber_max_lag);
  registry_->SetLimits(RegistryLimits{settings.ended_retention, settings.max_ended_calls});
  if (history_) history_->SetRetention(settings.history.retention);
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
    context.host = host_.get();
    context.logger = &CoreAdapterLogger();
    absl::StatusOr<adapters::AdapterPtr> adapter = config.factory->Create(*config.config, context);
    if (!adapter.ok()) {
      return absl::Status(adapter.status().code(),
                          absl::StrCat(config.where, "systems.", config.name, ": ",
                                       adapter.status().message()));
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
  // One thread keeps wake-ups in order and off the RPC that published the
  // event: with 1,000 subscribers StartCall otherwise waited for 1,000
  // StartWrites (bench scenario d, docs/performance.md).
  fanout_ = std::make_unique<boost::asio::thread_pool>(1);
  boost::asio::post(*fanout_, [] { pthread_setname_np(pthread_self(), "voipd-fanout"); });
  bus_->SetWakeDispatcher([pool = fanout_.get()](EventBus::WakeList subscribers) {
    boost::asio::post(*pool, [subscribers = std::move(subscribers)]() mutable {
      EventBus::Wake(subscribers);
    });
  });
  registry_ = std::make_unique<CallRegistry>(
      bus_.get(), RegistryLimits{settings.ended_retention, settings.max_ended_calls});
  idempotency_ =
      std::make_unique<IdempotencyCache>(settings.idempotency_ttl, settings.idempotency_max_keys);
  limiter_ = std::make_unique<CallLimiter>([registry = registry_.get()](const std::string& id) {
    absl::StatusOr<voip::v1::CallSession> s = registry->Snapshot(id);
    return s.ok() && !IsTerminal(s->status());
  });
  ApplyLimits(settings);  // first: log format and level apply from here on
  if (!settings.state_dir.empty()) {
    absl::StatusOr<std::unique_ptr<history::DurableHistory>> history =
        history::DurableHistory::Open(settings.state_dir, settings.history,
                                      settings.idempotency_ttl, settings.event_window);
    if (history.ok()) {
      history_ = std::move(*history);
    } else if (absl::IsUnavailable(history.status())) {
      // A disk that is full, read-only or failing does not stop calls
      // (docs/history.md, "When the disk fails"), also at start: run
      // without history, degraded. A damaged or foreign file (DATA_LOSS)
      // or a state_dir that cannot be made still stops the start.
      LogError("history",
               absl::StrCat("cannot open the call history in ", settings.state_dir, ": ",
                            history.status().message(),
                            "; running without it until voipd is restarted with a working "
                            "state_dir (calls work; nothing is recorded; calls active at a crash "
                            "are not recovered; event sequence numbers start again at 1)"));
      history_unavailable_ = true;
    } else {
      return history.status();
    }
  } else {
    LogWarn("history", "no state_dir: call history is kept in memory only and lost on restart");
  }
  if (history_) history_->Start(bus_.get(), idempotency_.get(), settings.idempotency_ttl);
  admission_ = std::make_unique<CallAdmission>(limiter_.get(), &metrics_);
  host_ = std::make_unique<CoreCallHost>(&authorizer_, admission_.get(), bus_.get());

  GrpcServerOptions options{settings.listen, {}, settings.security};
  absl::StatusOr<std::vector<int>> activated = TakeActivatedSockets();
  if (!activated.ok()) return activated.status();
  if (!activated->empty()) {
    options.activated_fds = *activated;
    std::vector<std::string> addresses;
    for (int fd : *activated) addresses.push_back(DescribeSocket(fd));
    if (absl::Status s = CheckListenerExposure(addresses, settings.security,
                                               "socket-activated listener");
        !s.ok()) {
      return s;
    }
    LogInfo("daemon", absl::StrCat("socket-activated: serving on ", absl::StrJoin(addresses, ", "),
                                   " instead of `listen`"));
  }

  absl::StatusOr<SystemTablePtr> systems = BuildSystems(settings, nullptr);
  if (!systems.ok()) return systems.status();
  controller_ = std::make_unique<CallController>(registry_.get(), idempotency_.get(), io_.get(),
                                                 *systems,
                                                 ControllerLimits{settings.end_call_timeout});
  host_->Attach(controller_.get());
  if (history_) controller_->SetHistory(history_.get());
  io_thread_ = std::thread([io = io_.get()] {
    pthread_setname_np(pthread_self(), "voipd-io");
    auto guard = boost::asio::make_work_guard(*io);
    io->run();
  });
  if (history_) RecoverActiveCalls();
  if (absl::Status s = StartObservability(settings); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
      options, ServiceDeps{controller_.get(), registry_.get(), bus_.get(), &authorizer_,
                           admission_.get(), &metrics_});
  if (!server.ok()) return server.status();
  server_ = std::move(*server);
  server_->SetServing(DefaultSystemHealthy());
  if (history_ || history_unavailable_) {
    server_->SetComponentServing("voipd.history", HistoryHealthy());
  }
  std::vector<std::string> names;
  for (const auto& s : settings.systems) names.push_back(absl::StrCat(s.name, " (", s.type, ")"));
  LogInfo("daemon", absl::StrCat("listening on ", absl::StrJoin(server_->bound_addresses(), ", "),
                                 "; systems: ", absl::StrJoin(names, ", "),
                                 "; default: ", settings.default_system,
                                 authorizer_.enabled()
                                     ? absl::StrCat("; ", settings.security.tokens.size(),
                                                    " tokens")
                                     : "; no client authentication",
                                 settings.security.tls.enabled() ? "; TLS" : ""));

  // Keepalives at a third of WatchdogSec leave room for a slow tick; without
  // a watchdog the tick still refreshes STATUS= and the health service.
  const std::optional<absl::Duration> watchdog = WatchdogTimeout();
  watchdog_ = watchdog.has_value();
  // An adapter loop that has not come round for half of WatchdogSec is
  // stuck: the keepalives stop, and systemd restarts voipd the other half
  // later. Without a watchdog it is only logged.
  liveness_ = std::make_unique<LivenessGate>(watchdog ? *watchdog / 2 : absl::Seconds(10));
  const absl::Duration period =
      watchdog ? std::max(absl::Milliseconds(50), std::min(absl::Seconds(1), *watchdog / 3))
               : absl::Seconds(1);
  heartbeat_ = std::make_unique<Heartbeat>(io_.get(), period, [this] { Tick(); });
  heartbeat_->Start();
  return absl::OkStatus();
}

absl::Status Daemon::StartObservability(const DaemonSettings& settings) {
  absl::StatusOr<std::unique_ptr<CallMetrics>> call_metrics =
      CallMetrics::Start(bus_.get(), &metrics_);
  if (!call_metrics.ok()) return call_metrics.status();
  call_metrics_ = std::move(*call_metrics);
  provider_metrics_ = std::make_unique<ProviderMetrics>(&metrics_);
  controller_->SetProviderObserver(provider_metrics_.get());
  metrics_.AddCollector([this](std::string* out) { CollectGauges(out); });
  if (settings.metrics_listen.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
      MetricsHttpServer::Start(settings.metrics_listen, [this] { return metrics_.Render(); });
  if (!http.ok()) return http.status();
  metrics_server_ = std::move(*http);
  LogInfo("daemon", absl::StrCat("metrics on http://", metrics_server_->address(), "/metrics"));
  return absl::OkStatus();
}

void Daemon::CollectGauges(std::string* out) const {
  std::vector<std::pair<MetricLabels, double>> active;
  std::vector<std::pair<MetricLabels, double>> up;
  const std::map<std::string, int> counts = registry_->ActiveCountBySystem();
  for (const auto& [name, entry] : controller_->systems()->systems()) {
    auto it = counts.find(name);
    active.push_back({{{"system", name}}, it == counts.end() ? 0.0 : it->second});
    const adapters::Health health = entry.adapter->health();
    up.push_back({{{"system", name}, {"type", entry.type}},
                  health.state == adapters::Health::State::kHealthy    ? 1.0
                  : health.state == adapters::Health::State::kDegraded ? 0.5
                                                                       : 0.0});
  }
  Metrics::AppendGauge(out, "voipd_active_calls", "Calls not yet in a terminal state.", active);
  Metrics::AppendGauge(out, "voipd_system_up",
                       "Adapter connection state: 1 healthy, 0.5 degraded, 0 down.", up);
  // Count clients' streams only: not the metrics feed itself, nor the
  // adapters' WatchSystem feeds (the webrtc pages' status widget).
  const double subscribers = static_cast<double>(bus_->subscriber_count()) - 1 -
                             static_cast<double>(host_->system_watches());
  Metrics::AppendGauge(out, "voipd_active_subscribers", "Open WatchCall/SubscribeCallEvents streams.",
                       {{{}, std::max(0.0, subscribers)}});
  Metrics::AppendGauge(out, "voipd_event_bus_last_sequence", "Sequence of the newest event.",
                       {{{}, static_cast<double>(bus_->last_sequence())}});
  if (history_ || history_unavailable_) {
    Metrics::AppendGauge(out, "voipd_history_healthy",
                         "1 while call history is written to disk, 0 after a write failed.",
                         {{{}, HistoryHealthy() ? 1.0 : 0.0}});
    Metrics::AppendGauge(out, "voipd_history_write_errors",
                         "History write batches that failed since start.",
                         {{{}, history_ ? static_cast<double>(history_->write_errors()) : 0.0}});
  }
  Metrics::AppendGauge(out, "voipd_ready", "1 while grpc.health.v1 reports SERVING.",
                       {{{}, !stopping_.load() && DefaultSystemHealthy() ? 1.0 : 0.0}});
}

bool Daemon::HistoryHealthy() const { return history_ && history_->healthy(); }

bool Daemon::DefaultSystemHealthy() const {
  SystemTablePtr systems = controller_->systems();
  const SystemEntry* entry = systems->Find(systems->default_system());
  // No default system: routing decides per call; nothing to judge here.
  if (entry == nullptr) return true;
  return entry->adapter->health().state != adapters::Health::State::kUnhealthy;
}

std::string Daemon::StatusLine() const {
  int active = 0;
  for (const auto& [name, n] : registry_->ActiveCountBySystem()) active += n;
  return absl::StrCat(active, " active calls");
}

void Daemon::Tick() {
  if (stopping_.load()) return;
  const std::vector<std::string> stuck = liveness_->Check(*controller_->systems(), absl::Now());
  if (watchdog_ && stuck.empty()) NotifyWatchdog();
  if (stuck != stuck_systems_) {
    if (!stuck.empty()) {
      LogError("daemon", absl::StrCat("the event loop of system ", absl::StrJoin(stuck, ", "),
                                       " has stopped answering",
                                       watchdog_ ? "; withholding the watchdog keepalive, so "
                                                   "systemd restarts voipd"
                                                 : ""));
    } else {
      LogInfo("daemon", "every adapter's event loop answers again");
    }
    stuck_systems_ = stuck;
  }
  std::string status = StatusLine();
  if (status != last_status_) {
    NotifyStatus(status);
    last_status_ = std::move(status);
  }
  // A stream whose client stopped reading is cut here (EventBus::WakeLaggards).
  bus_->WakeLaggards();
  if (server_) {
    server_->SetServing(DefaultSystemHealthy());
    if (history_ || history_unavailable_) {
      server_->SetComponentServing("voipd.history", HistoryHealthy());
    }
  }
}

void Daemon::RecoverActiveCalls() {
  const std::vector<voip::v1::CallSession>& calls = history_->recovered().active_calls;
  if (calls.empty()) return;
  LogWarn("history", absl::StrCat(calls.size(),
                                  " calls were active when voipd last stopped; asking their "
                                  "adapters to re-adopt them, the others end with DAEMON_RESTART"));
  RecoverCalls(calls, *controller_->systems(), registry_.get(), io_.get(), kReadoptTimeout);
}

absl::Status Daemon::Reload() {
  // Certificates are renewed independently of the config: re-read them on
  // every SIGHUP, even when the config turns out to be invalid.
  if (absl::Status s = server_ ? server_->ReloadTls() : absl::OkStatus(); !s.ok()) {
    LogError("daemon", absl::StrCat("TLS files not reloaded, keeping the served certificate: ",
                                    s.message()));
  }
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
  if (absl::Status s = CheckListenerExposure(server_->bound_addresses(), settings->security,
                                             "listen");
      !s.ok()) {
    LogError("daemon", absl::StrCat("reload rejected, keeping the running config: ", s.message()));
    return s;
  }
  if (settings->listen != settings_.listen) {
    LogWarn("daemon", "reload: `listen` changes take effect only after a restart");
  }
  // Settings the running server was built with: name each one that changed.
  std::vector<std::string> need_restart;
  const SecuritySettings& now = settings_.security;
  const SecuritySettings& next = settings->security;
  if (settings->metrics_listen != settings_.metrics_listen) need_restart.push_back("metrics.listen");
  if (next.unix_socket.mode != now.unix_socket.mode) need_restart.push_back("unix_socket.mode");
  if (next.unix_socket.group != now.unix_socket.group) need_restart.push_back("unix_socket.group");
  if (next.tls.cert_file != now.tls.cert_file) need_restart.push_back("tls.cert_file");
  if (next.tls.key_file != now.tls.key_file) need_restart.push_back("tls.key_file");
  if (next.tls.client_ca_file != now.tls.client_ca_file) need_restart.push_back("tls.client_ca_file");
  if (next.tls.refresh_interval != now.tls.refresh_interval) {
    need_restart.push_back("tls.refresh_interval");
  }
  if (next.max_request_bytes != now.max_request_bytes) need_restart.push_back("max_request_bytes");
  if (!need_restart.empty()) {
    LogWarn("daemon", absl::StrCat("reload: ", absl::StrJoin(need_restart, ", "),
                                   " take effect only after a restart (the TLS files themselves "
                                   "are re-read on every reload); the running values stay"));
  }
  controller_->SetSystems(*systems, ControllerLimits{settings->end_call_timeout});
  ApplyLimits(*settings);
  // Open streams and adapters' sessions (webrtc pages) re-check their token
  // against the new table now, not at their next event: a revoked token's
  // stream ends even if it is idle.
  bus_->WakeAll();
  host_->TokensChanged();
  // Adapters that left the table stop once their last call has ended (the
  // calls hold them); the ones still running are shared with the new table.
  settings->listen = settings_.listen;
  settings->metrics_listen = settings_.metrics_listen;
  settings->security.tls = settings_.security.tls;
  settings->security.unix_socket = settings_.security.unix_socket;
  settings->security.max_request_bytes = settings_.security.max_request_bytes;
  if (settings->state_dir != settings_.state_dir && !settings->state_dir.empty()) {
    LogWarn("daemon", "reload: state_dir changes take effect only after a restart");
  }
  settings->state_dir = settings_.state_dir;
  settings_ = std::move(*settings);
  LogInfo("daemon", absl::StrCat("reloaded ", config_path_));
  return absl::OkStatus();
}

void Daemon::Shutdown() {
  if (stopped_ || !controller_) return;
  stopped_ = true;
  stopping_.store(true);
  if (heartbeat_) heartbeat_->Stop();
  controller_->BeginShutdown();
  host_->Detach();
  if (server_) server_->StopServing();
  if (settings_.shutdown_end_active_calls) {
    auto all_ended = std::make_shared<absl::Notification>();
    controller_->EndAllCalls(settings_.shutdown_grace, [all_ended] { all_ended->Notify(); });
    // EndAllCalls forces every call to an end after the grace period, so
    // this wait is bounded; the margin covers the timers' own latency.
    all_ended->WaitForNotificationWithTimeout(settings_.shutdown_grace + absl::Seconds(2));
  }
  // Everything published so far reaches the disk and then the streams.
  if (history_) history_->Stop();
  voip::v1::VoipError closing;
  closing.set_error_code(voip::v1::DAEMON_SHUTDOWN);
  closing.set_message(absl::StrCat(
      "voipd is shutting down; reconnect and resume with after_sequence=", bus_->last_sequence()));
  (*closing.mutable_details())["resume_after_sequence"] = absl::StrCat(bus_->last_sequence());
  bus_->CloseAll(MakeVoipError(std::move(closing)));
  // Streams were closed above, so only unary calls in flight remain.
  if (server_) server_->Shutdown(absl::Seconds(1));
  bus_->SetWakeDispatcher(nullptr);
  fanout_->join();
  for (const auto& [name, entry] : controller_->systems()->systems()) entry.adapter->Shutdown();
  io_->stop();
  if (io_thread_.joinable()) io_thread_.join();
  heartbeat_.reset();
  metrics_server_.reset();
  call_metrics_.reset();
  LogInfo("daemon", "stopped");
}

std::string Daemon::metrics_address() const {
  return metrics_server_ ? metrics_server_->address() : std::string();
}

std::vector<std::string> Daemon::listen_addresses() const {
  return server_ ? server_->bound_addresses() : std::vector<std::string>{};
}

}  // namespace voipd
