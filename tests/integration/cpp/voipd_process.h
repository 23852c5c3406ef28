// Starts the real voipd binary (env VOIPD_BIN) for integration tests: a temp
// directory with the config, `--ready-file` to learn the port it bound, and
// signals for reload and shutdown. The C++ twin of
// tests/integration/harness/voipd_harness.py.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/time/time.h"

namespace voipd::integration {

class VoipdProcess {
 public:
  // Writes `config_text` to <tmpdir>/voipd.yaml.
  explicit VoipdProcess(const std::string& config_text);
  // Kills the daemon if it still runs and removes the temp directory.
  ~VoipdProcess();
  VoipdProcess(const VoipdProcess&) = delete;
  VoipdProcess& operator=(const VoipdProcess&) = delete;

  // Spawns voipd and waits until its ready file names a listen address.
  // False (with `error` explaining, including the daemon's output) if it
  // exited or did not get ready in time.
  bool Start(std::string* error, absl::Duration timeout = absl::Seconds(20));
  // Spawns voipd without waiting for readiness (for configs that must fail).
  bool Spawn(std::string* error);

  // The exit code (or 128+signal) once the process has exited; nullopt if it
  // is still running after `timeout`, in which case it is killed.
  std::optional<int> WaitForExit(absl::Duration timeout);
  // True while the process has not exited.
  bool Running();
  bool Signal(int sig);
  // SIGTERM and WaitForExit.
  std::optional<int> Stop(absl::Duration timeout = absl::Seconds(20));

  void RewriteConfig(const std::string& text) const;

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_path_; }
  // What the daemon wrote so far (it logs to stderr).
  std::string Stdout() const;
  std::string Stderr() const;

  // $VOIPD_BIN; empty when unset.
  static std::string Binary();

 private:
  void Reap(int status);

  std::string dir_;
  std::string config_path_;
  std::string ready_path_;
  std::string stdout_path_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string address_;
};

}  // namespace voipd::integration
