#include "daemon/stderr_batcher.h"

#include <pthread.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace voipd {
namespace {

// A burst larger than this is written without waiting for the flusher.
constexpr size_t kMaxPending = 64 * 1024;

class StderrBatcher {
 public:
  StderrBatcher() {
    std::thread([this] { FlushWhenArmed(); }).detach();
    std::atexit([] { FlushStderrLines(); });
  }

  void Write(absl::string_view line, bool urgent) {
    bool write_now;
    {
      absl::MutexLock lock(&mu_);
      pending_.append(line.data(), line.size());
      const bool busy = CountLine(std::chrono::steady_clock::now());
      write_now = urgent || !busy || pending_.size() >= kMaxPending;
      if (!write_now) armed_ = true;
    }
    if (write_now) Flush();
  }

  void Flush() {
    // write_mu_ is held from taking the batch to writing it, so batches
    // (and the lines in them) reach stderr in the order they were logged.
    absl::MutexLock write_lock(&write_mu_);
    spare_.clear();
    {
      absl::MutexLock lock(&mu_);
      spare_.swap(pending_);
      armed_ = false;
    }
    if (!spare_.empty()) std::fwrite(spare_.data(), 1, spare_.size(), stderr);
  }

 private:
  // Counts a line into the current window; true while the daemon is busy:
  // more than kBatchLines in this window, or in the previous one if this
  // one just started.
  bool CountLine(std::chrono::steady_clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const auto elapsed = now - window_start_;
    if (elapsed >= kBatchWindow) {
      busy_ = elapsed < 2 * kBatchWindow && lines_in_window_ > kBatchLines;
      window_start_ = now;
      lines_in_window_ = 0;
    }
    if (++lines_in_window_ > kBatchLines) busy_ = true;
    return busy_;
  }

  // Sleeps until a line is left pending, gives the burst kBatchWindow to
  // grow, then writes it: at most one wake-up per window, none when idle.
  void FlushWhenArmed() {
    pthread_setname_np(pthread_self(), "voipd-log");
    for (;;) {
      mu_.LockWhen(absl::Condition(&armed_));
      mu_.Unlock();
      absl::SleepFor(absl::FromChrono(kBatchWindow));
      Flush();
    }
  }

  absl::Mutex write_mu_;  // before mu_
  std::string spare_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex mu_;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;  // pending_ waits for the flusher
  std::chrono::steady_clock::time_point window_start_ ABSL_GUARDED_BY(mu_);
  int lines_in_window_ ABSL_GUARDED_BY(mu_) = 0;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
};

// Never destroyed: lines may be logged (and flushed by atexit) while static
// destructors run.
StderrBatcher& Batcher() {
  static StderrBatcher* batcher = new StderrBatcher();
  return *batcher;
}

}  // namespace

void WriteStderrLine(absl::string_view line, bool urgent) { Batcher().Write(line, urgent); }

void FlushStderrLines() { Batcher().Flush(); }

}  // namespace voipd
