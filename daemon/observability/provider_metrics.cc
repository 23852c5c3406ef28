#include "daemon/observability/provider_metrics.h"

#include <string>

namespace voipd {

void ProviderMetrics::OnProviderRequest(absl::string_view system, absl::string_view operation,
                                        bool ok, absl::Duration elapsed) {
  metrics_->HistogramObserve(kProviderRequestDuration,
                             {{"system", std::string(system)},
                              {"operation", std::string(operation)},
                              {"outcome", ok ? "ok" : "error"}},
                             absl::ToDoubleSeconds(elapsed));
}

}  // namespace voipd
