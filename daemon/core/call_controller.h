// The core's use cases: StartCall, EndCall, Hold, Mute and the queries,
// without any gRPC. It validates requests at the edge, routes, enforces
// idempotency and capabilities, and drives adapters; the registry and the
// state machine do the bookkeeping. The gRPC service is a thin shell over it.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/api/call_host.h"
#include "daemon/core/call_history.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/idempotency_cache.h"
#include "daemon/core/provider_request_observer.h"
#include "daemon/core/system_table.h"
#include "voip/v1/voip_service.pb.h"

namespace boost::asio {
class io_context;
}

namespace voipd {

class CallEndWaiter;

struct ControllerLimits {
  absl::Duration end_call_timeout = absl::Seconds(5);
};

class CallController {
 public:
  using SessionCallback = absl::AnyInvocable<void(absl::StatusOr<voip::v1::CallSession>) &&>;

  CallController(CallRegistry* registry, IdempotencyCache* idempotency,
                 boost::asio::io_context* io, SystemTablePtr systems, ControllerLimits limits);

  // Each completes `done` exactly once, possibly on another thread.
  void StartCall(const voip::v1::StartCallRequest& request, SessionCallback done);
  void EndCall(const voip::v1::EndCallRequest& request, SessionCallback done);
  void Hold(const voip::v1::HoldRequest& request, SessionCallback done);
  void Mute(const voip::v1::MuteRequest& request, SessionCallback done);

  // A call the provider of `system_name` reports as arriving (see
  // adapters::CallHost::AcceptInbound).
  absl::StatusOr<voip::v1::CallSession> AcceptInbound(const std::string& system_name,
                                                      const adapters::InboundCall& call);

  // Asks the system's adapter to simulate an inbound call (sandbox).
  void SimulateInboundCall(const voip::v1::SimulateInboundCallRequest& request,
                           SessionCallback done);

  absl::StatusOr<voip::v1::CallSession> GetCallStatus(const voip::v1::GetCallStatusRequest& r) const;
  absl::StatusOr<voip::v1::ListCallsResponse> ListCalls(const voip::v1::ListCallsRequest& r) const;

  // Durable history: ended calls are looked up there once the registry has
  // forgotten them, ListCalls reads it, and EndCall answers only once the
  // terminal event is on disk. Set before serving; nullptr = memory only.
  void SetHistory(CallHistory* history) { history_ = history; }
  voip::v1::GetCapabilitiesResponse GetCapabilities() const;

  // Config reload: new calls use `systems`; live calls keep their adapter.
  void SetSystems(SystemTablePtr systems, ControllerLimits limits);
  SystemTablePtr systems() const;

  // Shutdown: ends every active call through its adapter and waits up to
  // `grace`; calls still active then are ended locally with DAEMON_SHUTDOWN.
  // `done` runs once every call is terminal.
  void EndAllCalls(absl::Duration grace, absl::AnyInvocable<void() &&> done);
  // From now on StartCall fails with UNAVAILABLE.
  void BeginShutdown() { shutting_down_.store(true); }

  // Times every adapter operation from now on (nullptr: none). `observer`
  // must outlive the controller.
  void SetProviderObserver(ProviderRequestObserver* observer) { observer_.store(observer); }

 private:
  // Runs `work` under the request_id's idempotency key (if any): the first
  // request runs it, retries get its result. `work` runs before this
  // returns or not at all; `request` is only read when request_id is set.
  void WithIdempotency(const std::string& method, const std::string& request_id,
                       const google::protobuf::Message& request, SessionCallback done,
                       absl::AnyInvocable<void(SessionCallback) &&> work);
  // The call as the registry holds it, or as history stored it once the
  // registry has forgotten it; SESSION_NOT_FOUND when neither has it.
  absl::StatusOr<voip::v1::CallSession> Find(const std::string& session_id) const;
  void DoStartCall(const voip::v1::StartCallRequest& request, SessionCallback done);
  void DoEndCall(const std::string& session_id, SessionCallback done);
  // Common shape of Hold and Mute.
  void DoToggle(const std::string& session_id, bool hold_not_mute, bool on,
                SessionCallback done);
  // Registers `done` for the call's terminal snapshot, before the provider
  // is asked to hang up (daemon/core/call_end_waiter.h says why). Null, with
  // `done` answered, if the registry no longer knows the call.
  std::shared_ptr<CallEndWaiter> WatchEnd(const std::string& session_id, SessionCallback done);
  // Ends the call in voipd without its provider (the provider never confirmed).
  void EndLocally(const std::string& session_id, std::string why, voip::v1::ErrorCode code);

  CallRegistry* const registry_;
  CallHistory* history_ = nullptr;
  IdempotencyCache* const idempotency_;
  boost::asio::io_context* const io_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<ProviderRequestObserver*> observer_{nullptr};
  mutable absl::Mutex mu_;
  SystemTablePtr systems_ ABSL_GUARDED_BY(mu_);
  ControllerLimits limits_ ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd
