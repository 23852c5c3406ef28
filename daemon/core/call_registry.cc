#include "daemon/core/call_registry.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "daemon/core/arena_event.h"
#include "daemon/core/call_state_machine.h"
#include "daemon/logging.h"

namespace voipd {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

int64_t Micros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

bool Matches(const voip::v1::ListCallsRequest& request, const std::string& number,
             const voip::v1::CallSession& session) {
  if (request.active_only() && IsTerminal(session.status())) return false;
  if (request.direction() != voip::v1::CALL_DIRECTION_UNSPECIFIED &&
      session.direction() != request.direction()) {
    return false;
  }
  if (request.has_created_after() &&
      Micros(session.created_at()) < Micros(request.created_after())) {
    return false;
  }
  if (request.has_created_before() &&
      Micros(session.created_at()) >= Micros(request.created_before())) {
    return false;
  }
  if (!number.empty() && session.to_normalized() != number && session.to().number() != number &&
      session.from() != number) {
    return false;
  }
  if (request.status() != voip::v1::CALL_STATUS_UNSPECIFIED && session.status() != request.status()) {
    return false;
  }
  if (!request.system_name().empty() && session.system_name() != request.system_name()) return false;
  for (const auto& [key, value] : request.labels()) {
    auto it = session.labels().find(key);
    if (it == session.labels().end() || it->second != value) return false;
  }
  return true;
}

// The session inside `event`, sharing the event's ownership: the record then
// holds the call as published without a copy of its own.
CallSessionPtr SessionOf(CallEventPtr event) {
  const voip::v1::CallSession* session = &event->session();
  return CallSessionPtr(std::move(event), session);
}

}  // namespace

CallRegistry::CallRegistry(EventBus* bus, RegistryLimits limits) : bus_(bus), limits_(limits) {}

CallSessionPtr CallRegistry::Create(voip::v1::CallSession session, adapters::AdapterPtr adapter) {
  EventBus::WakeList wakes;
  std::vector<RecordPtr> pruned;
  CallEventPtr evicted;  // freed after mu_, like `pruned`
  CallSessionPtr created;
  auto record = std::make_shared<Record>();
  record->adapter = std::move(adapter);
  session.set_status(voip::v1::CALL_STATUS_INITIATING);
  voip::v1::CallEvent event;
  event.set_type(voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  event.set_previous_status(voip::v1::CALL_STATUS_UNSPECIFIED);
  *event.mutable_session() = std::move(session);
  {
    absl::MutexLock lock(&mu_);
    PruneEnded(absl::Now(), &pruned);
    record->index = next_index_++;
    record->session = SessionOf(bus_->Publish(std::move(event), &wakes, &evicted));
    created = record->session;
    by_id_[created->session_id()] = record;
    by_index_[record->index] = std::move(record);
  }
  bus_->Dispatch(std::move(wakes));
  return created;
}

void CallRegistry::Restore(voip::v1::CallSession session, adapters::AdapterPtr adapter) {
  absl::MutexLock lock(&mu_);
  auto record = std::make_shared<Record>();
  record->index = next_index_++;
  record->adapter = std::move(adapter);
  record->session = std::make_shared<const voip::v1::CallSession>(std::move(session));
  by_id_[record->session->session_id()] = record;
  by_index_[record->index] = record;
}

void CallRegistry::OnProviderEvent(adapters::ProviderEvent event) {
  // The transition is judged on a copy made outside mu_, and committed only
  // if the call did not change meanwhile (else judged again): the copy is
  // most of the work, and every gRPC thread and the io thread queue on mu_
  // (bench scenario a measured ~12 % of voipd's CPU in futex waits and
  // wake-ups here when it was copied under the lock).
  for (;;) {
    CallSessionPtr current;
    {
      absl::MutexLock lock(&mu_);
      auto it = by_id_.find(event.session_id);
      if (it == by_id_.end()) {
        LogWarn("registry", "event for an unknown session dropped",
                {{"session_id", event.session_id}});
        return;
      }
      const Record& record = *it->second;
      if (event.kind == adapters::ProviderEventKind::kEnded &&
          event.source == voip::v1::HANGUP_SOURCE_LOCAL && record.local_end_override) {
        event.source = record.local_end_override->source;
        event.error_code = record.local_end_override->error_code;
        event.message = record.local_end_override->message;
      }
      current = record.session;
    }
    // The one copy a transition needs: the published session is immutable.
    // It is made straight into the event to publish, on that event's arena
    // (arena_event.h): copying a heap session into an arena event later
    // would be a second copy.
    std::shared_ptr<voip::v1::CallEvent> out = NewArenaEvent();
    voip::v1::CallSession& next = *out->mutable_session();
    next = *current;
    const absl::Time now = absl::Now();
    TransitionResult result = ApplyProviderEvent(next, event, now);
    out->set_type(result.event_type);
    out->set_previous_status(result.previous_status);
    if (Commit(event.session_id, current, std::move(out), result, now)) return;
  }
}

bool CallRegistry::Commit(const std::string& session_id, const CallSessionPtr& judged,
                          std::shared_ptr<voip::v1::CallEvent> next,
                          const TransitionResult& result, absl::Time now) {
  EventBus::WakeList wakes;
  std::vector<TerminalCallback> callbacks;
  CallSessionPtr ended;
  CallEventPtr evicted;           // freed after mu_
  std::vector<RecordPtr> pruned;  // likewise
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(session_id);
    if (it == by_id_.end() || it->second->session != judged) return false;
    Record& record = *it->second;
    if (result.accepted) {
      record.session = SessionOf(bus_->Publish(std::move(next), &wakes, &evicted));
      if (IsTerminal(record.session->status())) {
        callbacks.swap(record.terminal_callbacks);
        ended = record.session;
        ended_.emplace_back(now, ended->session_id());
        // Also here, not only in Create: max_ended_calls is a bound on
        // what is held, even when no call starts after a burst ends. The
        // call that just ended stays, whatever the limits: its EndCall and
        // terminal callbacks are about to read it.
        PruneEnded(now, &pruned, /*keep_newest=*/true);
        // The adapter is no longer needed; dropping it lets a reloaded-away
        // adapter instance die once its last call has ended.
        record.adapter.reset();
      }
    }
  }
  if (!result.accepted) {
    const std::string line = absl::StrCat("dropped event: ", result.rejection);
    const LogFields fields = {{"session_id", session_id}, {"system", judged->system_name()}};
    // A fact arriving after the call ended is the ordinary race of EndCall
    // against the far end (e.g. an answer on its way): debug, like a
    // duplicate. Anything else the machine refuses is worth a warning.
    (result.duplicate || IsTerminal(judged->status())) ? LogDebug("registry", line, fields)
                                                       : LogWarn("registry", line, fields);
    return true;
  }
  bus_->Dispatch(std::move(wakes));
  if (ended) {
    LogInfo("calls", absl::StrCat("call ended: ", StatusName(ended->status())),
            {{"session_id", ended->session_id()}, {"system", ended->system_name()}});
    for (auto& callback : callbacks) std::move(callback)(*ended);
  }
  return true;
}

void CallRegistry::SetProviderCallId(const std::string& session_id,
                                     const std::string& provider_call_id,
                                     const std::string& from) {
  // Like OnProviderEvent: copy outside mu_, replace if nothing changed meanwhile.
  for (;;) {
    CallSessionPtr current;
    {
      absl::MutexLock lock(&mu_);
      auto it = by_id_.find(session_id);
      if (it == by_id_.end()) return;
      current = it->second->session;
    }
    const bool set_id = current->provider_call_id().empty() && !provider_call_id.empty();
    const bool set_from = current->from().empty() && !from.empty();
    if (!set_id && !set_from) return;
    // The current session may be a published event's: change a copy.
    auto changed = std::make_shared<voip::v1::CallSession>(*current);
    if (set_id) changed->set_provider_call_id(provider_call_id);
    if (set_from) changed->set_from(from);
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(session_id);
    if (it == by_id_.end()) return;
    if (it->second->session != current) continue;
    it->second->session = std::move(changed);
    return;  // `current` (the old session) is freed after the lock
  }
}

void CallRegistry::OverrideLocalEnd(const std::string& session_id,
                                    voip::v1::HangupSource source, voip::v1::ErrorCode code,
                                    std::string message) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(session_id);
  if (it == by_id_.end()) return;
  adapters::ProviderEvent override;
  override.source = source;
  override.error_code = code;
  override.message = std::move(message);
  it->second->local_end_override = std::move(override);
}

absl::StatusOr<CallHandle> CallRegistry::Get(const std::string& session_id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(session_id);
  if (it == by_id_.end()) return SessionNotFoundError(session_id);
  return CallHandle{it->second->session, it->second->adapter};
}

absl::StatusOr<voip::v1::CallSession> CallRegistry::Snapshot(const std::string& session_id) const {
  CallSessionPtr session;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(session_id);
    if (it == by_id_.end()) return SessionNotFoundError(session_id);
    session = it->second->session;
  }
  return *session;  // the copy is made outside the lock
}

bool CallRegistry::OnTerminal(const std::string& session_id, TerminalCallback callback) {
  CallSessionPtr ended;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(session_id);
    if (it == by_id_.end()) return false;
    if (!IsTerminal(it->second->session->status())) {
      it->second->terminal_callbacks.push_back(std::move(callback));
      return true;
    }
    ended = it->second->session;
  }
  std::move(callback)(*ended);
  return true;
}

absl::StatusOr<voip::v1::ListCallsResponse> CallRegistry::List(
    const voip::v1::ListCallsRequest& request, const std::string& number) const {
  if (request.page_size() < 0) {
    return InvalidArgumentError("page_size", "page_size: must not be negative");
  }
  const int page_size = request.page_size() == 0 ? kDefaultPageSize
                                                 : std::min(request.page_size(), kMaxPageSize);
  uint64_t start = 0;
  if (!request.page_token().empty() && !absl::SimpleAtoi(request.page_token(), &start)) {
    return InvalidArgumentError("page_token",
                                "page_token: not a token returned by a previous ListCalls");
  }
  voip::v1::ListCallsResponse response;
  absl::MutexLock lock(&mu_);
  for (auto it = by_index_.lower_bound(start); it != by_index_.end(); ++it) {
    if (!Matches(request, number, *it->second->session)) continue;
    if (response.calls_size() == page_size) {
      response.set_next_page_token(absl::StrCat(it->first));
      break;
    }
    *response.add_calls() = *it->second->session;
  }
  return response;
}

std::vector<CallHandle> CallRegistry::ActiveCalls() const {
  std::vector<CallHandle> active;
  absl::MutexLock lock(&mu_);
  for (const auto& [index, record] : by_index_) {
    if (!IsTerminal(record->session->status())) {
      active.push_back(CallHandle{record->session, record->adapter});
    }
  }
  return active;
}

std::map<std::string, int> CallRegistry::ActiveCountBySystem() const {
  std::map<std::string, int> counts;
  absl::MutexLock lock(&mu_);
  for (const auto& [index, record] : by_index_) {
    if (!IsTerminal(record->session->status())) ++counts[record->session->system_name()];
  }
  return counts;
}

void CallRegistry::SetLimits(RegistryLimits limits) {
  absl::MutexLock lock(&mu_);
  limits_ = limits;
}

void CallRegistry::PruneEnded(absl::Time now, std::vector<RecordPtr>* pruned, bool keep_newest) {
  const size_t keep = keep_newest ? 1 : 0;
  while (ended_.size() > keep && (ended_.front().first + limits_.ended_retention <= now ||
                                  ended_.size() > limits_.max_ended_calls)) {
    auto it = by_id_.find(ended_.front().second);
    if (it != by_id_.end()) {
      by_index_.erase(it->second->index);
      pruned->push_back(std::move(it->second));
      by_id_.erase(it);
    }
    ended_.pop_front();
  }
}

}  // namespace voipd
