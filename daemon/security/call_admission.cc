#include "daemon/security/call_admission.h"

#include <optional>
#include <string>
#include <utility>

#include "adapters/api/voip_error.h"
#include "daemon/security/request_scope.h"
#include "daemon/security/tenant_scope.h"

namespace voipd {

void CallAdmission::StartCall(const Principal& principal,
                              const voip::v1::StartCallRequest& request,
                              CallController* controller,
                              CallController::SessionCallback done) const {
  if (absl::Status limited = limiter_->Acquire(principal.name); !limited.ok()) {
    const auto error = GetVoipError(limited);
    metrics_->CounterAdd(kRateLimited, {{"token", principal.name},
                                        {"limit", error ? error->details().at("limit") : ""}});
    std::move(done)(std::move(limited));
    return;
  }
  const bool rescope = NeedsScoping(principal, request);
  voip::v1::StartCallRequest scoped;
  if (rescope) {
    scoped = request;
    ForceLabels(principal, scoped.mutable_labels());
    ScopeRequestId(principal, &scoped);
  }
  controller->StartCall(
      rescope ? scoped : request,
      [limiter = limiter_, name = principal.name,
       done = std::move(done)](absl::StatusOr<voip::v1::CallSession> result) mutable {
        limiter->Release(name, result.ok() ? std::optional<std::string>(result->session_id())
                                           : std::nullopt);
        std::move(done)(std::move(result));
      });
}

}  // namespace voipd
