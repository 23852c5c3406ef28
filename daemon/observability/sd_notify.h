// The systemd notify protocol (sd_notify(3)) for Type=notify services. Every
// function is a no-op when NOTIFY_SOCKET is not set, so plain runs and tests
// without a service manager are unaffected.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace voipd {

void NotifyReady(absl::string_view status);
// RELOADING=1 with MONOTONIC_USEC, as systemd ≥ 253 expects for
// Type=notify-reload; older managers ignore the extra field.
void NotifyReloading();
void NotifyStopping();
void NotifyStatus(absl::string_view status);
void NotifyWatchdog();

// The interval systemd expects keepalives in (WatchdogSec=), when enabled
// for this process.
std::optional<absl::Duration> WatchdogTimeout();

}  // namespace voipd
