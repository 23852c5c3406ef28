// Fan-out of call events to any number of subscribers (containerd's event
// exchange, shaped for one writer and many slow readers).
//
// Publish appends to ONE shared log that also serves as the resume window;
// each subscriber is just a cursor into it. Publishing therefore costs the
// same with 1 or 10,000 subscribers, a slow subscriber holds no queue of its
// own, and a subscriber that falls more than `max_lag` events behind is
// ended with RESOURCE_EXHAUSTED on its next read, telling it where to resume.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "voip/v1/call.pb.h"

namespace voipd {

using CallEventPtr = std::shared_ptr<const voip::v1::CallEvent>;

struct EventFilter {
  std::string session_id;
  std::string system_name;
  std::map<std::string, std::string> labels;
  bool Matches(const voip::v1::CallEvent& event) const;
};

class EventBus;

// Where a subscriber's wake callback runs. kDispatched: through the bus's
// dispatcher (the fan-out thread), since a gRPC stream's wake starts a write.
// kInline: on the publishing thread once it has released its locks, for
// internal subscribers whose wake is a few counter increments (the metrics):
// handing those to another thread cost a futex wake and a context switch per
// event, ~15 % of voipd's CPU in bench scenario a.
enum class WakeMode { kDispatched, kInline };

// One subscriber's cursor. Thread-safe.
class Subscription {
 public:
  ~Subscription();
  // The next matching event; nullptr when none is there yet (the wake
  // callback then runs once when one is published); an error when the
  // subscriber fell behind (RESOURCE_EXHAUSTED) or the bus closed.
  absl::StatusOr<CallEventPtr> Next();
  // Stops wake-ups. Never blocks: a wake-up already running may finish, so
  // the callback must own (shared_ptr) whatever it touches.
  void Close();
  // The sequence of the last event handed out (or skipped by the filter).
  uint64_t cursor() const;
  // The error Next() would give now because the subscriber fell too far
  // behind (RESOURCE_EXHAUSTED, RATE_LIMITED), or OK; takes nothing.
  absl::Status LagError() const;

 private:
  friend class EventBus;
  Subscription(EventBus* bus, EventFilter filter, uint64_t cursor, uint64_t replay_until,
               std::function<void()> wake, WakeMode wake_mode);
  void Wake();

  EventBus* const bus_;
  const EventFilter filter_;
  const WakeMode wake_mode_;
  uint64_t cursor_;       // guarded by bus_->mu_
  // The last sequence when the subscription started: a resume replays up to
  // it on purpose, so lag is only counted from there on.
  uint64_t replay_until_;  // guarded by bus_->mu_
  bool waiting_ = false;  // guarded by bus_->mu_
  absl::Mutex wake_mu_;
  std::function<void()> wake_ ABSL_GUARDED_BY(wake_mu_);
  bool closed_ ABSL_GUARDED_BY(wake_mu_) = false;
};

using SubscriptionPtr = std::shared_ptr<Subscription>;

class EventBus {
 public:
  // `window`: how many recent events are kept for resume and lagging readers.
  EventBus(size_t window, uint64_t max_lag, uint64_t first_sequence = 1);
  ~EventBus();

  using WakeList = std::vector<std::weak_ptr<Subscription>>;
  // Stamps the next sequence number and the time and stores the event.
  // Waiting subscribers are woken before returning, or, when `deferred` is
  // given, added to it for the caller to pass to Wake() once it has released
  // its own locks (fan-out must never run under the registry's lock).
  // `evicted`, when given, receives the event that left the window, so that
  // a caller holding a lock can free it (a whole CallSession) after its
  // lock rather than under it.
  CallEventPtr Publish(voip::v1::CallEvent event, WakeList* deferred = nullptr,
                       CallEventPtr* evicted = nullptr);
  // The same for an event the caller built in place (e.g. on an arena,
  // arena_event.h); nothing else may hold `event`.
  CallEventPtr Publish(std::shared_ptr<voip::v1::CallEvent> event, WakeList* deferred = nullptr,
                       CallEventPtr* evicted = nullptr);
  // Wakes `subscribers` on the calling thread.
  static void Wake(WakeList& subscribers);
  // Wakes `subscribers` through the dispatcher (inline unless one is set);
  // kInline subscribers are always woken on the calling thread.
  void Dispatch(WakeList subscribers);
  // Where wake-ups run. A wake-up starts a gRPC write per subscriber, so with
  // many subscribers the daemon hands them to a fan-out thread instead of
  // making the publishing RPC (e.g. StartCall) wait for all of them.
  using WakeDispatcher = std::function<void(WakeList)>;
  void SetWakeDispatcher(WakeDispatcher dispatcher);

  // after_sequence unset: only events published from now on. Set: every held
  // event after it first; OUT_OF_RANGE if events after it were already
  // dropped from the window; INVALID_ARGUMENT if it is in the future.
  // `wake` is called when Next() may have more: on the publishing thread
  // or the dispatcher's, see WakeMode.
  absl::StatusOr<SubscriptionPtr> Subscribe(EventFilter filter,
                                            std::optional<uint64_t> after_sequence,
                                            std::function<void()> wake,
                                            WakeMode wake_mode = WakeMode::kDispatched);

  // Ends every subscription: their next Next() returns `status`.
  void CloseAll(absl::Status status);
  // Wakes every subscription once, as if an event had come (streams go
  // through the dispatcher): after a reload, so that each stream re-checks
  // its token even when no event is coming.
  void WakeAll();
  // Wakes every subscription that fell too far behind. A stream whose
  // client stopped reading never asks for its next event (its write never
  // completes), so nothing else would tell it to give up; the daemon calls
  // this once a second.
  void WakeLaggards();

  // Durable history (issue 8): every published event is handed to
  // `journal` (under the bus lock, so in sequence order; it must only
  // enqueue), and subscribers see an event only once MarkDurable() covered
  // its sequence — a client never sees an event a crash could take back,
  // so resuming after a restart never skips or reuses a sequence.
  using Journal = std::function<void(const CallEventPtr&)>;
  void SetJournal(Journal journal);
  void MarkDurable(uint64_t sequence);
  // Seeds the resume window after a restart, before anything is published:
  // events oldest first; the next sequence follows `last_sequence`.
  void Restore(std::vector<voip::v1::CallEvent> events, uint64_t last_sequence);

  // The newest event subscribers can see.
  uint64_t last_sequence() const;
  // The newest event published (maybe not yet durable).
  uint64_t last_published() const;
  uint64_t oldest_held_sequence() const;
  size_t subscriber_count() const;
  // Changes limits for new and existing subscribers (config reload).
  void Resize(size_t window, uint64_t max_lag);

 private:
  friend class Subscription;
  absl::StatusOr<CallEventPtr> NextFor(Subscription* sub);
  void Forget(Subscription* sub);
  // Whether `sub` fell too far behind; its error, or OK.
  bool LaggingLocked(const Subscription& sub) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LagErrorLocked(const Subscription& sub) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Every live subscription, for CloseAll and WakeAll.
  WakeList AllLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the waiting subscribers that have something to take among the
  // events visible up to `upto` into `to_wake`. A subscriber whose filter
  // rejects all of them stays waiting, its cursor moved past them: a
  // filtered stream (WatchCall's one call, a system, a label) costs no
  // wake-up — a fan-out thread hop and a Next() under mu_ — for every other
  // call's events.
  void TakeWakeableLocked(uint64_t upto, WakeList* to_wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasEventForLocked(Subscription& sub, uint64_t upto) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first event after `sub`'s cursor, up to `upto`, that its filter
  // accepts (nullptr: none yet); the cursor moves past the rejected ones
  // before it. The one place a cursor steps over events (NextFor too). The
  // cursor must be inside the window.
  const CallEventPtr* SkipRejectedLocked(Subscription& sub, uint64_t upto)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  size_t window_ ABSL_GUARDED_BY(mu_);
  uint64_t max_lag_ ABSL_GUARDED_BY(mu_);
  std::deque<CallEventPtr> log_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_);
  WakeList waiting_ ABSL_GUARDED_BY(mu_);
  std::map<Subscription*, std::weak_ptr<Subscription>> all_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
  Journal journal_ ABSL_GUARDED_BY(mu_);
  // With a journal: the highest sequence known durable. Without: unused.
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t VisibleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return journal_ ? durable_ : next_sequence_ - 1;
  }
  WakeDispatcher dispatcher_ ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd
