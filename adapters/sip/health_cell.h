// The system's health as the registration last saw it: written on the libre
// loop, read by the core's GetCapabilities from any thread.
#pragma once

#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "adapters/api/adapter.h"

namespace voipd::adapters::sip {

class HealthCell {
 public:
  void Set(Health::State state, std::string message) {
    absl::MutexLock lock(&mu_);
    health_.state = state;
    health_.message = std::move(message);
  }
  Health Get() const {
    absl::MutexLock lock(&mu_);
    return health_;
  }

 private:
  mutable absl::Mutex mu_;
  Health health_ ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd::adapters::sip
