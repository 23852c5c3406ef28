// The one libre event loop of the process, on its own thread.
//
// libre keeps its poll set and timer list in process-global state and is not
// thread-safe, so every libre call in voipd happens on this thread: adapter
// methods (called from gRPC threads) post closures here, and results go back
// through callbacks and the thread-safe CallEventSink. Several `sip` systems
// share the loop; it starts with the first and stops when the last releases
// it (Acquire() is refcounted through shared_ptr).
#pragma once

#include <deque>
#include <memory>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "adapters/api/logger.h"

struct mqueue;

namespace voipd::adapters::sip {

class ReLoop {
 public:
  using Task = absl::AnyInvocable<void() &&>;

  // The running loop, started on first use. Fails when libre cannot start
  // (no pipe or poll set). libre's own log records ("tcp: recv handler:
  // ...") go to `logger` (nullptr: stderr text, LoggerOr) of the call that
  // starts the loop; it must outlive the loop (the daemon's is the
  // process's).
  static absl::StatusOr<std::shared_ptr<ReLoop>> Acquire(const Logger* logger);

  ReLoop(const ReLoop&) = delete;
  ReLoop& operator=(const ReLoop&) = delete;
  // Stops the thread. Tasks still queued are destroyed without running, so
  // owners drain their own work (RunSync) before releasing the loop.
  ~ReLoop();

  // Queues `task` to run on the loop thread, in posting order. Never blocks
  // on the loop: the queue is ours, the mqueue only wakes the loop.
  void Post(Task task);
  // Runs `task` on the loop thread and waits for it; runs it inline when
  // called from the loop thread (a callback may end up here).
  void RunSync(Task task);
  bool InLoopThread() const;

 private:
  struct Shared;
  explicit ReLoop(std::shared_ptr<Shared> shared);

  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace voipd::adapters::sip
