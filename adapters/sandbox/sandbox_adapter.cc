#include "adapters/sandbox/sandbox_adapter.h"

#include <utility>  // before asio: GCC 12 + Boost 1.74 (toolchain notes)
#include <chrono>
#include <map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters::sandbox {
namespace {

// Realistic timings of the far end before time_scale divides them.
constexpr absl::Duration kTimeToRing = absl::Milliseconds(300);
constexpr absl::Duration kRingToAnswer = absl::Seconds(1);
constexpr absl::Duration kRingToBusy = absl::Milliseconds(700);
constexpr absl::Duration kTimeToFailure = absl::Milliseconds(500);
constexpr absl::Duration kAnswerToRemoteHangup = absl::Seconds(3);
constexpr absl::Duration kHoldRoundTrip = absl::Milliseconds(80);
constexpr absl::Duration kDefaultRingTimeout = absl::Seconds(30);

voip::v1::ProviderCause Cause(int sip_code, std::string reason, int q850, std::string status) {
  voip::v1::ProviderCause cause;
  cause.set_sip_code(sip_code);
  cause.set_sip_reason(std::move(reason));
  cause.set_q850_cause(q850);
  cause.set_provider_status(std::move(status));
  return cause;
}

}  // namespace

Script ScriptForTarget(const std::string& target) {
  if (target == "+12015550101") return Script::kBusy;
  if (target == "+12015550102") return Script::kNoAnswer;
  if (target == "+12015550103") return Script::kProviderFailure;
  if (target == "+12015550104") return Script::kRemoteHangup;
  if (target == "+12015550105") return Script::kNetworkError;
  return Script::kAnswer;
}

// One timer per call, armed for the earliest pending step: a call's script
// (ring, answer, hang up, ring timeout) costs one timer object and a few
// re-arms instead of a timer per step (bench scenario a profiled the timers
// at 18 % of voipd's CPU). Steps are guarded by the adapter's mu_, and each
// expiry takes mu_ once for what is due and the re-arm: mu_ is shared by
// every gRPC thread and the io thread, and each extra acquisition was a
// chance to sleep on it (bench scenario a, third pass).
//
// The ring timeout is dropped when the far end answers, and the timer is
// cancelled only while a wait is in flight (`armed`): an answered call has
// nothing left on the io_context, so ending it touches neither the reactor's
// mutex nor the io thread (each cancelled wait would otherwise wake it once
// to run an aborted handler).
struct SandboxAdapter::SimCall {
  struct Step {
    absl::AnyInvocable<void() &&> fn;
    StepKind kind = StepKind::kPlain;
  };
  explicit SimCall(boost::asio::io_context& io)
      : timer(std::make_shared<boost::asio::steady_timer>(io)) {}
  std::shared_ptr<boost::asio::steady_timer> timer;
  std::multimap<std::chrono::steady_clock::time_point, Step> steps;
  bool answered = false;
  bool armed = false;  // an async_wait is in flight
};

SandboxAdapter::SandboxAdapter(const voip::config::v1::SandboxAdapterConfig& config,
                               const AdapterContext& context)
    : config_(config), context_(context) {}

SandboxAdapter::~SandboxAdapter() = default;

Capabilities SandboxAdapter::capabilities() const {
  Capabilities caps;
  caps.can_end = caps.can_hold = caps.can_mute = true;
  caps.accepts_sip_uri = config_.accept_sip_uri();
  caps.accepts_extension = config_.accept_extension();
  caps.can_simulate_inbound = true;
  return caps;
}

Health SandboxAdapter::health() const {
  Health health;
  if (config_.simulate_unhealthy()) {
    health.state = Health::State::kUnhealthy;
    health.message = "simulate_unhealthy is set";
  }
  return health;
}

absl::Duration SandboxAdapter::Scaled(absl::Duration d) const {
  return d / config_.time_scale();
}

void SandboxAdapter::Emit(ProviderEvent event) {
  context_.events->OnProviderEvent(std::move(event));
}

void SandboxAdapter::After(const std::string& session_id, absl::Duration delay,
                           absl::AnyInvocable<void() &&> fn, StepKind kind) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(session_id);
  if (it == calls_.end()) return;
  AddStepLocked(session_id, *it->second, delay, std::move(fn), kind);
}

void SandboxAdapter::AddStepLocked(const std::string& session_id, SimCall& call,
                                   absl::Duration delay, absl::AnyInvocable<void() &&> fn,
                                   StepKind kind) {
  if (kind == StepKind::kUntilAnswered && call.answered) return;
  const auto due = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(delay);
  const bool earliest = call.steps.empty() || due < call.steps.begin()->first;
  call.steps.emplace(due, SimCall::Step{std::move(fn), kind});
  if (earliest) Arm(session_id, call);
}

void SandboxAdapter::Arm(const std::string& session_id, SimCall& call) {
  // Re-arming cancels the wait in flight; its handler then sees
  // operation_aborted. A handler already queued with success simply runs
  // the steps that are due and re-arms again, so nothing is lost.
  call.timer->expires_at(call.steps.begin()->first);
  call.armed = true;
  std::weak_ptr<SandboxAdapter> weak = weak_from_this();
  call.timer->async_wait([weak, session_id](boost::system::error_code ec) {
    if (ec) return;  // re-armed or cancelled (the call ended)
    if (auto self = weak.lock()) self->RunDue(session_id);
  });
}

void SandboxAdapter::RunDue(const std::string& session_id) {
  std::vector<absl::AnyInvocable<void() &&>> due;
  {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(session_id);
    if (it == calls_.end()) return;
    SimCall& call = *it->second;
    call.armed = false;
    const auto now = std::chrono::steady_clock::now();
    while (!call.steps.empty() && call.steps.begin()->first <= now) {
      SimCall::Step step = std::move(call.steps.begin()->second);
      call.steps.erase(call.steps.begin());
      if (step.kind == StepKind::kAnswers) {
        // Marked here, under the lock already held, so that the re-arm
        // below no longer sees the ring timeout.
        call.answered = true;
        std::erase_if(call.steps,
                      [](const auto& s) { return s.second.kind == StepKind::kUntilAnswered; });
      }
      due.push_back(std::move(step.fn));
    }
    if (!call.steps.empty()) Arm(session_id, call);
  }
  // In schedule order. The call was there when they were taken; a later
  // step checks again, since an earlier one may have ended it.
  for (size_t i = 0; i < due.size(); ++i) {
    if (i > 0) {
      absl::MutexLock lock(&mu_);
      if (calls_.count(session_id) == 0) return;
    }
    std::move(due[i])();
  }
}

void SandboxAdapter::EmitAnswered(const std::string& session_id) {
  ProviderEvent event;
  event.session_id = session_id;
  event.kind = ProviderEventKind::kAnswered;
  Emit(std::move(event));
}

void SandboxAdapter::EndSimulated(const std::string& session_id, EndOutcome outcome,
                                  voip::v1::HangupSource source, voip::v1::ErrorCode code,
                                  voip::v1::ProviderCause cause, std::string message) {
  std::shared_ptr<SimCall> call;
  bool armed;
  {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(session_id);
    if (it == calls_.end()) return;  // already ended: exactly one kEnded per call
    call = std::move(it->second);
    calls_.erase(it);
    armed = call->armed;
  }
  if (armed) call->timer->cancel();
  ProviderEvent event;
  event.session_id = session_id;
  event.kind = ProviderEventKind::kEnded;
  event.outcome = outcome;
  event.source = source;
  event.error_code = code;
  event.cause = std::move(cause);
  event.message = std::move(message);
  Emit(std::move(event));
}

void SandboxAdapter::StartCall(const DialRequest& request, DialCallback done) {
  const Script script =
      request.target_kind == TargetKind::kE164 ? ScriptForTarget(request.target) : Script::kAnswer;
  if (script == Script::kNetworkError) {
    std::move(done)(NetworkError(context_.system_name,
                                 "sandbox: simulated network failure reaching the provider"));
    return;
  }
  DialResult result;
  result.from = request.from.empty()
                    ? (config_.default_from().empty() ? "+12015550199" : config_.default_from())
                    : request.from;
  const std::string id = request.session_id;
  const absl::Duration ring_timeout =
      request.ring_timeout > absl::ZeroDuration()
          ? request.ring_timeout
          : (config_.default_ring_timeout_seconds() > 0
                 ? absl::Seconds(config_.default_ring_timeout_seconds())
                 : kDefaultRingTimeout);

  // The script, as (delay, step, kind); added with the call under one lock.
  struct Scripted {
    absl::Duration delay;
    absl::AnyInvocable<void() &&> fn;
    StepKind kind = StepKind::kPlain;
  };
  std::vector<Scripted> script_steps;
  auto ring = [this, id] {
    ProviderEvent event;
    event.session_id = id;
    event.kind = ProviderEventKind::kRinging;
    Emit(std::move(event));
  };
  switch (script) {
    case Script::kAnswer:
    case Script::kRemoteHangup:
      script_steps.push_back({Scaled(kTimeToRing), ring});
      script_steps.push_back({Scaled(kTimeToRing + kRingToAnswer),
                              [this, id] { EmitAnswered(id); }, StepKind::kAnswers});
      if (script == Script::kRemoteHangup) {
        script_steps.push_back(
            {Scaled(kTimeToRing + kRingToAnswer + kAnswerToRemoteHangup), [this, id] {
               EndSimulated(id, EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_REMOTE,
                            voip::v1::ERROR_CODE_UNSPECIFIED, Cause(0, "", 16, "completed"),
                            "the far end hung up");
             }});
      }
      break;
    case Script::kBusy:
      script_steps.push_back({Scaled(kTimeToRing), ring});
      script_steps.push_back({Scaled(kTimeToRing + kRingToBusy), [this, id] {
                                EndSimulated(id, EndOutcome::kBusy,
                                             voip::v1::HANGUP_SOURCE_REMOTE,
                                             voip::v1::ERROR_CODE_UNSPECIFIED,
                                             Cause(486, "Busy Here", 17, "busy"),
                                             "the far end is busy");
                              }});
      break;
    case Script::kNoAnswer:
      script_steps.push_back({Scaled(kTimeToRing), ring});
      break;
    case Script::kProviderFailure:
      script_steps.push_back({Scaled(kTimeToFailure), [this, id] {
                                EndSimulated(id, EndOutcome::kFailed,
                                             voip::v1::HANGUP_SOURCE_SYSTEM,
                                             voip::v1::PROVIDER_ERROR,
                                             Cause(503, "Service Unavailable", 41, "failed"),
                                             "sandbox: simulated provider failure");
                              }});
      break;
    case Script::kNetworkError:
      break;  // handled above
  }
  // The ring timeout is voipd's policy, not the far end's: never scaled.
  script_steps.push_back({ring_timeout,
                          [this, id] {
                            EndSimulated(id, EndOutcome::kUnavailable,
                                         voip::v1::HANGUP_SOURCE_SYSTEM,
                                         voip::v1::ERROR_CODE_UNSPECIFIED,
                                         Cause(480, "Temporarily Unavailable", 19, "no-answer"),
                                         "no answer before the ring timeout");
                          },
                          StepKind::kUntilAnswered});

  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) {
      script_steps.clear();
    } else {
      result.provider_call_id = absl::StrCat("sbx-", next_call_id_++);
      auto call = std::make_shared<SimCall>(*context_.io);
      for (auto& step : script_steps) {
        AddStepLocked(id, *call, step.delay, std::move(step.fn), step.kind);
      }
      calls_.emplace(id, std::move(call));
    }
  }
  if (result.provider_call_id.empty()) {
    std::move(done)(NetworkError(context_.system_name, "sandbox: adapter is shutting down"));
    return;
  }
  std::move(done)(std::move(result));
}

void SandboxAdapter::EndCall(const CallRef& call, DoneCallback done) {
  EndSimulated(call.session_id, EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_LOCAL,
               voip::v1::ERROR_CODE_UNSPECIFIED, Cause(0, "", 16, "completed"),
               "ended by request");
  std::move(done)(absl::OkStatus());
}

void SandboxAdapter::Hold(const CallRef& call, bool hold, DoneCallback done) {
  // Simulates the re-INVITE round trip: the confirmation comes later, and
  // only then does the call change state.
  auto timer = std::make_shared<boost::asio::steady_timer>(*context_.io);
  timer->expires_after(absl::ToChronoNanoseconds(Scaled(kHoldRoundTrip)));
  std::weak_ptr<SandboxAdapter> weak = weak_from_this();
  timer->async_wait([weak, timer, call, hold, done = std::move(done)](
                        boost::system::error_code) mutable {
    auto self = weak.lock();
    bool alive = false;
    if (self) {
      absl::MutexLock lock(&self->mu_);
      alive = self->calls_.count(call.session_id) != 0;
    }
    if (!alive) {
      std::move(done)(InvalidStateError(call.session_id, "session_id: the call ended"));
      return;
    }
    ProviderEvent event;
    event.session_id = call.session_id;
    event.kind = hold ? ProviderEventKind::kHeld : ProviderEventKind::kResumed;
    self->Emit(std::move(event));
    std::move(done)(absl::OkStatus());
  });
}

void SandboxAdapter::Mute(const CallRef& call, bool mute, DoneCallback done) {
  bool alive;
  {
    absl::MutexLock lock(&mu_);
    alive = calls_.count(call.session_id) != 0;
  }
  if (!alive) {
    std::move(done)(InvalidStateError(call.session_id, "session_id: the call ended"));
    return;
  }
  ProviderEvent event;
  event.session_id = call.session_id;
  event.kind = mute ? ProviderEventKind::kMuted : ProviderEventKind::kUnmuted;
  Emit(std::move(event));
  std::move(done)(absl::OkStatus());
}

void SandboxAdapter::SimulateInbound(
    const InboundCall& call,
    absl::AnyInvocable<void(absl::StatusOr<voip::v1::CallSession>) &&> done) {
  if (context_.host == nullptr) {
    std::move(done)(absl::FailedPreconditionError("sandbox: no core to report the call to"));
    return;
  }
  InboundCall inbound = call;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) {
      std::move(done)(NetworkError(context_.system_name, "sandbox: adapter is shutting down"));
      return;
    }
    inbound.provider_call_id = absl::StrCat("sbx-in-", next_call_id_++);
  }
  absl::StatusOr<voip::v1::CallSession> session =
      context_.host->AcceptInbound(context_.system_name, inbound);
  if (!session.ok()) {
    std::move(done)(session.status());
    return;
  }
  const std::string id = session->session_id();
  {
    absl::MutexLock lock(&mu_);
    calls_.emplace(id, std::make_shared<SimCall>(*context_.io));
  }
  // The caller's number scripts the call, as the dialled number does for
  // outbound calls (docs/adapters/sandbox.md).
  const Script script = ScriptForTarget(call.from);
  if (script == Script::kNoAnswer) {
    // Nobody picks up: a missed call once the default ring timeout passes.
    const absl::Duration ring_timeout = config_.default_ring_timeout_seconds() > 0
                                            ? absl::Seconds(config_.default_ring_timeout_seconds())
                                            : kDefaultRingTimeout;
    After(id, ring_timeout, [this, id] {
      EndSimulated(id, EndOutcome::kUnavailable, voip::v1::HANGUP_SOURCE_SYSTEM,
                   voip::v1::ERROR_CODE_UNSPECIFIED,
                   Cause(480, "Temporarily Unavailable", 19, "no-answer"),
                   "nobody answered before the ring timeout");
    });
  } else if (script == Script::kRemoteHangup) {
    // The caller gives up while it rings.
    After(id, Scaled(kRingToAnswer), [this, id] {
      EndSimulated(id, EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_REMOTE,
                   voip::v1::ERROR_CODE_UNSPECIFIED, Cause(487, "Request Terminated", 16,
                                                           "canceled"),
                   "the caller hung up before answer");
    });
  } else {
    // Answered by the simulated agent, then the caller hangs up.
    After(id, Scaled(kRingToAnswer), [this, id] { EmitAnswered(id); }, StepKind::kAnswers);
    After(id, Scaled(kRingToAnswer + kAnswerToRemoteHangup), [this, id] {
      EndSimulated(id, EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_REMOTE,
                   voip::v1::ERROR_CODE_UNSPECIFIED, Cause(0, "", 16, "completed"),
                   "the caller hung up");
    });
  }
  std::move(done)(std::move(*session));
}

void SandboxAdapter::Shutdown() {
  std::map<std::string, std::shared_ptr<SimCall>> calls;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    calls.swap(calls_);
  }
  for (auto& [id, call] : calls) {
    call->timer->cancel();
  }
}

}  // namespace voipd::adapters::sandbox
