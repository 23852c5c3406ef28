#include "adapters/sip/re_loop.h"

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

#include <openssl/crypto.h>

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)
#include <re_dbg.h>  // not in re.h: dbg_handler_set, DBG_* levels

namespace voipd::adapters::sip {
namespace {

// Held by a loop thread from libre_init() to libre_close(): libre's global
// state must never be touched by two loop threads at once (an old loop may
// still be winding down when a new system starts one).
std::mutex& LibreLifetimeMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}

// libre indexes its poll set by fd, 1024 slots by default. One RTP socket per
// call needs far more: size the poll set to the soft fd limit, which voipd's
// main has already raised to the hard one (capped at 65536, as here). Must
// run before the first fd_listen().
int SizePollSet() {
  constexpr rlim_t kCap = 1 << 16;
  struct rlimit limit;
  rlim_t wanted = 1024;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    wanted = std::max<rlim_t>(1024, std::min(limit.rlim_cur, kCap));
  }
  return fd_setsize(static_cast<int>(wanted));
}

// libre's dbg_printf records (its modules' DEBUG_WARNING and friends, e.g.
// "tcp: recv handler: recv(): Connection reset by peer"), written to stderr
// in libre's own format unless a handler takes them. `arg` is the loop's
// Logger. (libre 1.1.0 prints "sip: msg decode err" with re_fprintf instead,
// past this hook.)
void OnLibreLog(int level, const char* text, size_t len, void* arg) {
  LogSeverity severity = LogSeverity::kDebug;
  if (level <= DBG_ERR) {
    severity = LogSeverity::kError;
  } else if (level == DBG_WARNING) {
    severity = LogSeverity::kWarn;
  } else if (level <= DBG_INFO) {
    severity = LogSeverity::kInfo;
  }
  const Logger& logger = LoggerOr(static_cast<const Logger*>(arg));
  if (!logger.Enabled(severity)) return;
  absl::string_view message(text, len);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.remove_suffix(1);
  }
  logger.Log(severity, "sip", absl::StrCat("libre: ", message), {});
}

}  // namespace

struct ReLoop::Shared {
  explicit Shared(const Logger* logger) : logger(logger) {}

  absl::Mutex mu;
  std::deque<Task> tasks ABSL_GUARDED_BY(mu);
  bool wakeup_pending ABSL_GUARDED_BY(mu) = false;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  // Written by the loop thread before `started` is notified, constant after.
  struct mqueue* mq = nullptr;
  const Logger* const logger;
  std::thread::id loop_thread;
  int start_error = 0;
  absl::Notification started;

  void Wake() {
    const int err = mqueue_push(mq, 0, nullptr);
    if (err != 0) {
      LoggerOr(logger).Log(LogSeverity::kError, "sip",
                           absl::StrCat("cannot wake the libre loop: ", std::strerror(err)), {});
    }
  }

  // mqueue handler: runs the oldest queued tasks, in order. At most
  // kTasksPerTurn at a time: libre reads one datagram per socket per loop
  // turn, so a burst of posted work (a thousand StartCalls) must not keep
  // the loop from its sockets, or SIP responses queue up for longer than
  // the far end's retransmission timer.
  static void OnWakeup(int, void*, void* arg) {
    constexpr size_t kTasksPerTurn = 4;
    auto* self = static_cast<Shared*>(arg);
    std::deque<Task> batch;
    bool more;
    bool stop;
    {
      absl::MutexLock lock(&self->mu);
      const size_t n = std::min(kTasksPerTurn, self->tasks.size());
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(self->tasks.front()));
        self->tasks.pop_front();
      }
      more = !self->tasks.empty();
      // Still pending if more: the Wake() below stands for the rest.
      self->wakeup_pending = more;
      stop = self->stopping;
    }
    for (Task& task : batch) std::move(task)();
    if (stop) {
      re_cancel();
    } else if (more) {
      self->Wake();  // after libre has served the sockets that are ready
    }
  }

  static void Run(std::shared_ptr<Shared> self) {
    pthread_setname_np(pthread_self(), "sip-re");
    std::lock_guard<std::mutex> lifetime(LibreLifetimeMutex());
    self->loop_thread = std::this_thread::get_id();
    int err = libre_init();
    if (err == 0) dbg_handler_set(&OnLibreLog, const_cast<Logger*>(self->logger));
    if (err == 0) err = SizePollSet();
    if (err == 0) err = mqueue_alloc(&self->mq, &Shared::OnWakeup, self.get());
    self->start_error = err;
    self->started.Notify();
    if (err == 0) {
      re_main(nullptr);
      // Anything posted after the stop request is dropped here: the owners
      // drained their work with RunSync before letting the loop go.
      std::deque<Task> rest;
      {
        absl::MutexLock lock(&self->mu);
        rest.swap(self->tasks);
      }
      rest.clear();
      self->mq = static_cast<struct mqueue*>(mem_deref(self->mq));
    }
    dbg_handler_set(nullptr, nullptr);
    libre_close();
    // libre's TLS and random numbers leave OpenSSL per-thread state (the
    // error queue) on this thread. OpenSSL frees it from a thread-exit
    // destructor, which for a detached loop (the last owner let go on this
    // thread) can still be running when the process exits: LeakSanitizer then
    // reports it. Free it here, while the thread is fully alive.
    OPENSSL_thread_stop();
  }
};

absl::StatusOr<std::shared_ptr<ReLoop>> ReLoop::Acquire(const Logger* logger) {
  static absl::Mutex mu(absl::kConstInit);
  static std::weak_ptr<ReLoop>* current = new std::weak_ptr<ReLoop>();
  absl::MutexLock lock(&mu);
  if (std::shared_ptr<ReLoop> loop = current->lock()) return loop;
  auto shared = std::make_shared<Shared>(logger);
  std::shared_ptr<ReLoop> loop(new ReLoop(shared));
  shared->started.WaitForNotification();
  if (shared->start_error != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start the libre loop: ", std::strerror(shared->start_error)));
  }
  *current = loop;
  return loop;
}

ReLoop::ReLoop(std::shared_ptr<Shared> shared)
    : shared_(std::move(shared)), thread_(&Shared::Run, shared_) {}

ReLoop::~ReLoop() {
  shared_->started.WaitForNotification();
  if (shared_->start_error == 0) {
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->stopping = true;
      shared_->wakeup_pending = true;
    }
    shared_->Wake();
  }
  if (InLoopThread()) {
    // The last owner let go from inside a loop task: the loop stops after
    // this batch, and the thread (which owns `shared_`) finishes alone.
    thread_.detach();
  } else {
    thread_.join();
  }
}

void ReLoop::Post(Task task) {
  bool wake;
  {
    absl::MutexLock lock(&shared_->mu);
    shared_->tasks.push_back(std::move(task));
    wake = !shared_->wakeup_pending;
    shared_->wakeup_pending = true;
  }
  if (wake) shared_->Wake();
}

void ReLoop::RunSync(Task task) {
  if (InLoopThread()) {
    std::move(task)();
    return;
  }
  absl::Notification done;
  Post([&task, &done] {
    std::move(task)();
    done.Notify();
  });
  done.WaitForNotification();
}

bool ReLoop::InLoopThread() const {
  return std::this_thread::get_id() == shared_->loop_thread;
}

}  // namespace voipd::adapters::sip
