#include "daemon/core/core_call_host.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/api/voip_error.h"
#include "daemon/security/scopes.h"

namespace voipd {
namespace {

absl::Status NotRunning() {
  return MakeVoipError(voip::v1::DAEMON_SHUTDOWN, "voipd is not accepting calls right now");
}

// A bus subscription that hands each event to a callback. Wake-ups come from
// the fan-out thread; the mutex keeps two drains from interleaving so the
// callback sees events in order.
class BusWatch final : public adapters::CallWatch {
 public:
  struct State {
    absl::Mutex mu;
    SubscriptionPtr sub;
    std::function<void(const voip::v1::CallEvent&)> on_event;
    void Drain() {
      absl::MutexLock lock(&mu);
      if (!sub) return;
      for (;;) {
        absl::StatusOr<CallEventPtr> next = sub->Next();
        if (!next.ok() || *next == nullptr) return;  // closed, or wait for a wake
        on_event(**next);
      }
    }
  };
  BusWatch(std::shared_ptr<State> state, std::shared_ptr<std::atomic<size_t>> count)
      : state_(std::move(state)), count_(std::move(count)) {
    count_->fetch_add(1);
  }
  ~BusWatch() override {
    SubscriptionPtr sub;
    {
      absl::MutexLock lock(&state_->mu);
      sub = std::move(state_->sub);
    }
    if (sub) sub->Close();
    count_->fetch_sub(1);
  }

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<std::atomic<size_t>> count_;
};

absl::StatusOr<adapters::ApiCaller> ToCaller(absl::StatusOr<Principal> principal) {
  if (!principal.ok()) return principal.status();
  adapters::ApiCaller caller;
  caller.name = principal->name;
  caller.can_read = HasScope(principal->scopes, kScopeCallsRead);
  caller.can_write = HasScope(principal->scopes, kScopeCallsWrite);
  caller.labels = principal->labels;
  return caller;
}

}  // namespace

// Removes its callback when destroyed (the adapter stopped).
class CoreCallHost::TokenWatch final : public adapters::CallWatch {
 public:
  TokenWatch(std::shared_ptr<TokenWatchers> watchers, uint64_t id)
      : watchers_(std::move(watchers)), id_(id) {}
  ~TokenWatch() override {
    absl::MutexLock lock(&watchers_->mu);
    watchers_->callbacks.erase(id_);
  }

 private:
  std::shared_ptr<TokenWatchers> watchers_;
  const uint64_t id_;
};

absl::StatusOr<std::unique_ptr<adapters::CallWatch>> CoreCallHost::WatchSystem(
    absl::string_view system_name, std::function<void(const voip::v1::CallEvent&)> on_event) {
  auto state = std::make_shared<BusWatch::State>();
  state->on_event = std::move(on_event);
  EventFilter filter;
  filter.system_name = std::string(system_name);
  // The wake callback holds the state, not the watch: a wake-up already
  // running when the watch is destroyed finds `sub` gone and stops.
  absl::StatusOr<SubscriptionPtr> sub =
      bus_->Subscribe(std::move(filter), std::nullopt, [state] { state->Drain(); });
  if (!sub.ok()) return sub.status();
  {
    absl::MutexLock lock(&state->mu);
    state->sub = *sub;
  }
  state->Drain();  // registers for the first wake-up
  return std::make_unique<BusWatch>(state, system_watches_);
}

absl::StatusOr<voip::v1::CallSession> CoreCallHost::AcceptInbound(absl::string_view system_name,
                                                                  adapters::InboundCall call) {
  CallController* controller = controller_.load();
  if (controller == nullptr) return NotRunning();
  return controller->AcceptInbound(std::string(system_name), call);
}

void CoreCallHost::PlaceCall(absl::string_view system_name, adapters::PlaceCallRequest request,
                             SessionCallback done) {
  CallController* controller = controller_.load();
  if (controller == nullptr) {
    std::move(done)(NotRunning());
    return;
  }
  voip::v1::StartCallRequest start;
  start.mutable_to()->set_number(request.to);
  start.set_preferred_system(std::string(system_name));
  start.set_from(request.from);
  start.set_request_id(request.request_id);
  start.mutable_labels()->insert(request.labels.begin(), request.labels.end());
  Principal principal;
  principal.name = request.token.empty() ? "anonymous" : request.token;
  principal.labels = request.labels;
  admission_->StartCall(principal, start, controller, std::move(done));
}

absl::StatusOr<adapters::ApiCaller> CoreCallHost::Authenticate(
    absl::string_view bearer_token) const {
  const std::string header = absl::StrCat("Bearer ", bearer_token);
  absl::StatusOr<adapters::ApiCaller> caller = ToCaller(authorizer_->Authenticate(header));
  if (caller.ok()) caller->token_sha256 = Authorizer::DigestOf(header);
  return caller;
}

absl::StatusOr<adapters::ApiCaller> CoreCallHost::Reauthenticate(
    const adapters::ApiCaller& caller) const {
  absl::StatusOr<adapters::ApiCaller> now =
      ToCaller(authorizer_->Reauthenticate(caller.token_sha256, caller.name));
  if (!now.ok()) return now.status();
  now->token_sha256 = caller.token_sha256;
  return now;
}

std::unique_ptr<adapters::CallWatch> CoreCallHost::WatchTokens(std::function<void()> on_change) {
  auto callback = std::make_shared<std::function<void()>>(std::move(on_change));
  uint64_t id;
  {
    absl::MutexLock lock(&token_watchers_->mu);
    id = token_watchers_->next_id++;
    token_watchers_->callbacks.emplace(id, std::move(callback));
  }
  return std::make_unique<TokenWatch>(token_watchers_, id);
}

void CoreCallHost::TokensChanged() {
  std::vector<std::shared_ptr<std::function<void()>>> callbacks;
  {
    absl::MutexLock lock(&token_watchers_->mu);
    for (const auto& [id, callback] : token_watchers_->callbacks) callbacks.push_back(callback);
  }
  // Outside the lock: a callback may destroy its own watch.
  for (const auto& callback : callbacks) (*callback)();
}

}  // namespace voipd
