// Feeds call counters from the event bus: one internal subscriber that sees
// every event, so counting needs no hooks in the core. It drains on the
// publisher's wake-up, cheap counter increments only.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "daemon/core/event_bus.h"
#include "daemon/observability/metrics.h"

namespace voipd {

class CallMetrics {
 public:
  // Counts events published from now on.
  static absl::StatusOr<std::unique_ptr<CallMetrics>> Start(EventBus* bus, Metrics* metrics);
  ~CallMetrics();

 private:
  struct State;
  explicit CallMetrics(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace voipd
