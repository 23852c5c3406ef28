#include "daemon/core/event_bus.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/api/voip_error.h"
#include "google/protobuf/util/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

voip::v1::CallEvent MakeEvent(const std::string& session_id = "s1",
                              const std::string& system = "sandbox",
                              std::map<std::string, std::string> labels = {}) {
  voip::v1::CallEvent event;
  event.set_type(voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  event.mutable_session()->set_session_id(session_id);
  event.mutable_session()->set_system_name(system);
  for (auto& [k, v] : labels) (*event.mutable_session()->mutable_labels())[k] = v;
  return event;
}

void PublishN(EventBus& bus, int n) {
  for (int i = 0; i < n; ++i) bus.Publish(MakeEvent());
}

// Counts wake-ups. Shared so that a late wake can never touch freed memory.
struct WakeCounter {
  absl::Mutex mu;
  int count ABSL_GUARDED_BY(mu) = 0;
  int Get() {
    absl::MutexLock lock(&mu);
    return count;
  }
};

std::function<void()> CountWakes(const std::shared_ptr<WakeCounter>& counter) {
  return [counter] {
    absl::MutexLock lock(&counter->mu);
    ++counter->count;
  };
}

SubscriptionPtr MustSubscribe(EventBus& bus, EventFilter filter = {},
                              std::optional<uint64_t> after = std::nullopt,
                              std::function<void()> wake = [] {}) {
  absl::StatusOr<SubscriptionPtr> sub = bus.Subscribe(std::move(filter), after, std::move(wake));
  EXPECT_TRUE(sub.ok()) << sub.status();
  return sub.ok() ? *sub : nullptr;
}

// Reads everything available right now; stops at the first nullptr.
// An error is a test failure.
std::vector<uint64_t> Drain(Subscription& sub) {
  std::vector<uint64_t> seqs;
  for (;;) {
    absl::StatusOr<CallEventPtr> next = sub.Next();
    if (!next.ok()) {
      ADD_FAILURE() << "unexpected error: " << next.status();
      return seqs;
    }
    if (*next == nullptr) return seqs;
    seqs.push_back((*next)->sequence());
  }
}

// A subscriber to session "mine" only that has read everything, so that what
// is published next goes through the bus's wake-up decision.
SubscriptionPtr WaitingForMine(EventBus& bus, const std::shared_ptr<WakeCounter>& wakes) {
  EventFilter filter;
  filter.session_id = "mine";
  auto sub = MustSubscribe(bus, filter, std::nullopt, CountWakes(wakes));
  EXPECT_THAT(Drain(*sub), IsEmpty());  // now waiting
  return sub;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// ---------------------------------------------------------------------------
// Publish

TEST(EventBusTest, PublishStampsStrictlyIncreasingSequencesFromFirst) {
  EventBus bus(/*window=*/100, /*max_lag=*/100, /*first_sequence=*/7);
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 5; ++i) seqs.push_back(bus.Publish(MakeEvent())->sequence());
  EXPECT_THAT(seqs, ElementsAre(7, 8, 9, 10, 11));
  EXPECT_EQ(bus.last_sequence(), 11u);
}

TEST(EventBusTest, PublishOverridesCallerSuppliedSequence) {
  // Sequence numbers are the bus's to give: a stale value from a copied
  // event must never leak out.
  EventBus bus(10, 10);
  voip::v1::CallEvent event = MakeEvent();
  event.set_sequence(999);
  EXPECT_EQ(bus.Publish(event)->sequence(), 1u);
}

// Full precision: TimeUtil::GetCurrentTime() in Debian's protobuf drops the
// nanoseconds, which is exactly what the bus must not do.
google::protobuf::Timestamp PreciseNow() {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
}

TEST(EventBusTest, PublishStampsTimeAndSessionLastSequence) {
  // WatchCall snapshots rely on session.last_sequence to discard old events.
  EventBus bus(10, 10);
  const auto before = PreciseNow();
  bus.Publish(MakeEvent());
  CallEventPtr event = bus.Publish(MakeEvent());
  const auto after = PreciseNow();
  EXPECT_EQ(event->session().last_sequence(), event->sequence());
  ASSERT_TRUE(event->has_time());
  EXPECT_LE(before, event->time());
  EXPECT_LE(event->time(), after);
}

TEST(EventBusTest, PublishTimeKeepsSubSecondPrecision) {
  // Clients order and display events by time; whole-second stamps made every
  // event of a fast call look simultaneous. Out of 20 events at least one
  // must carry nanoseconds (all 20 landing on an exact second is ~impossible).
  EventBus bus(100, 100);
  bool any_nanos = false;
  for (int i = 0; i < 20; ++i) any_nanos |= bus.Publish(MakeEvent())->time().nanos() != 0;
  EXPECT_TRUE(any_nanos);
}

TEST(EventBusTest, WindowKeepsOnlyTheNewestEvents) {
  EventBus bus(/*window=*/3, /*max_lag=*/3);
  EXPECT_EQ(bus.oldest_held_sequence(), 1u);  // nothing held yet: the next one
  PublishN(bus, 10);
  EXPECT_EQ(bus.oldest_held_sequence(), 8u);
  EXPECT_EQ(bus.last_sequence(), 10u);
}

TEST(EventBusTest, ZeroLimitsAreTreatedAsOne) {
  // A zero window would make every subscriber lag forever.
  EventBus bus(/*window=*/0, /*max_lag=*/0);
  auto sub = MustSubscribe(bus);
  bus.Publish(MakeEvent());
  EXPECT_THAT(Drain(*sub), ElementsAre(1));
  EXPECT_EQ(bus.oldest_held_sequence(), 1u);
}

// ---------------------------------------------------------------------------
// Fan-out and filters

TEST(EventBusTest, EverySubscriberSeesEveryEventInIdenticalOrder) {
  EventBus bus(100, 100);
  std::vector<SubscriptionPtr> subs;
  for (int i = 0; i < 5; ++i) subs.push_back(MustSubscribe(bus));
  PublishN(bus, 20);
  for (auto& sub : subs) EXPECT_THAT(Drain(*sub), ElementsAreArray(Range(1, 20)));
}

TEST(EventBusTest, SubscribersShareTheSameStoredEvent) {
  // One shared log: fan-out must not copy each event per subscriber.
  EventBus bus(10, 10);
  auto a = MustSubscribe(bus);
  auto b = MustSubscribe(bus);
  CallEventPtr published = bus.Publish(MakeEvent());
  EXPECT_EQ(*a->Next(), published);
  EXPECT_EQ(*b->Next(), published);
}

TEST(EventBusTest, FilterBySessionId) {
  EventBus bus(100, 100);
  EventFilter filter;
  filter.session_id = "s2";
  auto sub = MustSubscribe(bus, filter);
  bus.Publish(MakeEvent("s1"));
  bus.Publish(MakeEvent("s2"));
  bus.Publish(MakeEvent("s3"));
  bus.Publish(MakeEvent("s2"));
  EXPECT_THAT(Drain(*sub), ElementsAre(2, 4));
}

TEST(EventBusTest, FilterBySystemName) {
  EventBus bus(100, 100);
  EventFilter filter;
  filter.system_name = "twilio";
  auto sub = MustSubscribe(bus, filter);
  bus.Publish(MakeEvent("s1", "sandbox"));
  bus.Publish(MakeEvent("s2", "twilio"));
  bus.Publish(MakeEvent("s3", "sandbox"));
  EXPECT_THAT(Drain(*sub), ElementsAre(2));
}

TEST(EventBusTest, FilterByLabelsRequiresAllLabelsWithEqualValues) {
  EventBus bus(100, 100);
  EventFilter filter;
  filter.labels = {{"crm", "42"}, {"team", "sales"}};
  auto sub = MustSubscribe(bus, filter);
  bus.Publish(MakeEvent("s1", "sandbox", {{"crm", "42"}}));                       // 1: missing team
  bus.Publish(MakeEvent("s2", "sandbox", {{"crm", "42"}, {"team", "support"}}));  // 2: wrong value
  bus.Publish(MakeEvent("s3", "sandbox", {{"crm", "42"}, {"team", "sales"}}));    // 3: match
  bus.Publish(MakeEvent("s4", "sandbox",
                        {{"crm", "42"}, {"team", "sales"}, {"extra", "x"}}));      // 4: superset
  bus.Publish(MakeEvent("s5", "sandbox"));                                        // 5: no labels
  EXPECT_THAT(Drain(*sub), ElementsAre(3, 4));
}

TEST(EventBusTest, FilterFieldsCombineWithAnd) {
  EventBus bus(100, 100);
  EventFilter filter;
  filter.session_id = "s1";
  filter.system_name = "sip";
  filter.labels = {{"k", "v"}};
  auto sub = MustSubscribe(bus, filter);
  bus.Publish(MakeEvent("s1", "sandbox", {{"k", "v"}}));
  bus.Publish(MakeEvent("s1", "sip", {}));
  bus.Publish(MakeEvent("s2", "sip", {{"k", "v"}}));
  bus.Publish(MakeEvent("s1", "sip", {{"k", "v"}}));
  EXPECT_THAT(Drain(*sub), ElementsAre(4));
}

TEST(EventBusTest, FilteredOutEventsAdvanceTheCursor) {
  // A subscriber interested in a quiet call must not count as lagging just
  // because the rest of the daemon is busy.
  EventBus bus(100, /*max_lag=*/3);
  EventFilter filter;
  filter.session_id = "quiet";
  auto sub = MustSubscribe(bus, filter);
  for (int round = 0; round < 5; ++round) {
    PublishN(bus, 3);
    EXPECT_THAT(Drain(*sub), IsEmpty());
    EXPECT_EQ(sub->cursor(), bus.last_sequence());
  }
}

// ---------------------------------------------------------------------------
// Lag

TEST(EventBusTest, SubscriberExactlyAtMaxLagIsNotCut) {
  EventBus bus(100, /*max_lag=*/5);
  auto sub = MustSubscribe(bus);
  PublishN(bus, 5);
  EXPECT_THAT(Drain(*sub), ElementsAreArray(Range(1, 5)));
}

// A subscriber that stopped asking (its client stopped reading, so its
// write never completes) is not waiting for a wake-up: WakeLaggards is what
// tells it, and only it, that it fell behind.
TEST(EventBusTest, WakeLaggardsWakesOnlyTheSubscribersPastTheLagLimit) {
  EventBus bus(100, /*max_lag=*/5);
  auto stuck_wakes = std::make_shared<WakeCounter>();
  auto reader_wakes = std::make_shared<WakeCounter>();
  auto stuck = MustSubscribe(bus, {}, std::nullopt, CountWakes(stuck_wakes));
  auto reader = MustSubscribe(bus, {}, std::nullopt, CountWakes(reader_wakes));
  PublishN(bus, 1);
  ASSERT_TRUE(stuck->Next().ok());  // took one, never asks again
  for (int i = 0; i < 10; ++i) {
    bus.Publish(MakeEvent());
    Drain(*reader);
  }
  const int stuck_before = stuck_wakes->Get();  // not waiting: no wake-ups came
  const int reader_before = reader_wakes->Get();
  EXPECT_TRUE(reader->LagError().ok());
  absl::Status lag = stuck->LagError();
  EXPECT_EQ(lag.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetVoipError(lag)->details().at("resume_after_sequence"), "1");
  EXPECT_EQ(stuck->cursor(), 1u) << "LagError takes nothing";

  bus.WakeLaggards();
  EXPECT_EQ(stuck_wakes->Get(), stuck_before + 1);
  EXPECT_EQ(reader_wakes->Get(), reader_before);
}

TEST(EventBusTest, SlowSubscriberIsCutWithResumePointWhileFastOneContinues) {
  EventBus bus(100, /*max_lag=*/5);
  auto fast = MustSubscribe(bus);
  auto slow = MustSubscribe(bus);
  std::vector<uint64_t> fast_seen;
  // slow reads two events and then stops reading.
  PublishN(bus, 2);
  ASSERT_THAT(Drain(*slow), ElementsAre(1, 2));
  for (int i = 0; i < 10; ++i) {
    bus.Publish(MakeEvent());
    for (uint64_t s : Drain(*fast)) fast_seen.push_back(s);
  }
  absl::StatusOr<CallEventPtr> next = slow->Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted);
  // The message must tell the client exactly where to resume, and so must
  // the VoipError every error carries.
  EXPECT_THAT(next.status().message(), HasSubstr("after_sequence=2"));
  std::optional<voip::v1::VoipError> error = GetVoipError(next.status());
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error_code(), voip::v1::RATE_LIMITED);
  EXPECT_EQ(error->details().at("limit"), "events.subscriber_max_lag");
  EXPECT_EQ(error->details().at("resume_after_sequence"), "2");

  // The fast subscriber saw every event and keeps going.
  EXPECT_THAT(fast_seen, ElementsAreArray(Range(1, 12)));
  bus.Publish(MakeEvent());
  EXPECT_THAT(Drain(*fast), ElementsAre(13));
}

TEST(EventBusTest, ResumeAfterBeingCutForLagReplaysExactlyTheMissedEvents) {
  // The point of telling a lagging subscriber where to resume: with
  // max_lag <= window the missed events are still held, so resubscribing
  // with after_sequence must hand them out, not cut the subscriber again.
  EventBus bus(/*window=*/100, /*max_lag=*/5);
  auto slow = MustSubscribe(bus);
  PublishN(bus, 2);
  ASSERT_THAT(Drain(*slow), ElementsAre(1, 2));
  PublishN(bus, 10);  // 3..12: lag 10 > 5
  absl::StatusOr<CallEventPtr> cut = slow->Next();
  ASSERT_EQ(cut.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_THAT(cut.status().message(), HasSubstr("after_sequence=2"));
  slow.reset();

  auto resumed = MustSubscribe(bus, {}, /*after=*/2);
  ASSERT_NE(resumed, nullptr);
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<CallEventPtr> next = resumed->Next();
    ASSERT_TRUE(next.ok()) << "resumed subscriber cut again after " << seqs.size()
                           << " events: " << next.status();
    if (*next == nullptr) break;
    seqs.push_back((*next)->sequence());
  }
  EXPECT_THAT(seqs, ElementsAreArray(Range(3, 12)));
}

TEST(EventBusTest, ResumeAfterDisconnectReplaysExactlyTheMissedEvents) {
  // A client that reconnects with its last sequence loses nothing and sees
  // nothing twice.
  EventBus bus(100, 100);
  auto first = MustSubscribe(bus);
  PublishN(bus, 3);
  ASSERT_THAT(Drain(*first), ElementsAre(1, 2, 3));
  const uint64_t last_seen = first->cursor();
  first.reset();
  PublishN(bus, 4);  // 4..7 missed

  auto resumed = MustSubscribe(bus, {}, last_seen);
  EXPECT_THAT(Drain(*resumed), ElementsAre(4, 5, 6, 7));
  bus.Publish(MakeEvent());
  EXPECT_THAT(Drain(*resumed), ElementsAre(8));
}

TEST(EventBusTest, ResumeAppliesTheFilterToReplayedEvents) {
  EventBus bus(100, 100);
  bus.Publish(MakeEvent("a"));
  bus.Publish(MakeEvent("b"));
  bus.Publish(MakeEvent("a"));
  EventFilter filter;
  filter.session_id = "a";
  auto sub = MustSubscribe(bus, filter, /*after=*/0);
  EXPECT_THAT(Drain(*sub), ElementsAre(1, 3));
}

TEST(EventBusTest, AfterSequenceOlderThanWindowIsOutOfRangeNamingOldestHeld) {
  EventBus bus(/*window=*/3, /*max_lag=*/3);
  PublishN(bus, 10);  // holds 8, 9, 10
  absl::StatusOr<SubscriptionPtr> sub = bus.Subscribe({}, /*after_sequence=*/6, [] {});
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(sub.status().message(), HasSubstr("oldest held sequence is 8"));
  EXPECT_EQ(bus.subscriber_count(), 0u);
}

TEST(EventBusTest, AfterSequenceJustBeforeOldestHeldReplaysTheWholeWindow) {
  // Boundary: after 7 needs 8.. which is all still held.
  EventBus bus(/*window=*/3, /*max_lag=*/3);
  PublishN(bus, 10);
  auto sub = MustSubscribe(bus, {}, /*after=*/7);
  EXPECT_THAT(Drain(*sub), ElementsAre(8, 9, 10));
}

TEST(EventBusTest, AfterSequenceInTheFutureIsInvalidArgument) {
  EventBus bus(10, 10);
  PublishN(bus, 3);
  absl::StatusOr<SubscriptionPtr> sub = bus.Subscribe({}, /*after_sequence=*/4, [] {});
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sub.status().message(), HasSubstr("after_sequence"));
}

TEST(EventBusTest, AfterSequenceEqualToLastReplaysNothing) {
  EventBus bus(10, 10);
  PublishN(bus, 3);
  auto sub = MustSubscribe(bus, {}, /*after=*/3);
  EXPECT_THAT(Drain(*sub), IsEmpty());
  bus.Publish(MakeEvent());
  EXPECT_THAT(Drain(*sub), ElementsAre(4));
}

TEST(EventBusTest, AfterSequenceZeroOnFreshBusGetsTheFirstEvent) {
  EventBus bus(10, 10);
  auto sub = MustSubscribe(bus, {}, /*after=*/0);
  bus.Publish(MakeEvent());
  EXPECT_THAT(Drain(*sub), ElementsAre(1));
}

TEST(EventBusTest, UnsetAfterSequenceDeliversOnlyNewEvents) {
  EventBus bus(10, 10);
  PublishN(bus, 3);
  auto sub = MustSubscribe(bus);
  EXPECT_EQ(sub->cursor(), 3u);
  EXPECT_THAT(Drain(*sub), IsEmpty());
  PublishN(bus, 2);
  EXPECT_THAT(Drain(*sub), ElementsAre(4, 5));
}

// ---------------------------------------------------------------------------
// Wake-ups

TEST(EventBusTest, WakeFiresOncePerWaitingPeriod) {
  // One wake per "nothing there" answer: the stream handler re-arms by
  // reading, so extra wakes are wasted work and missing ones hang streams.
  auto wakes = std::make_shared<WakeCounter>();
  EventBus bus(100, 100);
  auto sub = MustSubscribe(bus, {}, std::nullopt, CountWakes(wakes));
  ASSERT_THAT(Drain(*sub), IsEmpty());  // now waiting
  // Asking twice while waiting must not register twice.
  ASSERT_EQ(*sub->Next(), nullptr);
  PublishN(bus, 3);
  EXPECT_EQ(wakes->Get(), 1);
  EXPECT_THAT(Drain(*sub), ElementsAre(1, 2, 3));  // waiting again
  bus.Publish(MakeEvent());
  EXPECT_EQ(wakes->Get(), 2);
}

TEST(EventBusTest, FilteredSubscriberIsNotWokenForEventsItsFilterRejects) {
  // WatchCall follows one call: every other call's events must not cost it
  // a wake-up (a fan-out thread hop each), nor count as lag.
  auto wakes = std::make_shared<WakeCounter>();
  EventBus bus(100, /*max_lag=*/2);
  auto sub = WaitingForMine(bus, wakes);
  for (int i = 0; i < 10; ++i) bus.Publish(MakeEvent("other"));
  EXPECT_EQ(wakes->Get(), 0);
  EXPECT_EQ(sub->cursor(), 10u) << "stepped over the rejected events";
  bus.Publish(MakeEvent("mine"));
  EXPECT_EQ(wakes->Get(), 1);
  EXPECT_THAT(Drain(*sub), ElementsAre(11));
  bus.Publish(MakeEvent("other"));
  EXPECT_EQ(wakes->Get(), 1);
}

TEST(EventBusTest, WithAJournalFilteredSubscriberIsWokenOnlyForDurableEventsItWants) {
  auto wakes = std::make_shared<WakeCounter>();
  EventBus bus(100, 100);
  bus.SetJournal([](const CallEventPtr&) {});
  auto sub = WaitingForMine(bus, wakes);
  for (int i = 0; i < 3; ++i) bus.Publish(MakeEvent("other"));
  bus.MarkDurable(3);
  EXPECT_EQ(wakes->Get(), 0);
  bus.Publish(MakeEvent("mine"));
  bus.Publish(MakeEvent("other"));
  EXPECT_EQ(wakes->Get(), 0) << "not durable yet";
  bus.MarkDurable(5);
  EXPECT_EQ(wakes->Get(), 1);
  EXPECT_THAT(Drain(*sub), ElementsAre(4));
}

TEST(EventBusTest, WaitingSubscriberThatFellOutOfTheWindowIsWokenToLearnIt) {
  // With a journal, a batch larger than the window can evict events a
  // waiting subscriber never saw; it must be woken to get the error.
  auto wakes = std::make_shared<WakeCounter>();
  EventBus bus(/*window=*/2, 100);
  bus.SetJournal([](const CallEventPtr&) {});
  auto sub = WaitingForMine(bus, wakes);
  for (int i = 0; i < 5; ++i) bus.Publish(MakeEvent("other"));
  bus.MarkDurable(5);
  EXPECT_EQ(wakes->Get(), 1);
  absl::StatusOr<CallEventPtr> next = sub->Next();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted) << next.status();
}

TEST(EventBusTest, NoWakeWhileSubscriberStillHasUnreadEvents) {
  auto wakes = std::make_shared<WakeCounter>();
  EventBus bus(100, 100);
  auto sub = MustSubscribe(bus, {}, std::nullopt, CountWakes(wakes));
  ASSERT_THAT(Drain(*sub), IsEmpty());
  bus.Publish(MakeEvent());
  ASSERT_EQ(wakes->Get(), 1);
  ASSERT_NE(*sub->Next(), nullptr);  // read one, did not reach "nothing there"
  bus.Publish(MakeEvent());
  EXPECT_EQ(wakes->Get(), 1);
}

TEST(EventBusTest, NoWakeAfterClose) {
  auto wakes = std::make_shared<WakeCounter>();
  EventBus bus(100, 100);
  auto sub = MustSubscribe(bus, {}, std::nullopt, CountWakes(wakes));
  ASSERT_THAT(Drain(*sub), IsEmpty());  // registered as waiting
  sub->Close();
  EXPECT_EQ(bus.subscriber_count(), 0u);
  bus.Publish(MakeEvent());
  bus.CloseAll(absl::UnavailableError("bye"));
  EXPECT_EQ(wakes->Get(), 0);
}

TEST(EventBusTest, DeferredPublishWakesOnlyWhenCallerWakes) {
  // The registry publishes under its own lock; fan-out must wait until the
  // registry passes the list to Wake().
  auto wakes = std::make_shared<WakeCounter>();
  EventBus bus(100, 100);
  auto sub = MustSubscribe(bus, {}, std::nullopt, CountWakes(wakes));
  ASSERT_THAT(Drain(*sub), IsEmpty());
  EventBus::WakeList deferred;
  bus.Publish(MakeEvent(), &deferred);
  EXPECT_EQ(wakes->Get(), 0);
  EXPECT_EQ(deferred.size(), 1u);
  EventBus::Wake(deferred);
  EXPECT_EQ(wakes->Get(), 1);
  EXPECT_THAT(Drain(*sub), ElementsAre(1));
}

TEST(EventBusTest, DeferredListAccumulatesAcrossPublishes) {
  auto wakes_a = std::make_shared<WakeCounter>();
  auto wakes_b = std::make_shared<WakeCounter>();
  EventBus bus(100, 100);
  auto a = MustSubscribe(bus, {}, std::nullopt, CountWakes(wakes_a));
  auto b = MustSubscribe(bus, {}, std::nullopt, CountWakes(wakes_b));
  ASSERT_THAT(Drain(*a), IsEmpty());
  EventBus::WakeList deferred;
  bus.Publish(MakeEvent(), &deferred);  // wakes a
  ASSERT_THAT(Drain(*b), ElementsAre(1));  // b now waiting
  bus.Publish(MakeEvent(), &deferred);  // wakes b
  EXPECT_EQ(deferred.size(), 2u);
  EventBus::Wake(deferred);
  EXPECT_EQ(wakes_a->Get(), 1);
  EXPECT_EQ(wakes_b->Get(), 1);
}

TEST(EventBusTest, WakeCallbackMayReadFromTheSubscription) {
  // Stream handlers read in their wake callback; that must not deadlock on
  // the bus lock.
  struct State {
    absl::Mutex mu;
    std::weak_ptr<Subscription> sub;
    std::vector<uint64_t> seen;
  };
  auto state = std::make_shared<State>();
  EventBus bus(100, 100);
  auto sub = MustSubscribe(bus, {}, std::nullopt, [state] {
    absl::MutexLock lock(&state->mu);
    if (auto s = state->sub.lock()) {
      for (;;) {
        auto next = s->Next();
        if (!next.ok() || *next == nullptr) break;
        state->seen.push_back((*next)->sequence());
      }
    }
  });
  {
    absl::MutexLock lock(&state->mu);
    state->sub = sub;
  }
  ASSERT_THAT(Drain(*sub), IsEmpty());
  bus.Publish(MakeEvent());
  bus.Publish(MakeEvent());  // drained inside the first wake, re-armed
  bus.Publish(MakeEvent());
  absl::MutexLock lock(&state->mu);
  EXPECT_THAT(state->seen, ElementsAre(1, 2, 3));
}

// ---------------------------------------------------------------------------
// Subscriber bookkeeping

TEST(EventBusTest, SubscriberCountTracksCloseAndDestruction) {
  EventBus bus(10, 10);
  auto a = MustSubscribe(bus);
  auto b = MustSubscribe(bus);
  EXPECT_EQ(bus.subscriber_count(), 2u);
  a->Close();
  EXPECT_EQ(bus.subscriber_count(), 1u);
  b.reset();
  EXPECT_EQ(bus.subscriber_count(), 0u);
}

TEST(EventBusTest, SubscriptionWithoutWakeCallbackIsForgottenWhenDropped) {
  // A polling subscriber may pass no callback. Dropping it must still
  // unregister it, or the bus keeps a dangling entry forever (and a later
  // subscription at the same address inherits the stale weak_ptr and is
  // never woken).
  EventBus bus(10, 10);
  auto sub = MustSubscribe(bus, {}, std::nullopt, /*wake=*/nullptr);
  ASSERT_EQ(bus.subscriber_count(), 1u);
  sub.reset();
  EXPECT_EQ(bus.subscriber_count(), 0u);
}

// ---------------------------------------------------------------------------
// CloseAll and Resize

TEST(EventBusTest, CloseAllDeliversRemainingEventsThenTheStatus) {
  // Calls ended at shutdown are published just before CloseAll; subscribers
  // must still see them before learning the bus closed.
  auto wakes = std::make_shared<WakeCounter>();
  EventBus bus(100, 100);
  auto sub = MustSubscribe(bus, {}, std::nullopt, CountWakes(wakes));
  PublishN(bus, 3);
  bus.CloseAll(absl::UnavailableError("daemon shutting down"));
  EXPECT_GE(wakes->Get(), 1);  // woken to read the close
  std::vector<uint64_t> seqs;
  absl::Status final_status;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<CallEventPtr> next = sub->Next();
    if (!next.ok()) {
      final_status = next.status();
      break;
    }
    ASSERT_NE(*next, nullptr) << "a closed bus must never answer 'nothing yet'";
    seqs.push_back((*next)->sequence());
  }
  EXPECT_THAT(seqs, ElementsAre(1, 2, 3));
  EXPECT_EQ(final_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(final_status.message(), "daemon shutting down");
  // And it stays closed.
  EXPECT_EQ(sub->Next().status().code(), absl::StatusCode::kUnavailable);
}

// Two subscribers, `a` waiting for an event and `b` never read: what
// CloseAll and WakeAll must both reach.
struct WaitingAndUnread {
  WaitingAndUnread() {
    EXPECT_THAT(Drain(*a), IsEmpty());
  }
  EventBus bus{100, 100};
  std::shared_ptr<WakeCounter> a_wakes = std::make_shared<WakeCounter>();
  std::shared_ptr<WakeCounter> b_wakes = std::make_shared<WakeCounter>();
  SubscriptionPtr a = MustSubscribe(bus, {}, std::nullopt, CountWakes(a_wakes));
  SubscriptionPtr b = MustSubscribe(bus, {}, std::nullopt, CountWakes(b_wakes));
};

TEST(EventBusTest, CloseAllWakesEverySubscriberIncludingWaitingOnes) {
  WaitingAndUnread subs;
  subs.bus.CloseAll(absl::CancelledError("stop"));
  EXPECT_EQ(subs.a_wakes->Get(), 1);
  EXPECT_EQ(subs.b_wakes->Get(), 1);
  EXPECT_EQ(subs.a->Next().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(subs.b->Next().status().code(), absl::StatusCode::kCancelled);
}

TEST(EventBusTest, WakeAllWakesEverySubscriberOnceAndChangesNothingElse) {
  // After a reload each stream re-checks its token (StreamGrant), even an
  // idle one: WakeAll wakes them without an event.
  WaitingAndUnread subs;
  std::vector<size_t> dispatched;
  subs.bus.SetWakeDispatcher([&dispatched](EventBus::WakeList list) {
    dispatched.push_back(list.size());
    EventBus::Wake(list);
  });
  subs.bus.WakeAll();
  EXPECT_THAT(dispatched, ElementsAre(2));  // streams go through the fan-out thread
  EXPECT_EQ(subs.a_wakes->Get(), 1);
  EXPECT_EQ(subs.b_wakes->Get(), 1);
  // Nothing was published or closed: both still wait, and both see the next event.
  ASSERT_THAT(Drain(*subs.a), IsEmpty());
  ASSERT_THAT(Drain(*subs.b), IsEmpty());
  PublishN(subs.bus, 1);
  EXPECT_EQ(subs.a_wakes->Get(), 2);
  EXPECT_THAT(Drain(*subs.a), ElementsAre(1));
  EXPECT_THAT(Drain(*subs.b), ElementsAre(1));
}

TEST(EventBusTest, SubscribeAfterCloseAllFailsWithTheCloseStatus) {
  EventBus bus(10, 10);
  bus.CloseAll(absl::UnavailableError("gone"));
  absl::StatusOr<SubscriptionPtr> sub = bus.Subscribe({}, std::nullopt, [] {});
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sub.status().message(), "gone");
}

TEST(EventBusTest, ResizeShrinksTheWindowAtOnce) {
  EventBus bus(/*window=*/10, /*max_lag=*/10);
  PublishN(bus, 10);
  bus.Resize(/*window=*/4, /*max_lag=*/4);
  EXPECT_EQ(bus.oldest_held_sequence(), 7u);
  absl::StatusOr<SubscriptionPtr> old = bus.Subscribe({}, /*after_sequence=*/5, [] {});
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(old.status().message(), HasSubstr("oldest held sequence is 7"));
  auto ok = MustSubscribe(bus, {}, /*after=*/6);
  EXPECT_THAT(Drain(*ok), ElementsAre(7, 8, 9, 10));
}

TEST(EventBusTest, ResizeAppliesNewMaxLagToExistingSubscribers) {
  EventBus bus(/*window=*/100, /*max_lag=*/100);
  auto sub = MustSubscribe(bus);
  PublishN(bus, 5);
  bus.Resize(/*window=*/100, /*max_lag=*/3);
  absl::StatusOr<CallEventPtr> next = sub->Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(next.status().message(), HasSubstr("after_sequence=0"));
}

// ---------------------------------------------------------------------------
// Concurrency

TEST(EventBusTest, ConcurrentPublishersGiveEachSubscriberAGapFreeOrderedStream) {
  constexpr int kPublishers = 4;
  constexpr int kPerPublisher = 250;
  constexpr int kTotal = kPublishers * kPerPublisher;
  constexpr int kSubscribers = 3;
  EventBus bus(/*window=*/kTotal, /*max_lag=*/kTotal);

  struct Reader {
    absl::Mutex mu;
    bool woken ABSL_GUARDED_BY(mu) = false;
  };
  std::vector<std::shared_ptr<Reader>> readers;
  std::vector<SubscriptionPtr> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    auto reader = std::make_shared<Reader>();
    subs.push_back(MustSubscribe(bus, {}, std::nullopt, [reader] {
      absl::MutexLock lock(&reader->mu);
      reader->woken = true;
    }));
    readers.push_back(reader);
  }

  std::vector<std::vector<CallEventPtr>> received(kSubscribers);
  std::vector<std::string> errors(kSubscribers);
  std::vector<std::thread> threads;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (int i = 0; i < kSubscribers; ++i) {
    threads.emplace_back([&, i] {
      Reader& reader = *readers[i];
      while (received[i].size() < static_cast<size_t>(kTotal)) {
        {
          absl::MutexLock lock(&reader.mu);
          reader.woken = false;
        }
        absl::StatusOr<CallEventPtr> next = subs[i]->Next();
        if (!next.ok()) {
          errors[i] = std::string(next.status().message());
          return;
        }
        if (*next != nullptr) {
          received[i].push_back(*next);
          continue;
        }
        absl::MutexLock lock(&reader.mu);
        if (!reader.mu.AwaitWithDeadline(absl::Condition(&reader.woken), deadline)) {
          errors[i] = "timed out waiting for a wake-up";
          return;
        }
      }
    });
  }
  for (int p = 0; p < kPublishers; ++p) {
    threads.emplace_back([&bus, p] {
      for (int n = 0; n < kPerPublisher; ++n) {
        bus.Publish(MakeEvent(absl::StrCat("p", p), "sandbox", {{"n", absl::StrCat(n)}}));
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(bus.last_sequence(), static_cast<uint64_t>(kTotal));
  for (int i = 0; i < kSubscribers; ++i) {
    SCOPED_TRACE(absl::StrCat("subscriber ", i));
    EXPECT_THAT(errors[i], IsEmpty());
    ASSERT_EQ(received[i].size(), static_cast<size_t>(kTotal));
    std::map<std::string, int> next_n;
    for (size_t k = 0; k < received[i].size(); ++k) {
      const auto& event = *received[i][k];
      ASSERT_EQ(event.sequence(), k + 1) << "gap or reorder at position " << k;
      // Each publisher's own events stay in the order it published them.
      int n = -1;
      ASSERT_TRUE(absl::SimpleAtoi(event.session().labels().at("n"), &n));
      EXPECT_EQ(n, next_n[event.session().session_id()]++);
      // Every subscriber sees the very same event at each position.
      EXPECT_EQ(received[i][k], received[0][k]);
    }
  }
}

}  // namespace
}  // namespace voipd
