// voipd-startup: scenario f. Starts voipd --config FILE --ready-file F, measures
// the time from fork to the ready file appearing (polled every 100 us), lets it
// idle, reads VmRSS/VmHWM/Threads from /proc, then stops it with SIGTERM.
// Repeats --runs times and reports each run and the median.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "bench_common.h"

namespace {

// Waits up to `timeout` for `pid` to exit; true if it did (status in *status).
bool WaitExit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const auto deadline = bench::Clock::now() + timeout;
  while (bench::Clock::now() < deadline) {
    if (waitpid(pid, status, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"voipd-startup: time to ready and idle memory of voipd"};
  std::string voipd, config, dir = "/tmp", out = "-", log = "/dev/null";
  int runs = 5;
  double idle_s = 3;
  app.add_option("--voipd", voipd, "path to the voipd binary")->required();
  app.add_option("--config", config, "config file")->required();
  app.add_option("--dir", dir, "directory for the ready file");
  app.add_option("--runs", runs, "how many starts")->check(CLI::Range(1, 20));
  app.add_option("--idle", idle_s, "seconds idle before reading memory")->check(CLI::Range(0.0, 30.0));
  app.add_option("--log", log, "voipd's stderr goes here");
  app.add_option("--out", out, "JSON output file (- = stdout)");
  CLI11_PARSE(app, argc, argv);

  bench::Json results = bench::Json::array();
  std::vector<double> ready_ms;
  std::vector<int64_t> rss_kb;
  for (int run = 0; run < runs; ++run) {
    const std::string ready = dir + "/voipd-startup-" + std::to_string(getpid()) + ".json";
    unlink(ready.c_str());
    const auto t0 = bench::Clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) dup2(fd, 2);
      execl(voipd.c_str(), voipd.c_str(), "--config", config.c_str(), "--ready-file",
            ready.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    bench::Json r;
    r["run"] = run + 1;
    bool up = false;
    int status = 0;
    const auto deadline = t0 + std::chrono::seconds(10);
    struct stat st {};
    while (bench::Clock::now() < deadline) {
      if (stat(ready.c_str(), &st) == 0) {
        up = true;
        break;
      }
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    const double ms = bench::Seconds(bench::Clock::now() - t0) * 1000;
    if (!up) {
      r["error"] = pid < 0 ? "voipd exited before it was ready" : "not ready within 10 s";
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
      results.push_back(r);
      continue;
    }
    r["ready_ms"] = ms;
    ready_ms.push_back(ms);
    const bench::ProcSample at_ready = bench::SampleProc(pid);
    std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
    const bench::ProcSample idle = bench::SampleProc(pid);
    r["rss_kb_at_ready"] = at_ready.rss_kb;
    r["rss_kb_idle"] = idle.rss_kb;
    r["rss_anon_kb_idle"] = idle.rss_anon_kb;
    r["rss_file_kb_idle"] = idle.rss_file_kb;
    r["hwm_kb"] = idle.hwm_kb;
    r["threads"] = idle.threads;
    r["cpu_s"] = idle.cpu_s;
    rss_kb.push_back(idle.rss_kb);
    const auto stop0 = bench::Clock::now();
    kill(pid, SIGTERM);
    if (WaitExit(pid, std::chrono::seconds(10), &status)) {
      r["stop_ms"] = bench::Seconds(bench::Clock::now() - stop0) * 1000;
      r["exit_code"] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    } else {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r["error"] = "did not stop within 10 s of SIGTERM";
    }
    unlink(ready.c_str());
    results.push_back(r);
  }
  bench::Json j;
  j["runs"] = results;
  j["idle_s"] = idle_s;
  if (!ready_ms.empty()) {
    std::sort(ready_ms.begin(), ready_ms.end());
    std::sort(rss_kb.begin(), rss_kb.end());
    j["ready_ms_median"] = ready_ms[ready_ms.size() / 2];
    j["ready_ms_max"] = ready_ms.back();
    j["rss_kb_idle_median"] = rss_kb[rss_kb.size() / 2];
    j["rss_kb_idle_max"] = rss_kb.back();
  }
  bench::WriteJson(j, out);
  return ready_ms.size() == static_cast<size_t>(runs) ? 0 : 1;
}
