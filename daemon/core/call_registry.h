// All calls the daemon knows, active and recently ended. It is the sink for
// every adapter's events: it runs each through the CallStateMachine and
// publishes what the machine accepts to the EventBus, in order.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/api/adapter.h"
#include "adapters/api/provider_event.h"
#include "daemon/core/event_bus.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd {

struct TransitionResult;

// An immutable view of a call as it was at one moment. Usually it points
// into the call's latest published CallEvent (which owns it), so recording a
// transition copies no session; a change that publishes nothing
// (SetProviderCallId) replaces it with a fresh copy rather than editing it.
using CallSessionPtr = std::shared_ptr<const voip::v1::CallSession>;

// A call as the controller needs it: a snapshot plus the adapter that owns it.
struct CallHandle {
  CallSessionPtr session;  // never null
  adapters::AdapterPtr adapter;
};

struct RegistryLimits {
  absl::Duration ended_retention = absl::Hours(1);
  size_t max_ended_calls = 10000;
};

class CallRegistry final : public adapters::CallEventSink {
 public:
  using TerminalCallback = absl::AnyInvocable<void(const voip::v1::CallSession&) &&>;

  CallRegistry(EventBus* bus, RegistryLimits limits);

  // Adds a call in INITIATING and publishes that first event; returns the
  // call as published.
  CallSessionPtr Create(voip::v1::CallSession session, adapters::AdapterPtr adapter);

  // After a restart: puts back a call that was active, as it was stored,
  // without announcing anything (its events were published before).
  void Restore(voip::v1::CallSession session, adapters::AdapterPtr adapter);

  // adapters::CallEventSink: the state machine judges, the bus announces.
  void OnProviderEvent(adapters::ProviderEvent event) override;

  // Sets the provider's call id learnt from a StartCall result (no event).
  void SetProviderCallId(const std::string& session_id, const std::string& provider_call_id,
                         const std::string& from);

  // The core, not the client, is about to end this call (shutdown): the
  // adapter's local-hangup event is recorded with `source`/`code`/`message`
  // instead, so clients can tell a daemon stop from their own EndCall.
  void OverrideLocalEnd(const std::string& session_id, voip::v1::HangupSource source,
                        voip::v1::ErrorCode code, std::string message);

  absl::StatusOr<CallHandle> Get(const std::string& session_id) const;
  absl::StatusOr<voip::v1::CallSession> Snapshot(const std::string& session_id) const;

  // Runs `callback` once the call is in a terminal state (at once if it is).
  // Returns false if the call is unknown.
  bool OnTerminal(const std::string& session_id, TerminalCallback callback);

  // `number`: see ListCallsRequest.number (already normalized when it parses).
  absl::StatusOr<voip::v1::ListCallsResponse> List(const voip::v1::ListCallsRequest& request,
                                                   const std::string& number = "") const;
  std::vector<CallHandle> ActiveCalls() const;
  // Active calls per system name.
  std::map<std::string, int> ActiveCountBySystem() const;

  void SetLimits(RegistryLimits limits);

 private:
  struct Record {
    CallSessionPtr session;
    adapters::AdapterPtr adapter;
    uint64_t index = 0;  // creation order, for stable pagination
    std::vector<TerminalCallback> terminal_callbacks;
    std::optional<adapters::ProviderEvent> local_end_override;
  };
  using RecordPtr = std::shared_ptr<Record>;
  // OnProviderEvent's second half: applies `result` (judged on `judged`) if
  // the call's session is still `judged`; false if it changed meanwhile.
  // `next` is the event to publish, already holding the judged session.
  bool Commit(const std::string& session_id, const CallSessionPtr& judged,
              std::shared_ptr<voip::v1::CallEvent> next, const TransitionResult& result,
              absl::Time now);
  // Forgets ended calls past retention (the newest one excepted with
  // `keep_newest`). The records (and, through their sessions, the last
  // events of those calls) go to `pruned`, to be freed after mu_ is released.
  void PruneEnded(absl::Time now, std::vector<RecordPtr>* pruned, bool keep_newest = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  EventBus* const bus_;
  mutable absl::Mutex mu_;
  RegistryLimits limits_ ABSL_GUARDED_BY(mu_);
  // Hashed: every RPC and provider event looks a call up by its 36-byte id,
  // and with max_ended_calls retained a tree walk compared ~14 of them.
  absl::flat_hash_map<std::string, RecordPtr> by_id_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, RecordPtr> by_index_ ABSL_GUARDED_BY(mu_);
  // Ended calls in the order they ended, for retention.
  std::deque<std::pair<absl::Time, std::string>> ended_ ABSL_GUARDED_BY(mu_);
  uint64_t next_index_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace voipd
