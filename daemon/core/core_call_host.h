// The core's side of adapters::CallHost: inbound calls go through the
// CallController, calls an adapter places for a token through the same
// CallAdmission as a gRPC StartCall, token checks through the Authorizer.
// Adapters are created before the controller (the controller is given the
// adapters), so the controller is attached afterwards; until then, and
// after Detach() at shutdown, requests fail with UNAVAILABLE.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "adapters/api/call_host.h"
#include "daemon/core/call_controller.h"
#include "daemon/core/event_bus.h"
#include "daemon/security/authorizer.h"
#include "daemon/security/call_admission.h"

namespace voipd {

class CoreCallHost final : public adapters::CallHost {
 public:
  CoreCallHost(const Authorizer* authorizer, const CallAdmission* admission, EventBus* bus)
      : authorizer_(authorizer), admission_(admission), bus_(bus) {}

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
  absl::StatusOr<adapters::ApiCaller> Reauthenticate(
      const adapters::ApiCaller& caller) const override;
  std::unique_ptr<adapters::CallWatch> WatchTokens(std::function<void()> on_change) override;

  // The daemon replaced the token table (reload): runs every WatchTokens
  // callback on this thread.
  void TokensChanged();

  // WatchSystem feeds open now: event-bus subscribers that are not clients'
  // streams (voipd_active_subscribers leaves them out).
  size_t system_watches() const { return system_watches_->load(); }

 private:
  class TokenWatch;
  struct TokenWatchers {
    absl::Mutex mu;
    uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
    std::map<uint64_t, std::shared_ptr<std::function<void()>>> callbacks ABSL_GUARDED_BY(mu);
  };

  const Authorizer* const authorizer_;
  const CallAdmission* const admission_;
  EventBus* const bus_;
  std::atomic<CallController*> controller_{nullptr};
  // Shared with the watches, which may outlive the host at shutdown.
  const std::shared_ptr<std::atomic<size_t>> system_watches_ =
      std::make_shared<std::atomic<size_t>>(0);
  // Shared with the watches, which may outlive the host at shutdown.
  const std::shared_ptr<TokenWatchers> token_watchers_ = std::make_shared<TokenWatchers>();
};

}  // namespace voipd
