#include "daemon/core/call_controller.h"

#include <utility>  // before asio (toolchain notes)
#include <atomic>
#include <chrono>
#include <functional>

#include <boost/asio/io_context.hpp>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "adapters/api/voip_error.h"
#include "daemon/core/call_end_waiter.h"
#include "daemon/core/call_state_machine.h"
#include "daemon/core/number_normalizer.h"
#include "daemon/core/request_validation.h"
#include "daemon/logging.h"
#include "daemon/core/proto_time.h"

namespace voipd {
namespace {

using voip::v1::CallSession;

// Random v4 UUID: session ids are handed to browsers and CRMs, so they must
// not be guessable or sequential.
std::string NewSessionId() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  uint64_t hi, lo;
  {
    absl::MutexLock lock(&mu);
    hi = absl::Uniform<uint64_t>(*gen);
    lo = absl::Uniform<uint64_t>(*gen);
  }
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

uint64_t Fingerprint(const google::protobuf::Message& request) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream out(&stream);
  out.SetSerializationDeterministic(true);  // map order must not change the key
  request.SerializeToCodedStream(&out);
  out.Trim();
  return std::hash<std::string>{}(bytes);
}

adapters::CallRef RefOf(const CallSession& session) {
  return adapters::CallRef{session.session_id(), session.provider_call_id()};
}

// Started just before an adapter operation, reported from its callback.
// Monotonic, so a clock step never produces a negative latency.
class ProviderTimer {
 public:
  ProviderTimer(ProviderRequestObserver* observer, std::string system, const char* operation)
      : observer_(observer),
        system_(std::move(system)),
        operation_(operation),
        start_(std::chrono::steady_clock::now()) {}

  void Done(bool ok) const {
    if (observer_ == nullptr) return;
    observer_->OnProviderRequest(system_, operation_, ok,
                                 absl::FromChrono(std::chrono::steady_clock::now() - start_));
  }

 private:
  ProviderRequestObserver* observer_;
  std::string system_;
  const char* operation_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

CallController::CallController(CallRegistry* registry, IdempotencyCache* idempotency,
                               boost::asio::io_context* io, SystemTablePtr systems,
                               ControllerLimits limits)
    : registry_(registry), idempotency_(idempotency), io_(io), systems_(std::move(systems)),
      limits_(limits) {}

void CallController::SetSystems(SystemTablePtr systems, ControllerLimits limits) {
  absl::MutexLock lock(&mu_);
  systems_ = std::move(systems);
  limits_ = limits;
}

SystemTablePtr CallController::systems() const {
  absl::MutexLock lock(&mu_);
  return systems_;
}

void CallController::WithIdempotency(const std::string& method, const std::string& request_id,
                                     const google::protobuf::Message& request,
                                     SessionCallback done,
                                     absl::AnyInvocable<void(SessionCallback) &&> work) {
  if (request_id.empty()) {
    std::move(work)(std::move(done));
    return;
  }
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) {
    std::move(done)(s);
    return;
  }
  const std::string key = absl::StrCat(method, "/", request_id);
  // A retry gets the call as it is now, not as it was: that is what a client
  // retrying after a timeout needs.
  auto shared_done = std::make_shared<SessionCallback>(std::move(done));
  auto replay = [this, shared_done](IdempotencyCache::Result result) mutable {
    if (!result.ok()) {
      std::move (*shared_done)(result.status());
      return;
    }
    absl::StatusOr<CallSession> session = Find(*result);
    if (!session.ok() && GetErrorCode(session.status()) == voip::v1::SESSION_NOT_FOUND) {
      // Keys outlive the calls they started (idempotency_ttl is 24 h,
      // ended_retention 1 h): say which call and why it is gone, on the
      // field the client sent, rather than a session_id it never sent.
      voip::v1::VoipError error;
      error.set_error_code(voip::v1::SESSION_NOT_FOUND);
      error.set_field("request_id");
      error.set_session_id(*result);
      // (Not the key's value: for a token it is a digest, not what was sent.)
      error.set_message(absl::StrCat(
          "request_id: this request already ran on call '", *result,
          "', which has ended and is no longer kept (calls.ended_retention, "
          "calls.max_ended_calls); it was not run again"));
      session = MakeVoipError(std::move(error));
    }
    std::move(*shared_done)(std::move(session));
  };
  auto claim = idempotency_->Claim(key, Fingerprint(request), std::move(replay), absl::Now());
  if (!claim.ok()) {
    std::move(*shared_done)(claim.status());
    return;
  }
  if (*claim == IdempotencyCache::ClaimOutcome::kReplayed) return;
  std::move(work)([this, key, shared_done](absl::StatusOr<CallSession> result) mutable {
    if (result.ok()) {
      idempotency_->Complete(key, result->session_id());
    } else {
      idempotency_->Complete(key, result.status());
    }
    std::move(*shared_done)(std::move(result));
  });
}

void CallController::StartCall(const voip::v1::StartCallRequest& request, SessionCallback done) {
  if (shutting_down_.load()) {
    std::move(done)(MakeVoipError(voip::v1::DAEMON_SHUTDOWN, "voipd is shutting down; no new calls"));
    return;
  }
  if (absl::Status s = ValidateStartCall(request); !s.ok()) {
    std::move(done)(s);
    return;
  }
  // The idempotency key's fingerprint leaves the request_id out; without a
  // request_id there is no key, and no copy to make.
  voip::v1::StartCallRequest keyed;
  if (!request.request_id().empty()) {
    keyed = request;
    keyed.clear_request_id();
  }
  // WithIdempotency runs `work` before it returns (or never), so `request`
  // outlives it: no copy of the request per call.
  WithIdempotency("StartCall", request.request_id(), keyed, std::move(done),
                  [this, &request](SessionCallback done) mutable {
                    DoStartCall(request, std::move(done));
                  });
}

absl::StatusOr<CallSession> CallController::AcceptInbound(const std::string& system_name,
                                                         const adapters::InboundCall& call) {
  if (shutting_down_.load()) {
    return MakeVoipError(voip::v1::DAEMON_SHUTDOWN, "voipd is shutting down; no new calls");
  }
  if (absl::Status s = ValidateInboundCall(call.provider_call_id, call.from, call.to, call.labels);
      !s.ok()) {
    return s;
  }
  SystemTablePtr systems = this->systems();
  const SystemEntry* system = systems->Find(system_name);
  if (system == nullptr) {
    return ConfigurationError(absl::StrCat("inbound call on system '", system_name,
                                           "', which is not configured"));
  }
  CallSession session;
  session.set_session_id(NewSessionId());
  session.set_system_name(system->name);
  session.set_direction(voip::v1::CALL_DIRECTION_INBOUND);
  session.set_provider_call_id(call.provider_call_id);
  session.set_from(call.from);
  session.mutable_to()->set_number(call.to);
  session.set_to_normalized(call.to);
  *session.mutable_created_at() = ProtoNow();
  session.mutable_labels()->insert(call.labels.begin(), call.labels.end());
  const std::string id = session.session_id();
  registry_->Create(std::move(session), system->adapter);
  // The call is alerting the moment the provider reports it.
  adapters::ProviderEvent ringing;
  ringing.session_id = id;
  ringing.kind = adapters::ProviderEventKind::kRinging;
  registry_->OnProviderEvent(std::move(ringing));
  LogInfo("calls", absl::StrCat("inbound call from ", call.from, " to ", call.to),
          {{"session_id", id}, {"system", system->name}});
  return registry_->Snapshot(id);
}

void CallController::DoStartCall(const voip::v1::StartCallRequest& request,
                                 SessionCallback done) {
  SystemTablePtr systems = this->systems();
  absl::StatusOr<NormalizedTarget> target =
      NormalizeNumber(request.to().number(), systems->default_region());
  if (!target.ok()) {
    std::move(done)(target.status());
    return;
  }
  absl::StatusOr<RouteDecision> route = systems->router().Route(request, *target, *systems);
  if (!route.ok()) {
    std::move(done)(route.status());
    return;
  }
  const SystemEntry* system = systems->Find(route->system);
  if (system == nullptr) {
    std::move(done)(ConfigurationError(
        absl::StrCat(route->reason, " names system '", route->system, "', which is not configured")));
    return;
  }
  const adapters::Capabilities caps = system->adapter->capabilities();
  if ((target->kind == adapters::TargetKind::kSipUri && !caps.accepts_sip_uri) ||
      (target->kind == adapters::TargetKind::kExtension && !caps.accepts_extension) ||
      (target->kind == adapters::TargetKind::kIdentity && !caps.accepts_identity)) {
    const char* what = target->kind == adapters::TargetKind::kSipUri     ? "SIP URIs"
                       : target->kind == adapters::TargetKind::kExtension ? "extensions"
                                                                          : "endpoint names";
    std::move(done)(InvalidNumberError(
        "to.number", absl::StrCat("to.number: system '", system->name, "' does not accept ", what,
                                  "; give an E.164 number")));
    return;
  }

  CallSession session;
  session.set_session_id(NewSessionId());
  session.set_system_name(system->name);
  session.set_direction(voip::v1::CALL_DIRECTION_OUTBOUND);
  session.set_from(request.from());
  *session.mutable_to() = request.to();
  session.set_to_normalized(target->value);
  *session.mutable_created_at() = ProtoNow();
  session.mutable_labels()->insert(request.labels().begin(), request.labels().end());
  const std::string id = session.session_id();
  registry_->Create(std::move(session), system->adapter);
  LogInfo("calls", absl::StrCat("call to ", target->value, " (", route->reason, ")"),
          {{"session_id", id}, {"system", system->name}});

  adapters::DialRequest dial;
  dial.session_id = id;
  dial.target_kind = target->kind;
  dial.target = target->value;
  dial.from = request.from();
  if (request.has_ring_timeout()) {
    dial.ring_timeout = absl::Seconds(request.ring_timeout().seconds()) +
                        absl::Nanoseconds(request.ring_timeout().nanos());
  }
  dial.contact = request.to();
  dial.labels.insert(request.labels().begin(), request.labels().end());
  const std::string system_name = system->name;
  ProviderTimer timer(observer_.load(), system_name, "StartCall");
  system->adapter->StartCall(dial, [this, id, system_name, timer, done = std::move(done)](
                                       absl::StatusOr<adapters::DialResult> result) mutable {
    timer.Done(result.ok());
    if (result.ok()) {
      registry_->SetProviderCallId(id, result->provider_call_id, result->from);
      std::move(done)(registry_->Snapshot(id));
      return;
    }
    // No call exists at the provider: the core ends it so that subscribers
    // still see exactly one terminal event.
    absl::Status error = WithCallContext(result.status(), id, system_name);
    adapters::ProviderEvent ended;
    ended.session_id = id;
    ended.kind = adapters::ProviderEventKind::kEnded;
    ended.outcome = adapters::EndOutcome::kFailed;
    ended.source = voip::v1::HANGUP_SOURCE_SYSTEM;
    ended.error_code = GetErrorCode(error);
    ended.message = std::string(error.message());
    if (auto detail = GetVoipError(error)) ended.cause = detail->provider_cause();
    registry_->OnProviderEvent(std::move(ended));
    LogInfo("calls", absl::StrCat("call failed to start: ", error.message()),
            {{"session_id", id}, {"system", system_name}});
    std::move(done)(error);
  });
}

void CallController::EndCall(const voip::v1::EndCallRequest& request, SessionCallback done) {
  if (absl::Status s = ValidateSessionId(request.session_id()); !s.ok()) {
    std::move(done)(s);
    return;
  }
  const std::string id = request.session_id();
  if (history_ != nullptr) {
    // The caller is told the call ended only once that is on disk.
    done = [history = history_, done = std::move(done)](absl::StatusOr<CallSession> r) mutable {
      if (!r.ok()) {
        std::move(done)(std::move(r));
        return;
      }
      const uint64_t sequence = r->last_sequence();
      history->WhenDurable(sequence, [done = std::move(done), r = std::move(r)]() mutable {
        std::move(done)(std::move(r));
      });
    };
  }
  WithIdempotency("EndCall", request.request_id(), request, std::move(done),
                  [this, id](SessionCallback done) mutable { DoEndCall(id, std::move(done)); });
}

void CallController::DoEndCall(const std::string& session_id, SessionCallback done) {
  absl::StatusOr<CallHandle> call = registry_->Get(session_id);
  if (!call.ok()) {
    // An ended call the registry has forgotten (or one from before a
    // restart) is still an ended call: ending it changes nothing.
    voip::v1::GetCallStatusRequest lookup;
    lookup.set_session_id(session_id);
    absl::StatusOr<CallSession> past = GetCallStatus(lookup);
    std::move(done)(past.ok() ? past : call.status());
    return;
  }
  const CallSession& session = *call->session;
  if (IsTerminal(session.status())) {
    std::move(done)(session);  // ending an ended call changes nothing
    return;
  }
  if (!call->adapter->capabilities().can_end) {
    std::move(done)(UnsupportedOperationError(session.system_name(), "EndCall"));
    return;
  }
  absl::Duration timeout;
  {
    absl::MutexLock lock(&mu_);
    timeout = limits_.end_call_timeout;
  }
  const std::string system = session.system_name();
  std::shared_ptr<CallEndWaiter> waiter = WatchEnd(session_id, std::move(done));
  if (waiter == nullptr) return;  // it ended meanwhile: answered already
  ProviderTimer timer(observer_.load(), system, "EndCall");
  call->adapter->EndCall(
      RefOf(session), [this, session_id, system, timeout, timer, waiter](absl::Status status) {
        timer.Done(status.ok());
        if (!status.ok()) {
          waiter->Finish(WithCallContext(status, session_id, system));
          return;
        }
        waiter->Accepted(*io_, timeout, [this, session_id, timeout] {
          EndLocally(session_id,
                     absl::StrCat("the provider did not confirm the hangup within ",
                                  absl::FormatDuration(timeout), "; ended locally"),
                     voip::v1::ERROR_CODE_UNSPECIFIED);
        });
      });
}

std::shared_ptr<CallEndWaiter> CallController::WatchEnd(const std::string& session_id,
                                                        SessionCallback done) {
  auto waiter = std::make_shared<CallEndWaiter>(std::move(done));
  if (registry_->OnTerminal(session_id,
                            [waiter](const CallSession& s) { waiter->Ended(s); })) {
    return waiter;
  }
  // Ended and pruned since the caller looked it up: history may still have it.
  waiter->Finish(Find(session_id));
  return nullptr;
}

void CallController::EndLocally(const std::string& session_id, std::string why,
                                voip::v1::ErrorCode code) {
  // Rejected by the state machine if the call ended meanwhile.
  adapters::ProviderEvent ended;
  ended.session_id = session_id;
  ended.kind = adapters::ProviderEventKind::kEnded;
  ended.outcome = adapters::EndOutcome::kDisconnected;
  ended.source = voip::v1::HANGUP_SOURCE_LOCAL;
  ended.error_code = code;
  ended.message = std::move(why);
  registry_->OnProviderEvent(std::move(ended));
}

void CallController::Hold(const voip::v1::HoldRequest& request, SessionCallback done) {
  if (absl::Status s = ValidateSessionId(request.session_id()); !s.ok()) {
    std::move(done)(s);
    return;
  }
  const std::string id = request.session_id();
  const bool on = request.hold();
  WithIdempotency("Hold", request.request_id(), request, std::move(done),
                  [this, id, on](SessionCallback done) mutable {
                    DoToggle(id, /*hold_not_mute=*/true, on, std::move(done));
                  });
}

void CallController::Mute(const voip::v1::MuteRequest& request, SessionCallback done) {
  if (absl::Status s = ValidateSessionId(request.session_id()); !s.ok()) {
    std::move(done)(s);
    return;
  }
  const std::string id = request.session_id();
  const bool on = request.mute();
  WithIdempotency("Mute", request.request_id(), request, std::move(done),
                  [this, id, on](SessionCallback done) mutable {
                    DoToggle(id, /*hold_not_mute=*/false, on, std::move(done));
                  });
}

void CallController::DoToggle(const std::string& session_id, bool hold_not_mute, bool on,
                              SessionCallback done) {
  const char* op = hold_not_mute ? "Hold" : "Mute";
  absl::StatusOr<CallHandle> call = registry_->Get(session_id);
  if (!call.ok()) {
    std::move(done)(call.status());
    return;
  }
  const CallSession& session = *call->session;
  if (IsTerminal(session.status())) {
    std::move(done)(InvalidStateError(
        session_id, absl::StrCat("session_id: the call has ended (", StatusName(session.status()),
                                 "); ", op, " needs a connected call")));
    return;
  }
  const adapters::Capabilities caps = call->adapter->capabilities();
  if (hold_not_mute ? !caps.can_hold : !caps.can_mute) {
    std::move(done)(UnsupportedOperationError(session.system_name(), op));
    return;
  }
  if (!IsEstablished(session.status())) {
    std::move(done)(InvalidStateError(
        session_id, absl::StrCat("session_id: the call is ", StatusName(session.status()), "; ",
                                 op, " needs a connected call")));
    return;
  }
  const bool current = hold_not_mute ? session.on_hold() : session.muted();
  if (current == on) {
    std::move(done)(session);  // already so: idempotent by nature
    return;
  }
  auto finish = [this, session_id, system = session.system_name(),
                 timer = ProviderTimer(observer_.load(), session.system_name(), op),
                 done = std::move(done)](absl::Status status) mutable {
    timer.Done(status.ok());
    if (!status.ok()) {
      std::move(done)(WithCallContext(status, session_id, system));
      return;
    }
    std::move(done)(registry_->Snapshot(session_id));
  };
  if (hold_not_mute) {
    call->adapter->Hold(RefOf(session), on, std::move(finish));
  } else {
    call->adapter->Mute(RefOf(session), on, std::move(finish));
  }
}

absl::StatusOr<CallSession> CallController::GetCallStatus(
    const voip::v1::GetCallStatusRequest& request) const {
  if (absl::Status s = ValidateSessionId(request.session_id()); !s.ok()) return s;
  return Find(request.session_id());
}

absl::StatusOr<CallSession> CallController::Find(const std::string& session_id) const {
  absl::StatusOr<CallSession> live = registry_->Snapshot(session_id);
  if (live.ok() || history_ == nullptr) return live;
  absl::StatusOr<std::optional<CallSession>> past = history_->Get(session_id);
  if (!past.ok()) return past.status();
  if (!past->has_value()) return live.status();
  return **past;
}

absl::StatusOr<voip::v1::ListCallsResponse> CallController::ListCalls(
    const voip::v1::ListCallsRequest& request) const {
  if (absl::Status s = ValidateListCalls(request); !s.ok()) return s;
  if (request.created_after().nanos() < 0 || request.created_before().nanos() < 0) {
    return InvalidArgumentError("created_after", "created_after/created_before: invalid timestamp");
  }
  std::string number;
  if (!request.number().empty()) {
    // Match what was stored: the normalized form when the text is a number.
    absl::StatusOr<NormalizedTarget> target =
        NormalizeNumber(request.number(), systems()->default_region(), "number");
    number = target.ok() ? target->value : std::string(absl::StripAsciiWhitespace(request.number()));
  }
  // Every active call is in the registry, also one whose events could not
  // be written to history (disk full, read-only): list active calls from there.
  if (history_ == nullptr || request.active_only()) return registry_->List(request, number);
  // Read-your-writes: a call started a moment ago must be listed.
  if (!history_->Sync(absl::Seconds(2))) {
    LogWarn("history", "ListCalls: history writes are behind; the list may miss recent calls");
  }
  return history_->List(request, number);
}

void CallController::SimulateInboundCall(const voip::v1::SimulateInboundCallRequest& request,
                                         SessionCallback done) {
  if (shutting_down_.load()) {
    std::move(done)(MakeVoipError(voip::v1::DAEMON_SHUTDOWN, "voipd is shutting down; no new calls"));
    return;
  }
  if (absl::Status s = ValidateSystemName(request.system_name(), "system_name"); !s.ok()) {
    std::move(done)(s);
    return;
  }
  SystemTablePtr systems = this->systems();
  const std::string name =
      request.system_name().empty() ? systems->default_system() : request.system_name();
  const SystemEntry* system = systems->Find(name);
  if (system == nullptr) {
    std::move(done)(MakeVoipError(voip::v1::UNKNOWN_SYSTEM,
                                  absl::StrCat("system_name: '", name, "' is not configured")));
    return;
  }
  if (!system->adapter->capabilities().can_simulate_inbound) {
    std::move(done)(UnsupportedOperationError(name, "SimulateInboundCall"));
    return;
  }
  adapters::InboundCall call;
  call.from = request.from();
  call.to = request.to();
  call.labels.insert(request.labels().begin(), request.labels().end());
  if (absl::Status s = ValidateInboundCall("", call.from, call.to, call.labels); !s.ok()) {
    std::move(done)(s);
    return;
  }
  WithIdempotency("SimulateInboundCall", request.request_id(), request, std::move(done),
                  [adapter = system->adapter, call](SessionCallback done) mutable {
                    adapter->SimulateInbound(call, std::move(done));
                  });
}

voip::v1::GetCapabilitiesResponse CallController::GetCapabilities() const {
  SystemTablePtr systems = this->systems();
  const std::map<std::string, int> active = registry_->ActiveCountBySystem();
  voip::v1::GetCapabilitiesResponse response;
  response.set_default_system(systems->default_system());
  for (const auto& [name, entry] : systems->systems()) {
    const adapters::Capabilities caps = entry.adapter->capabilities();
    const adapters::Health health = entry.adapter->health();
    auto* out = response.add_systems();
    out->set_name(name);
    out->set_type(entry.type);
    out->set_is_default(name == systems->default_system());
    out->set_can_end(caps.can_end);
    out->set_can_hold(caps.can_hold);
    out->set_can_mute(caps.can_mute);
    out->set_accepts_sip_uri(caps.accepts_sip_uri);
    out->set_accepts_extension(caps.accepts_extension);
    out->set_accepts_identity(caps.accepts_identity);
    switch (health.state) {
      case adapters::Health::State::kHealthy:
        out->mutable_health()->set_state(voip::v1::HEALTH_STATE_HEALTHY);
        break;
      case adapters::Health::State::kDegraded:
        out->mutable_health()->set_state(voip::v1::HEALTH_STATE_DEGRADED);
        break;
      case adapters::Health::State::kUnhealthy:
        out->mutable_health()->set_state(voip::v1::HEALTH_STATE_UNHEALTHY);
        break;
    }
    out->mutable_health()->set_message(health.message);
    auto it = active.find(name);
    out->set_active_calls(it == active.end() ? 0 : it->second);
  }
  return response;
}

void CallController::EndAllCalls(absl::Duration grace, absl::AnyInvocable<void() &&> done) {
  std::vector<CallHandle> active = registry_->ActiveCalls();
  if (active.empty()) {
    std::move(done)();
    return;
  }
  struct Countdown {
    std::atomic<size_t> left;
    absl::AnyInvocable<void() &&> done;
  };
  auto countdown = std::make_shared<Countdown>();
  countdown->left = active.size();
  countdown->done = std::move(done);
  LogInfo("shutdown", absl::StrCat("ending ", active.size(), " active call(s)"));
  for (const CallHandle& call : active) {
    const std::string id = call.session->session_id();
    // The local end after `grace` carries DAEMON_SHUTDOWN so clients can
    // tell a daemon stop from a hangup.
    std::shared_ptr<CallEndWaiter> waiter =
        WatchEnd(id, [countdown](absl::StatusOr<CallSession>) {
          if (countdown->left.fetch_sub(1) == 1) std::move(countdown->done)();
        });
    if (waiter == nullptr) continue;  // it ended meanwhile (and is counted)
    // The adapter's reply is not waited for, only the call's end: it ends
    // locally after `grace`.
    waiter->Accepted(*io_, grace, [this, id] {
      EndLocally(id, "voipd shut down before the provider confirmed the hangup",
                 voip::v1::DAEMON_SHUTDOWN);
    });
    registry_->OverrideLocalEnd(id, voip::v1::HANGUP_SOURCE_SYSTEM, voip::v1::DAEMON_SHUTDOWN,
                                "ended because voipd shut down");
    if (call.adapter) {
      ProviderTimer timer(observer_.load(), call.session->system_name(), "EndCall");
      call.adapter->EndCall(RefOf(*call.session),
                            [timer](absl::Status status) { timer.Done(status.ok()); });
    }
  }
}

}  // namespace voipd
