#include "daemon/core/event_bus.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "daemon/core/proto_time.h"

namespace voipd {

bool EventFilter::Matches(const voip::v1::CallEvent& event) const {
  const auto& session = event.session();
  if (!session_id.empty() && session.session_id() != session_id) return false;
  if (!system_name.empty() && session.system_name() != system_name) return false;
  for (const auto& [key, value] : labels) {
    auto it = session.labels().find(key);
    if (it == session.labels().end() || it->second != value) return false;
  }
  return true;
}

Subscription::Subscription(EventBus* bus, EventFilter filter, uint64_t cursor,
                           uint64_t replay_until, std::function<void()> wake,
                           WakeMode wake_mode)
    : bus_(bus),
      filter_(std::move(filter)),
      wake_mode_(wake_mode),
      cursor_(cursor),
      replay_until_(replay_until),
      wake_(std::move(wake)) {}

Subscription::~Subscription() { Close(); }

absl::StatusOr<CallEventPtr> Subscription::Next() { return bus_->NextFor(this); }

void Subscription::Close() {
  {
    absl::MutexLock lock(&wake_mu_);
    if (closed_) return;
    closed_ = true;
    wake_ = nullptr;
  }
  bus_->Forget(this);
}

uint64_t Subscription::cursor() const {
  absl::MutexLock lock(&bus_->mu_);
  return cursor_;
}

absl::Status Subscription::LagError() const {
  absl::MutexLock lock(&bus_->mu_);
  return bus_->LagErrorLocked(*this);
}

void Subscription::Wake() {
  std::function<void()> wake;
  {
    absl::MutexLock lock(&wake_mu_);
    wake = wake_;
  }
  if (wake) wake();  // outside the lock: the callback may re-enter Next/Close
}

EventBus::EventBus(size_t window, uint64_t max_lag, uint64_t first_sequence)
    : window_(window == 0 ? 1 : window),
      max_lag_(max_lag == 0 ? 1 : max_lag),
      next_sequence_(first_sequence) {}

EventBus::~EventBus() = default;

CallEventPtr EventBus::Publish(voip::v1::CallEvent event, WakeList* deferred,
                              CallEventPtr* evicted) {
  return Publish(std::make_shared<voip::v1::CallEvent>(std::move(event)), deferred, evicted);
}

CallEventPtr EventBus::Publish(std::shared_ptr<voip::v1::CallEvent> event, WakeList* deferred,
                              CallEventPtr* evicted) {
  WakeList to_wake;
  CallEventPtr stored;
  CallEventPtr dropped;  // the event leaving the window is freed after the lock
  {
    absl::MutexLock lock(&mu_);
    event->set_sequence(next_sequence_++);
    *event->mutable_time() = ProtoNow();
    event->mutable_session()->set_last_sequence(event->sequence());
    stored = std::move(event);
    log_.push_back(stored);
    while (log_.size() > window_) {
      dropped = std::move(log_.front());
      log_.pop_front();
    }
    if (journal_) {
      journal_(stored);  // subscribers are woken by MarkDurable
    } else {
      TakeWakeableLocked(stored->sequence(), &to_wake);
    }
  }
  if (evicted != nullptr) *evicted = std::move(dropped);
  if (deferred != nullptr) {
    deferred->insert(deferred->end(), to_wake.begin(), to_wake.end());
  } else {
    Dispatch(std::move(to_wake));
  }
  return stored;
}

void EventBus::SetJournal(Journal journal) {
  absl::MutexLock lock(&mu_);
  durable_ = next_sequence_ - 1;
  journal_ = std::move(journal);
}

void EventBus::MarkDurable(uint64_t sequence) {
  WakeList to_wake;
  {
    absl::MutexLock lock(&mu_);
    if (sequence <= durable_) return;
    durable_ = std::min(sequence, next_sequence_ - 1);
    TakeWakeableLocked(durable_, &to_wake);
  }
  Dispatch(std::move(to_wake));
}

void EventBus::TakeWakeableLocked(uint64_t upto, WakeList* to_wake) {
  size_t kept = 0;
  for (size_t i = 0; i < waiting_.size(); ++i) {
    auto sub = waiting_[i].lock();
    if (!sub) continue;  // gone: drop it from the list
    if (HasEventForLocked(*sub, upto)) {
      sub->waiting_ = false;
      to_wake->push_back(std::move(waiting_[i]));
    } else {
      // Compacted in place; never a self-move (it would empty the weak_ptr).
      if (kept != i) waiting_[kept] = std::move(waiting_[i]);
      ++kept;
    }
  }
  waiting_.resize(kept);
}

bool EventBus::HasEventForLocked(Subscription& sub, uint64_t upto) {
  if (log_.empty()) return true;
  if (sub.cursor_ + 1 < log_.front()->sequence()) return true;  // NextFor reports it
  // Stepping over rejected events here keeps the cursor at the head, so
  // they never count as lag.
  return SkipRejectedLocked(sub, upto) != nullptr;
}

const CallEventPtr* EventBus::SkipRejectedLocked(Subscription& sub, uint64_t upto) {
  const uint64_t oldest = log_.empty() ? next_sequence_ : log_.front()->sequence();
  for (size_t i = sub.cursor_ + 1 - oldest; i < log_.size(); ++i) {
    const CallEventPtr& event = log_[i];
    if (event->sequence() > upto) break;  // not visible yet
    if (sub.filter_.Matches(*event)) return &event;
    sub.cursor_ = event->sequence();
  }
  return nullptr;
}

void EventBus::Restore(std::vector<voip::v1::CallEvent> events, uint64_t last_sequence) {
  absl::MutexLock lock(&mu_);
  log_.clear();
  for (auto& event : events) {
    if (event.sequence() > last_sequence) break;
    log_.push_back(std::make_shared<const voip::v1::CallEvent>(std::move(event)));
  }
  while (log_.size() > window_) log_.pop_front();
  next_sequence_ = last_sequence + 1;
  durable_ = last_sequence;
}

void EventBus::Dispatch(WakeList subscribers) {
  WakeList dispatched;
  for (auto& weak : subscribers) {
    auto sub = weak.lock();
    if (!sub) continue;
    if (sub->wake_mode_ == WakeMode::kInline) {
      sub->Wake();
    } else {
      dispatched.push_back(std::move(weak));
    }
  }
  // Only streams need the dispatcher; with none waiting (the common case
  // without subscribers) mu_ is not taken again.
  if (dispatched.empty()) return;
  WakeDispatcher dispatcher;
  {
    absl::MutexLock lock(&mu_);
    dispatcher = dispatcher_;
  }
  if (dispatcher) {
    dispatcher(std::move(dispatched));
  } else {
    Wake(dispatched);
  }
}

void EventBus::SetWakeDispatcher(WakeDispatcher dispatcher) {
  absl::MutexLock lock(&mu_);
  dispatcher_ = std::move(dispatcher);
}

void EventBus::Wake(WakeList& subscribers) {
  for (auto& weak : subscribers) {
    if (auto sub = weak.lock()) sub->Wake();
  }
}

absl::StatusOr<SubscriptionPtr> EventBus::Subscribe(EventFilter filter,
                                                    std::optional<uint64_t> after_sequence,
                                                    std::function<void()> wake,
                                                    WakeMode wake_mode) {
  absl::MutexLock lock(&mu_);
  if (closed_) return *closed_;
  const uint64_t last = VisibleLocked();
  uint64_t cursor = last;
  if (after_sequence) {
    const uint64_t oldest = log_.empty() ? next_sequence_ : log_.front()->sequence();
    if (*after_sequence > last) {
      return InvalidArgumentError(
          "after_sequence", absl::StrCat("after_sequence: ", *after_sequence,
                                         " is newer than the last event (", last, ")"));
    }
    if (*after_sequence + 1 < oldest) {
      // OUT_OF_RANGE, as the issue asks, with the VoipError every error
      // carries: the field, and where a client can start again.
      voip::v1::VoipError error;
      error.set_error_code(voip::v1::INVALID_ARGUMENT);
      error.set_field("after_sequence");
      error.set_message(absl::StrCat("after_sequence: events after ", *after_sequence,
                                     " are no longer held; the oldest held sequence is ", oldest));
      (*error.mutable_details())["oldest_sequence"] = absl::StrCat(oldest);
      return MakeVoipError(std::move(error), absl::StatusCode::kOutOfRange);
    }
    cursor = *after_sequence;
  }
  SubscriptionPtr sub(
      new Subscription(this, std::move(filter), cursor, last, std::move(wake), wake_mode));
  all_.emplace(sub.get(), sub);
  return sub;
}

bool EventBus::LaggingLocked(const Subscription& sub) const {
  const uint64_t last = VisibleLocked();
  const uint64_t oldest = log_.empty() ? next_sequence_ : log_.front()->sequence();
  // A resumed subscriber is behind on purpose until it has replayed what it
  // asked for; after that, any lag is its own slowness. Falling out of the
  // window is fatal either way.
  return last - std::max(sub.cursor_, sub.replay_until_) > max_lag_ || sub.cursor_ + 1 < oldest;
}

absl::Status EventBus::LagErrorLocked(const Subscription& sub) const {
  if (!LaggingLocked(sub)) return absl::OkStatus();
  const uint64_t last = VisibleLocked();
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::RATE_LIMITED);
  error.set_message(absl::StrCat("subscriber fell ", last - sub.cursor_, " events behind (limit ",
                                 max_lag_, "); resume with after_sequence=", sub.cursor_));
  (*error.mutable_details())["limit"] = "events.subscriber_max_lag";
  (*error.mutable_details())["resume_after_sequence"] = absl::StrCat(sub.cursor_);
  return MakeVoipError(std::move(error));
}

absl::StatusOr<CallEventPtr> EventBus::NextFor(Subscription* sub) {
  absl::MutexLock lock(&mu_);
  if (absl::Status lagging = LagErrorLocked(*sub); !lagging.ok()) return lagging;
  const uint64_t last = VisibleLocked();
  if (const CallEventPtr* next = SkipRejectedLocked(*sub, last)) {
    sub->cursor_ = (*next)->sequence();
    return *next;
  }
  // A closed bus still hands out what was published before it closed, so the
  // last events (e.g. calls ended at shutdown) reach every subscriber.
  if (closed_) return *closed_;
  if (!sub->waiting_) {
    sub->waiting_ = true;
    auto it = all_.find(sub);
    if (it != all_.end()) waiting_.push_back(it->second);
  }
  return CallEventPtr();
}

void EventBus::Forget(Subscription* sub) {
  absl::MutexLock lock(&mu_);
  all_.erase(sub);
}

EventBus::WakeList EventBus::AllLocked() const {
  WakeList subs;
  subs.reserve(all_.size());
  for (const auto& [ptr, weak] : all_) subs.push_back(weak);
  return subs;
}

void EventBus::CloseAll(absl::Status status) {
  WakeList subs;
  {
    absl::MutexLock lock(&mu_);
    closed_ = std::move(status);
    subs = AllLocked();
  }
  Wake(subs);
}

void EventBus::WakeAll() {
  WakeList subs;
  {
    absl::MutexLock lock(&mu_);
    subs = AllLocked();
  }
  Dispatch(std::move(subs));
}

void EventBus::WakeLaggards() {
  WakeList subs;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [ptr, weak] : all_) {
      if (LaggingLocked(*ptr)) subs.push_back(weak);
    }
  }
  Dispatch(std::move(subs));
}

uint64_t EventBus::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return VisibleLocked();
}

uint64_t EventBus::last_published() const {
  absl::MutexLock lock(&mu_);
  return next_sequence_ - 1;
}

uint64_t EventBus::oldest_held_sequence() const {
  absl::MutexLock lock(&mu_);
  return log_.empty() ? next_sequence_ : log_.front()->sequence();
}

size_t EventBus::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return all_.size();
}

void EventBus::Resize(size_t window, uint64_t max_lag) {
  absl::MutexLock lock(&mu_);
  window_ = window == 0 ? 1 : window;
  max_lag_ = max_lag == 0 ? 1 : max_lag;
  while (log_.size() > window_) log_.pop_front();
}

}  // namespace voipd
