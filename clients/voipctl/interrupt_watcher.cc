#include "clients/voipctl/interrupt_watcher.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "clients/voipctl/exit_codes.h"

namespace voipd::voipctl {
namespace {

sigset_t InterruptSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

InterruptWatcher::InterruptWatcher() {
  const sigset_t set = InterruptSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] { Run(); });
}

InterruptWatcher::~InterruptWatcher() {
  stop_.store(true);
  thread_.join();
}

void InterruptWatcher::OnInterrupt(std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  callback_ = std::move(callback);
  if (interrupted_.load() && callback_) callback_();
}

void InterruptWatcher::Run() {
  const sigset_t set = InterruptSet();
  // Waking up regularly lets the destructor stop the thread without sending
  // it a signal of its own.
  const timespec poll{0, 100 * 1000 * 1000};
  while (!stop_.load()) {
    if (sigtimedwait(&set, nullptr, &poll) != SIGINT) continue;  // timeout or EINTR
    if (interrupted_.exchange(true)) _exit(kExitInterrupted);
    std::lock_guard<std::mutex> lock(mu_);
    if (callback_) callback_();
  }
}

}  // namespace voipd::voipctl
