// Whether the adapters' own event loops still come round (Adapter::
// CheckAlive). The watchdog keepalive comes from the daemon's io_context;
// this extends it to loops on other threads, such as the SIP adapter's
// libre loop: while one of them leaves a probe unanswered for longer than
// the limit, the daemon withholds WATCHDOG=1 and systemd restarts voipd.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "daemon/core/system_table.h"

namespace voipd {

class LivenessGate {
 public:
  explicit LivenessGate(absl::Duration limit) : limit_(limit) {}

  // Probes every system of `systems` whose last probe was answered, and
  // returns the names of those whose probe has been waiting for longer than
  // the limit. Called from one thread (the daemon's tick).
  std::vector<std::string> Check(const SystemTable& systems, absl::Time now);

 private:
  struct Probe;
  const absl::Duration limit_;
  std::map<std::string, std::shared_ptr<Probe>> probes_;
};

}  // namespace voipd
