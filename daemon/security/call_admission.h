// Every new outbound call passes here, whichever door it came in by: the
// gRPC StartCall, or a softphone page of the webrtc adapter
// (CoreCallHost::PlaceCall). A token's rate and concurrency limits, its
// tenant's labels and its request_id namespace belong to the token, not to
// the door, so a page cannot do what its token could not do over gRPC.
#pragma once

#include "daemon/core/call_controller.h"
#include "daemon/observability/metrics.h"
#include "daemon/security/call_limiter.h"
#include "daemon/security/principal.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd {

class CallAdmission {
 public:
  CallAdmission(CallLimiter* limiter, Metrics* metrics) : limiter_(limiter), metrics_(metrics) {}

  // Takes one StartCall from the token's limits (RESOURCE_EXHAUSTED with
  // RATE_LIMITED, counted in voipd_rate_limited_total, when none is left),
  // scopes `request` to the token, places it through `controller`, and gives
  // `done` the result once the limit is released.
  void StartCall(const Principal& principal, const voip::v1::StartCallRequest& request,
                 CallController* controller, CallController::SessionCallback done) const;

 private:
  CallLimiter* const limiter_;
  Metrics* const metrics_;
};

}  // namespace voipd
