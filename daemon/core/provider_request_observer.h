// Told how long each adapter operation took: from the controller's call into
// adapter->StartCall/EndCall/Hold/Mute until the adapter's callback. Keeps
// the core free of the metrics registry (daemon/observability implements
// it as the voipd_provider_request_seconds histogram).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace voipd {

class ProviderRequestObserver {
 public:
  virtual ~ProviderRequestObserver() = default;
  // `operation` is "StartCall", "EndCall", "Hold" or "Mute". Called on the
  // adapter's callback thread; must not block.
  virtual void OnProviderRequest(absl::string_view system, absl::string_view operation, bool ok,
                                 absl::Duration elapsed) = 0;
};

}  // namespace voipd
