// The contract between the core and one provider adapter (one configured
// system). The core owns call state; an adapter only translates between its
// provider's protocol and ProviderEvents.
//
// Every operation is asynchronous: it returns at once and completes by
// invoking its callback exactly once, on any thread. Callbacks must not be
// invoked while the adapter holds its own locks.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/api/call_host.h"
#include "voip/v1/call.pb.h"

namespace voipd::adapters {

// What kind of target the core hands to an adapter.
// kIdentity is a registered endpoint's name ("alice"), e.g. a browser agent
// of the webrtc system; only systems that accept identities are given one.
enum class TargetKind { kE164, kSipUri, kExtension, kIdentity };

struct DialRequest {
  std::string session_id;   // the core's id; adapters echo it in events
  TargetKind target_kind = TargetKind::kE164;
  std::string target;       // E.164 ("+12015550100"), URI, extension or identity
  std::string from;         // empty = the system's default caller
  absl::Duration ring_timeout = absl::ZeroDuration();  // zero = default
  voip::v1::ContactPhoneNumber contact;  // full context from the client
  std::map<std::string, std::string> labels;
};

struct DialResult {
  std::string provider_call_id;
  std::string from;  // the caller actually used (after defaults)
};

// Identifies an existing call to the adapter.
struct CallRef {
  std::string session_id;
  std::string provider_call_id;
};

struct Capabilities {
  bool can_end = true;
  bool can_hold = false;
  bool can_mute = false;
  bool accepts_sip_uri = false;
  bool accepts_extension = false;
  bool accepts_identity = false;
  // SimulateInbound works (the sandbox).
  bool can_simulate_inbound = false;
};

struct Health {
  enum class State { kHealthy, kDegraded, kUnhealthy };
  State state = State::kHealthy;
  std::string message;
};

using DialCallback = absl::AnyInvocable<void(absl::StatusOr<DialResult>) &&>;
using DoneCallback = absl::AnyInvocable<void(absl::Status) &&>;

class Adapter {
 public:
  virtual ~Adapter() = default;

  virtual Capabilities capabilities() const = 0;
  virtual Health health() const = 0;

  // Places the call. OK means the provider accepted it (the call now exists
  // there); progress then arrives as ProviderEvents. An error means no call
  // exists at the provider and no event for it will follow.
  virtual void StartCall(const DialRequest& request, DialCallback done) = 0;
  // Cancels or hangs up. The terminal event still comes as a ProviderEvent.
  virtual void EndCall(const CallRef& call, DoneCallback done) = 0;
  // OK only once the provider confirmed the change; the adapter reports the
  // confirmation as kHeld/kResumed (kMuted/kUnmuted) before calling done.
  virtual void Hold(const CallRef& call, bool hold, DoneCallback done) = 0;
  virtual void Mute(const CallRef& call, bool mute, DoneCallback done) = 0;

  // After voipd restarted (crash, kill -9): a call that was active in the
  // previous run, as last stored. done(true) means the provider still has
  // it and the adapter has taken it over again: from now on it reports the
  // call's events (at least kEnded when it ends) and serves EndCall/Hold/
  // Mute for it; if the call answered while voipd was down, report
  // kAnswered too. done(false) or an error: the provider cannot report it
  // (or it is gone) and the core ends it with DAEMON_RESTART. Called once
  // per call, before serving; `done` may run on any thread, within 15 s
  // (kReadoptTimeout, daemon/daemon.cc), or the core gives up and ends the
  // call with DAEMON_RESTART; a done(true) after that is answered with
  // EndCall (the call must not stay up at the provider, uncontrolled).
  virtual void Readopt(const voip::v1::CallSession& session,
                       absl::AnyInvocable<void(absl::StatusOr<bool>) &&> done) {
    std::move(done)(false);
  }

  // Simulators only (capabilities().can_simulate_inbound): report `call` as
  // arriving through AdapterContext::host->AcceptInbound and play it out.
  virtual void SimulateInbound(const InboundCall& call,
                               absl::AnyInvocable<void(absl::StatusOr<voip::v1::CallSession>) &&> done) {
    std::move(done)(absl::UnimplementedError("this system cannot simulate inbound calls"));
  }

  // Liveness: runs `alive` once the adapter's own event loop, if it has one,
  // has come round. The daemon's watchdog keepalive stops while an answer is
  // overdue, so systemd restarts a voipd whose SIP loop (say) hangs. An
  // adapter that works on the daemon's io_context (which the keepalive
  // itself runs on) or only on RPC threads answers at once.
  virtual void CheckAlive(absl::AnyInvocable<void() &&> alive) { std::move(alive)(); }

  // Stops timers and connections when the daemon stops; no new operation
  // starts afterwards. Pending callbacks must still be invoked. An adapter
  // that a config reload replaced is not told: it is destroyed once its last
  // call has ended, so its destructor must release what it holds too.
  virtual void Shutdown() {}
};

using AdapterPtr = std::shared_ptr<Adapter>;

}  // namespace voipd::adapters
