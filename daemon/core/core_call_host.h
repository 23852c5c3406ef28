// The core's side of adapters::CallHost: inbound calls and adapter-placed
// calls go through the CallController, token checks through the Authorizer.
// Adapters are created before the controller (the controller is given the
// adapters), so the controller is attached afterwards; until then, and
// after Detach() at shutdown, requests fail with UNAVAILABLE.
#pragma once

#include <atomic>

#include "adapters/api/call_host.h"
#include "daemon/core/call_controller.h"
#include "daemon/core/event_bus.h"
#include "daemon/security/authorizer.h"

namespace voipd {

class CoreCallHost final : public adapters::CallHost {
 public:
  CoreCallHost(const Authorizer* authorizer, EventBus* bus) : authorizer_(authorizer), bus_(bus) {}

  void Attach(CallController* controller) { controller_.store(controller); }
  void Detach() { controller_.store(nullptr); }

  absl::StatusOr<voip::v1::CallSession> AcceptInbound(absl::string_view system_name,
                                                      adapters::InboundCall call) override;
  void PlaceCall(absl::string_view system_name, adapters::PlaceCallRequest request,
                 SessionCallback done) override;
  absl::StatusOr<std::unique_ptr<adapters::CallWatch>> WatchSystem(
      absl::string_view system_name,
      std::function<void(const voip::v1::CallEvent& event)> on_event) override;
  absl::StatusOr<adapters::ApiCaller> Authenticate(absl::string_view bearer_token) const override;
  bool AuthenticationRequired() const override { return authorizer_->enabled(); }

 private:
  const Authorizer* const authorizer_;
  EventBus* const bus_;
  std::atomic<CallController*> controller_{nullptr};
};

}  // namespace voipd
