#include "daemon/observability/liveness_gate.h"

#include <utility>

#include "absl/synchronization/mutex.h"

namespace voipd {

// Shared with the callback, which runs on the adapter's thread and may run
// after the system left the table.
struct LivenessGate::Probe {
  absl::Mutex mu;
  bool waiting ABSL_GUARDED_BY(mu) = false;
  absl::Time sent ABSL_GUARDED_BY(mu);
};

std::vector<std::string> LivenessGate::Check(const SystemTable& systems, absl::Time now) {
  std::vector<std::string> stuck;
  std::map<std::string, std::shared_ptr<Probe>> kept;
  for (const auto& [name, entry] : systems.systems()) {
    auto it = probes_.find(name);
    std::shared_ptr<Probe> probe = it != probes_.end() ? it->second : std::make_shared<Probe>();
    kept[name] = probe;
    {
      absl::MutexLock lock(&probe->mu);
      if (probe->waiting) {
        if (now - probe->sent > limit_) stuck.push_back(name);
        continue;
      }
      probe->waiting = true;
      probe->sent = now;
    }
    // Outside the lock: an adapter without a loop of its own answers inline.
    entry.adapter->CheckAlive([probe] {
      absl::MutexLock lock(&probe->mu);
      probe->waiting = false;
    });
  }
  probes_ = std::move(kept);
  return stuck;
}

}  // namespace voipd
