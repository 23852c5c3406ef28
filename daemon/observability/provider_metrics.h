// voipd_provider_request_seconds{system,operation,outcome}: how long each
// adapter operation took, fed by the CallController through the
// ProviderRequestObserver interface.
#pragma once

#include "daemon/core/provider_request_observer.h"
#include "daemon/observability/metrics.h"

namespace voipd {

class ProviderMetrics final : public ProviderRequestObserver {
 public:
  explicit ProviderMetrics(Metrics* metrics) : metrics_(metrics) {}

  void OnProviderRequest(absl::string_view system, absl::string_view operation, bool ok,
                         absl::Duration elapsed) override;

 private:
  Metrics* const metrics_;
};

}  // namespace voipd
