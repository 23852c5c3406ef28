#include "daemon/observability/sd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include "absl/strings/str_cat.h"

namespace voipd {
namespace {

void Send(const std::string& state) {
  // 0: keep NOTIFY_SOCKET in the environment; we notify for the whole run.
  (void)sd_notify(0, state.c_str());
}

}  // namespace

void NotifyReady(absl::string_view status) {
  Send(absl::StrCat("READY=1\nSTATUS=", status));
}

void NotifyReloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1000000u + now.tv_nsec / 1000;
  Send(absl::StrCat("RELOADING=1\nMONOTONIC_USEC=", usec));
}

void NotifyStopping() { Send("STOPPING=1"); }

void NotifyStatus(absl::string_view status) { Send(absl::StrCat("STATUS=", status)); }

void NotifyWatchdog() { Send("WATCHDOG=1"); }

std::optional<absl::Duration> WatchdogTimeout() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return absl::Microseconds(usec);
}

}  // namespace voipd
