#include "adapters/sip/sip_adapter.h"

#include <utility>

#include "adapters/api/voip_error.h"
#include "adapters/sip/sip_stack.h"

namespace voipd::adapters::sip {

absl::StatusOr<std::shared_ptr<SipAdapter>> SipAdapter::Create(
    const SipSettings& settings, const AdapterContext& context, std::string password,
    std::shared_ptr<const WavPrompt> prompt) {
  absl::StatusOr<std::shared_ptr<ReLoop>> loop = ReLoop::Acquire(context.logger);
  if (!loop.ok()) return ProviderError(context.system_name, std::string(loop.status().message()));
  std::shared_ptr<SipAdapter> adapter(new SipAdapter(settings, context, *loop));
  SipStack::Options options;
  options.system = context.system_name;
  options.settings = settings;
  options.events = context.events;
  options.logger = context.logger;
  options.password = std::move(password);
  options.prompt = std::move(prompt);
  options.health = adapter->health_;
  options.host = context.host;
  absl::StatusOr<std::unique_ptr<SipStack>> stack;
  (*loop)->RunSync([&] { stack = SipStack::Create(std::move(options)); });
  // (A stack that failed to start was already destroyed on the loop.)
  if (!stack.ok()) return stack.status();
  absl::MutexLock lock(&adapter->mu_);
  adapter->stack_ = stack->release();
  return adapter;
}

SipAdapter::SipAdapter(const SipSettings& settings, const AdapterContext& context,
                       std::shared_ptr<ReLoop> loop)
    : media_(settings.media == MediaMode::kRtp),
      registers_(settings.register_),
      system_(context.system_name),
      loop_(std::move(loop)),
      health_(std::make_shared<HealthCell>()) {}

SipAdapter::~SipAdapter() { StopStack(); }

Capabilities SipAdapter::capabilities() const {
  Capabilities caps;
  caps.can_end = true;
  // Both need our own media session (media: rtp).
  caps.can_hold = media_;
  caps.can_mute = media_;
  caps.accepts_sip_uri = true;
  caps.accepts_extension = true;
  return caps;
}

Health SipAdapter::health() const {
  if (!registers_) return Health{};
  return health_->Get();
}

void SipAdapter::CheckAlive(absl::AnyInvocable<void() &&> alive) {
  loop_->Post([alive = std::move(alive)]() mutable { std::move(alive)(); });
}

bool SipAdapter::Post(absl::AnyInvocable<void(SipStack&) &&> work) {
  absl::MutexLock lock(&mu_);
  if (stack_ == nullptr) return false;
  // Queued under mu_, so StopStack's teardown (queued after it clears
  // stack_) runs after every task that can still see the stack.
  loop_->Post([stack = stack_, work = std::move(work)]() mutable { std::move(work)(*stack); });
  return true;
}

void SipAdapter::StartCall(const DialRequest& request, DialCallback done) {
  auto shared = std::make_shared<DialCallback>(std::move(done));
  if (!Post([request, shared](SipStack& stack) mutable {
        stack.StartCall(request, std::move(*shared));
      })) {
    std::move (*shared)(NetworkError(system_, "the sip system is stopping"));
  }
}

void SipAdapter::EndCall(const CallRef& call, DoneCallback done) {
  auto shared = std::make_shared<DoneCallback>(std::move(done));
  if (!Post([call, shared](SipStack& stack) mutable { stack.EndCall(call, std::move(*shared)); })) {
    std::move (*shared)(absl::OkStatus());  // the stop ended every call
  }
}

void SipAdapter::Hold(const CallRef& call, bool hold, DoneCallback done) {
  auto shared = std::make_shared<DoneCallback>(std::move(done));
  if (!Post([call, hold, shared](SipStack& stack) mutable {
        stack.Hold(call, hold, std::move(*shared));
      })) {
    std::move (*shared)(InvalidStateError(call.session_id, "session_id: the call has ended"));
  }
}

void SipAdapter::Mute(const CallRef& call, bool mute, DoneCallback done) {
  auto shared = std::make_shared<DoneCallback>(std::move(done));
  if (!Post([call, mute, shared](SipStack& stack) mutable {
        stack.Mute(call, mute, std::move(*shared));
      })) {
    std::move (*shared)(InvalidStateError(call.session_id, "session_id: the call has ended"));
  }
}

void SipAdapter::Shutdown() { StopStack(); }

void SipAdapter::StopStack() {
  SipStack* stack;
  {
    absl::MutexLock lock(&mu_);
    stack = stack_;
    stack_ = nullptr;
  }
  if (stack == nullptr) return;
  // The stack hangs up its calls and closes its sockets on the loop. When
  // the last owner lets go from a loop callback (a call's final event), the
  // stack may be on the stack of that callback: delete it on a later turn.
  auto teardown = [stack, keep_loop = loop_] { delete stack; };
  if (loop_->InLoopThread()) {
    loop_->Post(std::move(teardown));
  } else {
    loop_->RunSync(std::move(teardown));
  }
}

}  // namespace voipd::adapters::sip
