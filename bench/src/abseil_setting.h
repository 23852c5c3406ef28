// The Abseil mutex setting voipd's main uses, for every bench process: Debian
// builds Abseil with deadlock detection on, and gRPC's own locks are Abseil
// mutexes, so a reference left with it on would be measured on a different
// library configuration than voipd (bench/performance-notes.md, "a, third
// pass").
#pragma once

#include "absl/synchronization/mutex.h"

namespace bench {

inline void UseVoipdAbseilSetting() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace bench
