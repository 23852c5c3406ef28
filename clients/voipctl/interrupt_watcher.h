// Turns Ctrl-C into an ordinary callback on an ordinary thread.
//
// Cancelling a gRPC call is not async-signal-safe, so SIGINT is blocked and
// a thread collects it with sigtimedwait instead of a signal handler. The
// block must be in place before gRPC starts its threads (they inherit the
// mask; a SIGINT delivered to one of them would kill the process), so
// construct this before the client.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

namespace voipd::voipctl {

class InterruptWatcher {
 public:
  InterruptWatcher();
  // Stops the thread; SIGINT stays blocked (the process is about to exit).
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  // Runs `callback` on the first SIGINT, at once if one already came. A
  // second SIGINT exits with 130 without waiting for the callback's effect,
  // in case the daemon does not answer the cancellation.
  void OnInterrupt(std::function<void()> callback);

  bool interrupted() const { return interrupted_.load(); }

 private:
  void Run();

  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupted_{false};
  std::mutex mu_;
  std::function<void()> callback_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace voipd::voipctl
