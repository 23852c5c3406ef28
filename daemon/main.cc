// voipd: the call-control daemon. Parses flags, loads the config, starts the
// Daemon and turns signals into lifecycle calls (SIGHUP reload, SIGTERM and
// SIGINT graceful stop). Signals are taken synchronously with sigwait on the
// main thread, so no handler ever runs inside library code.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_join.h"
#include "daemon/allocator.h"
#include "daemon/config/config_loader.h"
#include "daemon/config/secret_file_reader.h"
#include "daemon/daemon.h"
#include "daemon/logging.h"
#include "daemon/observability/sd_notify.h"
#include "daemon/server/library_logs.h"

namespace {

constexpr char kDefaultConfigPath[] = "/etc/voipd/voipd.yaml";

// systemd starts services with a soft fd limit of 1024 (hard 524288) and
// expects programs that need more, and never use select(), to raise it
// themselves. Each client connection, RTP socket and provider connection is
// one; running out also stops gRPC 1.51's own listener for good (it gives up
// after a failed accept4, grpc/grpc#20418), so raise it before anything
// opens one. Capped like the SIP adapter's poll set.
void RaiseOpenFileLimit() {
  constexpr rlim_t kCap = 1 << 16;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t hard = limit.rlim_max == RLIM_INFINITY ? kCap : std::min(limit.rlim_max, kCap);
  if (limit.rlim_cur >= hard) return;
  limit.rlim_cur = hard;
  setrlimit(RLIMIT_NOFILE, &limit);
}

// Written atomically once listeners are up, for tests and scripts that must
// know the chosen port: {"listen": ["127.0.0.1:PORT"], "metrics": "127.0.0.1:PORT", "pid": N}.
bool WriteReadyFile(const std::string& path, const std::vector<std::string>& listen,
                    const std::string& metrics) {
  std::string json = "{\"listen\": [";
  for (size_t i = 0; i < listen.size(); ++i) {
    absl::StrAppend(&json, i ? ", " : "", "\"", listen[i], "\"");
  }
  absl::StrAppend(&json, "], \"metrics\": \"", metrics, "\", \"pid\": ", getpid(), "}\n");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << json)) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"voipd: call-control daemon with a gRPC API"};
  std::string config_path;
  std::string ready_file;
  std::string state_dir;
  bool check_only = false;
  app.add_option("-c,--config", config_path,
                 absl::StrCat("YAML config file (default ", kDefaultConfigPath,
                              "; if that does not exist, the embedded sandbox default)"));
  app.add_option("--ready-file", ready_file,
                 "write the bound addresses as JSON to this file once serving");
  app.add_option("--state-dir", state_dir,
                 "directory for the call history database (overrides state_dir; default "
                 "$STATE_DIRECTORY, else history is kept in memory only)");
  app.add_flag("--check-config", check_only, "validate the config and exit");
  app.set_version_flag("--version", "voipd 0.1.0");
  CLI11_PARSE(app, argc, argv);
  // gRPC's and protobuf's own lines go through voipd's log from the start.
  voipd::RouteLibraryLogs();

  bool embedded = false;
  if (config_path.empty()) {
    if (access(kDefaultConfigPath, F_OK) == 0) {
      config_path = kDefaultConfigPath;
    } else {
      embedded = true;
    }
  }
  absl::StatusOr<voipd::DaemonSettings> settings =
      embedded ? voipd::LoadConfigText(voipd::kEmbeddedDefaultConfig, "(embedded default)")
               : voipd::LoadConfigFile(config_path);
  if (!settings.ok()) {
    voipd::FlushLogs();
    std::fprintf(stderr, "voipd: invalid configuration: %s\n",
                 std::string(settings.status().message()).c_str());
    return 1;
  }
  if (!state_dir.empty()) {
    settings->state_dir = state_dir;
  } else if (settings->state_dir.empty()) {
    // systemd's StateDirectory= exports the absolute path(s), colon-separated.
    if (const char* env = std::getenv("STATE_DIRECTORY"); env != nullptr && *env != '\0') {
      settings->state_dir = std::string(env).substr(0, std::string(env).find(':'));
    }
  }
  if (check_only) {
    // Also read what the adapters will read (secret files, certificates),
    // the way a start would: a missing file shows now, not at the next start
    // or reload. Nothing is created: no socket, no thread.
    const voipd::SecretFileReader secrets;
    for (const voipd::SystemConfig& system : settings->systems) {
      if (absl::Status s = system.factory->CheckFiles(*system.config, secrets); !s.ok()) {
        voipd::FlushLogs();
        std::fprintf(stderr, "voipd: invalid configuration: %ssystems.%s: %s\n",
                     system.where.c_str(), system.name.c_str(), std::string(s.message()).c_str());
        return 1;
      }
    }
    std::printf("%s: OK\n", embedded ? "(embedded default)" : config_path.c_str());
    return 0;
  }
  if (embedded) {
    voipd::LogInfo("daemon", absl::StrCat(kDefaultConfigPath,
                                          " not found; using the embedded sandbox default"));
  }

  // Debian builds Abseil with mutex deadlock detection on; it costs every
  // lock acquisition on the call path (bench/performance-notes.md). The
  // lock order is documented in docs/architecture.md and checked by tests.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  RaiseOpenFileLimit();

  // Block the lifecycle signals before any thread starts so that every
  // thread inherits the mask and only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  voipd::Daemon daemon(embedded ? "" : config_path);
  if (absl::Status started = daemon.Start(*settings); !started.ok()) {
    voipd::FlushLogs();  // the log lines before it come first
    std::fprintf(stderr, "voipd: cannot start: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  if (!ready_file.empty() &&
      !WriteReadyFile(ready_file, daemon.listen_addresses(), daemon.metrics_address())) {
    voipd::FlushLogs();
    std::fprintf(stderr, "voipd: cannot write ready file %s\n", ready_file.c_str());
    daemon.Shutdown();
    return 1;
  }
  // Listeners and adapters are up: Type=notify start-up ends here.
  voipd::NotifyReady(daemon.StatusLine());
  // Start-up (config parsing, descriptor pools, adapter set-up) frees more
  // than it keeps; hand those pages back so an idle daemon stays small.
  voipd::ReleaseFreeMemory();
  voipd::LogDebug("daemon", absl::StrCat("memory allocator: ", voipd::AllocatorName()));
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      voipd::LogInfo("daemon", "SIGHUP: reloading configuration");
      voipd::NotifyReloading();
      (void)daemon.Reload();  // errors are logged; the old config stays
      voipd::NotifyReady(daemon.StatusLine());
      continue;
    }
    voipd::LogInfo("daemon", absl::StrCat(sig == SIGTERM ? "SIGTERM" : "SIGINT",
                                          ": shutting down"));
    voipd::NotifyStopping();
    daemon.Shutdown();
    return 0;
  }
}
