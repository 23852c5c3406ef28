#include "tests/integration/cpp/voipd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace voipd::integration {
namespace {

// Interval of the deadline-bounded polls below (ready file, exit status).
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  // Written in place, like an editor would: SIGHUP re-reads the path.
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

}  // namespace

VoipdProcess::VoipdProcess(const std::string& config_text) {
  char tmpl[] = "/tmp/voipd-cpp-test-XXXXXX";
  if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  config_path_ = dir_ + "/voipd.yaml";
  ready_path_ = dir_ + "/ready.json";
  stdout_path_ = dir_ + "/stdout.log";
  stderr_path_ = dir_ + "/stderr.log";
  WriteFile(config_path_, config_text);
}

VoipdProcess::~VoipdProcess() {
  if (Running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) Reap(status);
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string VoipdProcess::Binary() {
  const char* bin = std::getenv("VOIPD_BIN");
  return bin ? bin : "";
}

bool VoipdProcess::Spawn(std::string* error) {
  if (dir_.empty()) {
    *error = "cannot create a temp directory";
    return false;
  }
  const std::string binary = Binary();
  if (binary.empty() || ::access(binary.c_str(), X_OK) != 0) {
    *error = absl::StrCat("VOIPD_BIN must name the voipd binary (got '", binary, "')");
    return false;
  }
  std::vector<std::string> args = {binary, "--config", config_path_, "--ready-file", ready_path_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, stdout_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, stderr_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // The daemon takes its lifecycle signals with sigwait; make sure it does not
  // inherit a blocked or ignored disposition from the test runner.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const int rc = posix_spawn(&pid_, binary.c_str(), &files, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) {
    pid_ = -1;
    *error = absl::StrCat("posix_spawn ", binary, ": ", std::strerror(rc));
    return false;
  }
  return true;
}

bool VoipdProcess::Start(std::string* error, absl::Duration timeout) {
  if (!Spawn(error)) return false;
  static const std::regex kListen(R"re("listen"\s*:\s*\[\s*"([^"]+)")re");
  static const std::regex kPid(R"re("pid"\s*:\s*(\d+))re");
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!Running()) {
      *error = absl::StrCat("voipd exited with ", exit_code_.value_or(-1), " before it was ready:\n",
                            Stderr());
      return false;
    }
    // The daemon renames the finished file into place, so a file that exists
    // is complete.
    const std::string ready = ReadFile(ready_path_);
    std::smatch listen, pid;
    if (std::regex_search(ready, listen, kListen) && std::regex_search(ready, pid, kPid)) {
      if (std::stol(pid[1].str()) != pid_) {
        *error = absl::StrCat("ready file names pid ", pid[1].str(), ", expected ", pid_);
        return false;
      }
      address_ = listen[1].str();
      return true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  *error = absl::StrCat("voipd not ready after ", absl::FormatDuration(timeout), ":\n", Stderr());
  return false;
}

void VoipdProcess::Reap(int status) {
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool VoipdProcess::Running() {
  if (pid_ <= 0 || exit_code_.has_value()) return false;
  int status = 0;
  const pid_t got = ::waitpid(pid_, &status, WNOHANG);
  if (got == pid_) {
    Reap(status);
    return false;
  }
  return got == 0;
}

std::optional<int> VoipdProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() >= deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      if (::waitpid(pid_, &status, 0) == pid_) Reap(status);
      return std::nullopt;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return exit_code_;
}

bool VoipdProcess::Signal(int sig) { return Running() && ::kill(pid_, sig) == 0; }

std::optional<int> VoipdProcess::Stop(absl::Duration timeout) {
  if (!Running()) return exit_code_;
  Signal(SIGTERM);
  return WaitForExit(timeout);
}

void VoipdProcess::RewriteConfig(const std::string& text) const { WriteFile(config_path_, text); }

std::string VoipdProcess::Stdout() const { return ReadFile(stdout_path_); }
std::string VoipdProcess::Stderr() const { return ReadFile(stderr_path_); }

}  // namespace voipd::integration
