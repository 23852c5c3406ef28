#include "daemon/core/call_registry.h"

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/api/voip_error.h"
#include "daemon/core/call_state_machine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using adapters::EndOutcome;
using adapters::ProviderEvent;
using adapters::ProviderEventKind;
using voip::v1::CallSession;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::Pair;

// Does nothing: the registry only holds on to it.
class NullAdapter final : public adapters::Adapter {
 public:
  adapters::Capabilities capabilities() const override { return {}; }
  adapters::Health health() const override { return {}; }
  void StartCall(const adapters::DialRequest&, adapters::DialCallback done) override {
    std::move(done)(adapters::DialResult{});
  }
  void EndCall(const adapters::CallRef&, adapters::DoneCallback done) override {
    std::move(done)(absl::OkStatus());
  }
  void Hold(const adapters::CallRef&, bool, adapters::DoneCallback done) override {
    std::move(done)(absl::OkStatus());
  }
  void Mute(const adapters::CallRef&, bool, adapters::DoneCallback done) override {
    std::move(done)(absl::OkStatus());
  }
};

CallSession NewSession(const std::string& id, const std::string& system = "sandbox",
                       std::map<std::string, std::string> labels = {}) {
  CallSession session;
  session.set_session_id(id);
  session.set_system_name(system);
  session.set_direction(voip::v1::CALL_DIRECTION_OUTBOUND);
  for (auto& [k, v] : labels) (*session.mutable_labels())[k] = v;
  return session;
}

ProviderEvent Ev(const std::string& id, ProviderEventKind kind,
                 EndOutcome outcome = EndOutcome::kDisconnected) {
  ProviderEvent event;
  event.session_id = id;
  event.kind = kind;
  event.outcome = outcome;
  return event;
}

class CallRegistryTest : public ::testing::Test {
 protected:
  CallRegistryTest() : bus_(1000, 1000), registry_(&bus_, RegistryLimits{}) {}

  // A subscriber that sees everything published from now on.
  SubscriptionPtr Watch() {
    auto sub = bus_.Subscribe({}, std::nullopt, [] {});
    EXPECT_TRUE(sub.ok()) << sub.status();
    return *sub;
  }

  static std::vector<CallEventPtr> Drain(Subscription& sub) {
    std::vector<CallEventPtr> events;
    for (;;) {
      auto next = sub.Next();
      if (!next.ok()) {
        ADD_FAILURE() << next.status();
        return events;
      }
      if (*next == nullptr) return events;
      events.push_back(*next);
    }
  }

  CallSession MustSnapshot(const std::string& id) {
    absl::StatusOr<CallSession> s = registry_.Snapshot(id);
    EXPECT_TRUE(s.ok()) << id << ": " << s.status();
    return s.value_or(CallSession());
  }

  // Creates a call and drives it to `status` with provider events.
  void CreateIn(const CallSession& session, voip::v1::CallStatus status) {
    registry_.Create(session, nullptr);
    const std::string& id = session.session_id();
    switch (status) {
      case voip::v1::CALL_STATUS_INITIATING:
        break;
      case voip::v1::CALL_STATUS_RINGING:
        registry_.OnProviderEvent(Ev(id, ProviderEventKind::kRinging));
        break;
      case voip::v1::CALL_STATUS_CONNECTED:
        registry_.OnProviderEvent(Ev(id, ProviderEventKind::kAnswered));
        break;
      case voip::v1::CALL_STATUS_ON_HOLD:
        registry_.OnProviderEvent(Ev(id, ProviderEventKind::kAnswered));
        registry_.OnProviderEvent(Ev(id, ProviderEventKind::kHeld));
        break;
      case voip::v1::CALL_STATUS_DISCONNECTED:
        registry_.OnProviderEvent(Ev(id, ProviderEventKind::kEnded));
        break;
      case voip::v1::CALL_STATUS_BUSY:
        registry_.OnProviderEvent(Ev(id, ProviderEventKind::kEnded, EndOutcome::kBusy));
        break;
      default:
        FAIL() << "unsupported setup status";
    }
    ASSERT_EQ(MustSnapshot(id).status(), status);
  }

  std::vector<std::string> ListIds(const voip::v1::ListCallsRequest& request) {
    absl::StatusOr<voip::v1::ListCallsResponse> response = registry_.List(request);
    EXPECT_TRUE(response.ok()) << response.status();
    std::vector<std::string> ids;
    if (!response.ok()) return ids;
    for (const auto& call : response->calls()) ids.push_back(call.session_id());
    return ids;
  }

  EventBus bus_;
  CallRegistry registry_;
};

void ExpectFieldError(const absl::Status& status, const std::string& field) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  std::optional<voip::v1::VoipError> error = GetVoipError(status);
  ASSERT_TRUE(error.has_value()) << status;
  EXPECT_EQ(error->error_code(), voip::v1::INVALID_ARGUMENT);
  EXPECT_EQ(error->field(), field);
}

// ---------------------------------------------------------------------------
// Create and events

TEST_F(CallRegistryTest, CreatePublishesInitiatingWithSequence) {
  auto sub = Watch();
  CallSessionPtr created = registry_.Create(NewSession("s1", "sandbox", {{"crm", "7"}}), nullptr);
  EXPECT_EQ(created->status(), voip::v1::CALL_STATUS_INITIATING);
  EXPECT_EQ(created->last_sequence(), 1u);

  std::vector<CallEventPtr> events = Drain(*sub);
  ASSERT_EQ(events.size(), 1u);
  const auto& event = *events[0];
  EXPECT_EQ(event.sequence(), 1u);
  EXPECT_EQ(event.type(), voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  EXPECT_EQ(event.previous_status(), voip::v1::CALL_STATUS_UNSPECIFIED);
  EXPECT_EQ(event.session().status(), voip::v1::CALL_STATUS_INITIATING);
  EXPECT_EQ(event.session().session_id(), "s1");
  EXPECT_EQ(event.session().labels().at("crm"), "7");
  // The stored call carries the sequence its first event got.
  EXPECT_EQ(MustSnapshot("s1").last_sequence(), 1u);
}

TEST_F(CallRegistryTest, CreateForcesInitiatingStatus) {
  // Whatever the caller filled in, a new call starts at the beginning.
  CallSession session = NewSession("s1");
  session.set_status(voip::v1::CALL_STATUS_CONNECTED);
  EXPECT_EQ(registry_.Create(session, nullptr)->status(), voip::v1::CALL_STATUS_INITIATING);
  EXPECT_EQ(MustSnapshot("s1").status(), voip::v1::CALL_STATUS_INITIATING);
}

TEST_F(CallRegistryTest, AcceptedProviderEventIsPublished) {
  registry_.Create(NewSession("s1"), nullptr);
  auto sub = Watch();
  ProviderEvent ringing = Ev("s1", ProviderEventKind::kRinging);
  ringing.provider_call_id = "CA1";
  registry_.OnProviderEvent(ringing);

  std::vector<CallEventPtr> events = Drain(*sub);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->sequence(), 2u);
  EXPECT_EQ(events[0]->type(), voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  EXPECT_EQ(events[0]->previous_status(), voip::v1::CALL_STATUS_INITIATING);
  EXPECT_EQ(events[0]->session().status(), voip::v1::CALL_STATUS_RINGING);
  EXPECT_EQ(events[0]->session().provider_call_id(), "CA1");

  CallSession now = MustSnapshot("s1");
  EXPECT_EQ(now.status(), voip::v1::CALL_STATUS_RINGING);
  EXPECT_EQ(now.last_sequence(), 2u);
}

TEST_F(CallRegistryTest, MuteIsPublishedAsMuteChanged) {
  CreateIn(NewSession("s1"), voip::v1::CALL_STATUS_CONNECTED);
  auto sub = Watch();
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kMuted));
  std::vector<CallEventPtr> events = Drain(*sub);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->type(), voip::v1::CALL_EVENT_TYPE_MUTE_CHANGED);
  EXPECT_EQ(events[0]->previous_status(), voip::v1::CALL_STATUS_CONNECTED);
  EXPECT_TRUE(events[0]->session().muted());
}

TEST_F(CallRegistryTest, IllegalProviderEventsPublishNothingAndChangeNothing) {
  // Each call must have exactly one clean history; rejected facts leave no
  // trace on the bus or in the stored call.
  CreateIn(NewSession("s1"), voip::v1::CALL_STATUS_CONNECTED);
  const CallSession before = MustSnapshot("s1");
  const uint64_t last = bus_.last_sequence();
  auto sub = Watch();
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kRinging));   // after answer
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kAnswered));  // duplicate answer
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kResumed));   // not on hold
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kUnmuted));   // not muted
  EXPECT_EQ(bus_.last_sequence(), last);
  EXPECT_THAT(Drain(*sub), IsEmpty());
  EXPECT_EQ(MustSnapshot("s1").SerializeAsString(), before.SerializeAsString());
}

TEST_F(CallRegistryTest, SecondTerminalEventIsNotPublished) {
  CreateIn(NewSession("s1"), voip::v1::CALL_STATUS_CONNECTED);
  auto sub = Watch();
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded));
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded, EndOutcome::kFailed));
  std::vector<CallEventPtr> events = Drain(*sub);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->session().status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(MustSnapshot("s1").status(), voip::v1::CALL_STATUS_DISCONNECTED);
}

TEST_F(CallRegistryTest, EventForUnknownSessionIsDropped) {
  const uint64_t last = bus_.last_sequence();
  registry_.OnProviderEvent(Ev("ghost", ProviderEventKind::kRinging));
  EXPECT_EQ(bus_.last_sequence(), last);
  EXPECT_EQ(registry_.Snapshot("ghost").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CallRegistryTest, FullLifecyclePublishesEveryChangeInOrder) {
  auto sub = Watch();
  registry_.Create(NewSession("s1"), nullptr);
  for (ProviderEventKind kind :
       {ProviderEventKind::kRinging, ProviderEventKind::kAnswered, ProviderEventKind::kHeld,
        ProviderEventKind::kResumed, ProviderEventKind::kEnded}) {
    registry_.OnProviderEvent(Ev("s1", kind));
  }
  std::vector<voip::v1::CallStatus> statuses;
  std::vector<uint64_t> seqs;
  for (const auto& event : Drain(*sub)) {
    statuses.push_back(event->session().status());
    seqs.push_back(event->sequence());
  }
  EXPECT_THAT(statuses,
              ElementsAre(voip::v1::CALL_STATUS_INITIATING, voip::v1::CALL_STATUS_RINGING,
                          voip::v1::CALL_STATUS_CONNECTED, voip::v1::CALL_STATUS_ON_HOLD,
                          voip::v1::CALL_STATUS_CONNECTED, voip::v1::CALL_STATUS_DISCONNECTED));
  EXPECT_THAT(seqs, ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST_F(CallRegistryTest, SubscriberWakeMayCallBackIntoRegistry) {
  // Fan-out must never run under the registry's lock: stream handlers read
  // the registry from their wake callback.
  struct State {
    CallRegistry* registry;
    absl::Mutex mu;
    int wakes = 0;
    size_t listed = 0;
  };
  auto state = std::make_shared<State>();
  state->registry = &registry_;
  auto sub = bus_.Subscribe({}, std::nullopt, [state] {
    auto response = state->registry->List({});
    absl::MutexLock lock(&state->mu);
    ++state->wakes;
    if (response.ok()) state->listed = response->calls_size();
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_THAT(Drain(**sub), IsEmpty());  // arm the wake-up
  registry_.Create(NewSession("s1"), nullptr);
  ASSERT_THAT(Drain(**sub), ::testing::SizeIs(1));
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded));
  absl::MutexLock lock(&state->mu);
  EXPECT_EQ(state->wakes, 2);
  EXPECT_EQ(state->listed, 1u);
}

TEST_F(CallRegistryTest, ConcurrentCallsEachGetTheirOwnOrderedHistory) {
  constexpr int kCalls = 8;
  auto sub = Watch();
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([this, i] {
      const std::string id = absl::StrCat("c", i);
      registry_.Create(NewSession(id), nullptr);
      for (ProviderEventKind kind :
           {ProviderEventKind::kRinging, ProviderEventKind::kAnswered, ProviderEventKind::kMuted,
            ProviderEventKind::kHeld, ProviderEventKind::kResumed, ProviderEventKind::kEnded}) {
        registry_.OnProviderEvent(Ev(id, kind));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<CallEventPtr> events = Drain(*sub);
  ASSERT_EQ(events.size(), static_cast<size_t>(kCalls * 7));
  std::map<std::string, std::vector<voip::v1::CallStatus>> per_call;
  for (size_t k = 0; k < events.size(); ++k) {
    EXPECT_EQ(events[k]->sequence(), k + 1);
    per_call[events[k]->session().session_id()].push_back(events[k]->session().status());
  }
  for (const auto& [id, statuses] : per_call) {
    EXPECT_THAT(statuses,
                ElementsAre(voip::v1::CALL_STATUS_INITIATING, voip::v1::CALL_STATUS_RINGING,
                            voip::v1::CALL_STATUS_CONNECTED, voip::v1::CALL_STATUS_CONNECTED,
                            voip::v1::CALL_STATUS_ON_HOLD, voip::v1::CALL_STATUS_CONNECTED,
                            voip::v1::CALL_STATUS_DISCONNECTED))
        << id;
  }
}

// OnProviderEvent and SetProviderCallId judge on a copy made outside the
// registry's lock and commit only if the call did not change meanwhile:
// racing updates of one call must neither be lost nor break the chain of
// published states.
TEST_F(CallRegistryTest, RacingUpdatesOfOneCallLoseNothing) {
  for (int i = 0; i < 200; ++i) {
    const std::string id = absl::StrCat("race", i);
    registry_.Create(NewSession(id), nullptr);
    std::thread provider_id([&] { registry_.SetProviderCallId(id, absl::StrCat("CA", i), "+12015550199"); });
    std::thread events([&] {
      registry_.OnProviderEvent(Ev(id, ProviderEventKind::kRinging));
      registry_.OnProviderEvent(Ev(id, ProviderEventKind::kAnswered));
    });
    provider_id.join();
    events.join();
    const CallSession s = MustSnapshot(id);
    ASSERT_EQ(s.status(), voip::v1::CALL_STATUS_CONNECTED) << id;
    ASSERT_EQ(s.provider_call_id(), absl::StrCat("CA", i)) << id << ": the provider call id was lost";
    ASSERT_EQ(s.from(), "+12015550199") << id;
  }
}

TEST_F(CallRegistryTest, RacingEventsOnOneCallPublishAConsistentChainAndOneEnd) {
  constexpr int kThreads = 8;
  registry_.Create(NewSession("s1"), nullptr);
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kAnswered));
  auto sub = Watch();
  std::atomic<int> terminal_callbacks{0};
  ASSERT_TRUE(registry_.OnTerminal("s1", [&](const CallSession&) { ++terminal_callbacks; }));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      // At most 8 x 50 x 2 events: within the fixture's window and lag limit
      // (1,000), since the subscriber is only drained at the end.
      for (int i = 0; i < 50; ++i) {
        registry_.OnProviderEvent(Ev("s1", (i + t) % 2 == 0 ? ProviderEventKind::kHeld
                                                             : ProviderEventKind::kResumed));
        registry_.OnProviderEvent(Ev("s1", i % 2 == 0 ? ProviderEventKind::kMuted
                                                      : ProviderEventKind::kUnmuted));
      }
      registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded));
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<CallEventPtr> events = Drain(*sub);
  ASSERT_FALSE(events.empty());
  voip::v1::CallStatus status = voip::v1::CALL_STATUS_CONNECTED;
  bool muted = false;
  int terminal_events = 0;
  for (size_t k = 0; k < events.size(); ++k) {
    const voip::v1::CallEvent& event = *events[k];
    if (k > 0) {
      ASSERT_GT(event.sequence(), events[k - 1]->sequence());
    }
    if (event.type() == voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED) {
      ASSERT_EQ(event.previous_status(), status) << "event " << k << " does not follow its predecessor";
      ASSERT_NE(event.session().status(), status) << "event " << k << " changes nothing";
    } else {
      ASSERT_EQ(event.session().status(), status) << "event " << k;
      ASSERT_NE(event.session().muted(), muted) << "event " << k << " repeats the mute state";
    }
    status = event.session().status();
    muted = event.session().muted();
    if (IsTerminal(status)) ++terminal_events;
  }
  EXPECT_EQ(terminal_events, 1);
  EXPECT_EQ(events.back()->session().status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(terminal_callbacks.load(), 1);
  EXPECT_EQ(MustSnapshot("s1").status(), voip::v1::CALL_STATUS_DISCONNECTED);
}

// ---------------------------------------------------------------------------
// OnTerminal

TEST_F(CallRegistryTest, OnTerminalFiresExactlyOnceWithTheEndedCall) {
  registry_.Create(NewSession("s1"), nullptr);
  int calls = 0;
  CallSession seen;
  ASSERT_TRUE(registry_.OnTerminal("s1", [&](const CallSession& s) {
    ++calls;
    seen = s;
  }));
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kAnswered));
  EXPECT_EQ(calls, 0);  // not ended yet
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen.status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_TRUE(seen.has_ended_at());
  // A late second end changes nothing and fires nothing.
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded, EndOutcome::kFailed));
  EXPECT_EQ(calls, 1);
}

TEST_F(CallRegistryTest, OnTerminalFiresEveryRegisteredCallback) {
  registry_.Create(NewSession("s1"), nullptr);
  int a = 0, b = 0;
  ASSERT_TRUE(registry_.OnTerminal("s1", [&](const CallSession&) { ++a; }));
  ASSERT_TRUE(registry_.OnTerminal("s1", [&](const CallSession&) { ++b; }));
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded, EndOutcome::kBusy));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
}

TEST_F(CallRegistryTest, OnTerminalFiresImmediatelyIfAlreadyEnded) {
  CreateIn(NewSession("s1"), voip::v1::CALL_STATUS_BUSY);
  int calls = 0;
  voip::v1::CallStatus status = voip::v1::CALL_STATUS_UNSPECIFIED;
  ASSERT_TRUE(registry_.OnTerminal("s1", [&](const CallSession& s) {
    ++calls;
    status = s.status();
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(status, voip::v1::CALL_STATUS_BUSY);
}

TEST_F(CallRegistryTest, OnTerminalForUnknownSessionReturnsFalse) {
  bool called = false;
  EXPECT_FALSE(registry_.OnTerminal("ghost", [&](const CallSession&) { called = true; }));
  EXPECT_FALSE(called);
}

TEST_F(CallRegistryTest, OnTerminalCallbackMayCallBackIntoRegistry) {
  // EndCall's completion reads the registry from this callback.
  registry_.Create(NewSession("s1"), nullptr);
  voip::v1::CallStatus seen = voip::v1::CALL_STATUS_UNSPECIFIED;
  ASSERT_TRUE(registry_.OnTerminal("s1", [&](const CallSession&) {
    auto snap = registry_.Snapshot("s1");
    if (snap.ok()) seen = snap->status();
  }));
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded));
  EXPECT_EQ(seen, voip::v1::CALL_STATUS_DISCONNECTED);
}

// ---------------------------------------------------------------------------
// Lookups

TEST_F(CallRegistryTest, UnknownSessionIsSessionNotFound) {
  for (const absl::Status& status :
       {registry_.Snapshot("nope").status(), registry_.Get("nope").status()}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
    std::optional<voip::v1::VoipError> error = GetVoipError(status);
    ASSERT_TRUE(error.has_value()) << status;
    EXPECT_EQ(error->error_code(), voip::v1::SESSION_NOT_FOUND);
    EXPECT_EQ(error->session_id(), "nope");
    EXPECT_EQ(error->field(), "session_id");
  }
}

TEST_F(CallRegistryTest, GetReturnsTheAdapterUntilTheCallEnds) {
  // Dropping the adapter of an ended call lets a reloaded-away adapter
  // instance die once its last call is over.
  auto adapter = std::make_shared<NullAdapter>();
  std::weak_ptr<NullAdapter> weak = adapter;
  registry_.Create(NewSession("s1"), adapter);
  adapter.reset();
  absl::StatusOr<CallHandle> handle = registry_.Get("s1");
  ASSERT_TRUE(handle.ok());
  EXPECT_NE(handle->adapter, nullptr);
  handle = absl::StatusOr<CallHandle>();  // drop our copy
  ASSERT_FALSE(weak.expired());

  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded));
  EXPECT_TRUE(weak.expired());
  handle = registry_.Get("s1");
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(handle->adapter, nullptr);
  EXPECT_EQ(handle->session->status(), voip::v1::CALL_STATUS_DISCONNECTED);
}

TEST_F(CallRegistryTest, SetProviderCallIdFillsOnlyEmptyFieldsAndPublishesNothing) {
  registry_.Create(NewSession("s1"), nullptr);
  const uint64_t last = bus_.last_sequence();
  registry_.SetProviderCallId("s1", "CA1", "+12015550199");
  registry_.SetProviderCallId("s1", "CA2", "+19999999999");
  CallSession s = MustSnapshot("s1");
  EXPECT_EQ(s.provider_call_id(), "CA1");
  EXPECT_EQ(s.from(), "+12015550199");
  EXPECT_EQ(bus_.last_sequence(), last);
  registry_.SetProviderCallId("ghost", "CA3", "");  // ignored, no crash
}

// The provider call id learnt from StartCall's result: every reader sees
// it, the INITIATING event stays as published, and the next event carries it
// (not an id the provider event brings: the machine only fills an empty one).
TEST_F(CallRegistryTest, ProviderCallIdIsSeenByEveryReaderAndTheNextEvent) {
  auto sub = Watch();
  registry_.Create(NewSession("s1"), nullptr);
  registry_.SetProviderCallId("s1", "CA1", "+12015550199");

  EXPECT_EQ(MustSnapshot("s1").provider_call_id(), "CA1");
  voip::v1::ListCallsRequest by_from;
  auto listed = registry_.List(by_from, "+12015550199");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->calls_size(), 1);
  EXPECT_EQ(listed->calls(0).provider_call_id(), "CA1");
  EXPECT_EQ(listed->calls(0).from(), "+12015550199");
  std::vector<CallHandle> active = registry_.ActiveCalls();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].session->provider_call_id(), "CA1");
  auto handle = registry_.Get("s1");
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(handle->session->provider_call_id(), "CA1");
  EXPECT_EQ(handle->session->from(), "+12015550199");

  ProviderEvent ringing = Ev("s1", ProviderEventKind::kRinging);
  ringing.provider_call_id = "CA-other";
  registry_.OnProviderEvent(ringing);
  std::vector<CallEventPtr> events = Drain(*sub);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]->session().provider_call_id(), "");  // INITIATING as created
  EXPECT_EQ(events[0]->session().from(), "");
  EXPECT_EQ(events[1]->session().provider_call_id(), "CA1");
  EXPECT_EQ(events[1]->session().from(), "+12015550199");
}

// An id learnt after the call ended (the adapter ended it before StartCall
// answered) still reaches snapshots and OnTerminal callbacks.
TEST_F(CallRegistryTest, ProviderCallIdSetAfterTheEndIsStillSeen) {
  registry_.Create(NewSession("s1"), nullptr);
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kEnded, EndOutcome::kFailed));
  registry_.SetProviderCallId("s1", "CA1", "");
  EXPECT_EQ(MustSnapshot("s1").provider_call_id(), "CA1");
  std::string seen;
  EXPECT_TRUE(registry_.OnTerminal(
      "s1", [&seen](const CallSession& s) { seen = s.provider_call_id(); }));
  EXPECT_EQ(seen, "CA1");
}

// ---------------------------------------------------------------------------
// OverrideLocalEnd (shutdown)

TEST_F(CallRegistryTest, OverrideLocalEndRewritesTheAdaptersLocalHangup) {
  // At shutdown the adapter reports an ordinary local hangup; clients must
  // see that voipd, not their own EndCall, ended the call.
  CreateIn(NewSession("s1"), voip::v1::CALL_STATUS_CONNECTED);
  registry_.OverrideLocalEnd("s1", voip::v1::HANGUP_SOURCE_SYSTEM, voip::v1::DAEMON_SHUTDOWN,
                             "ended because voipd shut down");
  auto sub = Watch();
  ProviderEvent end = Ev("s1", ProviderEventKind::kEnded);
  end.source = voip::v1::HANGUP_SOURCE_LOCAL;
  end.message = "BYE sent";
  end.cause.set_sip_code(200);
  registry_.OnProviderEvent(end);

  std::vector<CallEventPtr> events = Drain(*sub);
  ASSERT_EQ(events.size(), 1u);
  const auto& reason = events[0]->session().end_reason();
  EXPECT_EQ(reason.source(), voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_EQ(reason.error_code(), voip::v1::DAEMON_SHUTDOWN);
  EXPECT_EQ(reason.message(), "ended because voipd shut down");
  // What the provider said is still kept verbatim.
  EXPECT_EQ(reason.provider_cause().sip_code(), 200);
  EXPECT_EQ(events[0]->session().status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(MustSnapshot("s1").end_reason().error_code(), voip::v1::DAEMON_SHUTDOWN);
}

TEST_F(CallRegistryTest, OverrideLocalEndLeavesARemoteHangupAlone) {
  // If the far end hung up first, that is the truth to record.
  CreateIn(NewSession("s1"), voip::v1::CALL_STATUS_CONNECTED);
  registry_.OverrideLocalEnd("s1", voip::v1::HANGUP_SOURCE_SYSTEM, voip::v1::DAEMON_SHUTDOWN,
                             "ended because voipd shut down");
  ProviderEvent end = Ev("s1", ProviderEventKind::kEnded);
  end.source = voip::v1::HANGUP_SOURCE_REMOTE;
  end.message = "remote BYE";
  registry_.OnProviderEvent(end);
  const auto reason = MustSnapshot("s1").end_reason();
  EXPECT_EQ(reason.source(), voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(reason.error_code(), voip::v1::ERROR_CODE_UNSPECIFIED);
  EXPECT_EQ(reason.message(), "remote BYE");
}

TEST_F(CallRegistryTest, OverrideLocalEndDoesNotAffectNonTerminalEvents) {
  CreateIn(NewSession("s1"), voip::v1::CALL_STATUS_CONNECTED);
  registry_.OverrideLocalEnd("s1", voip::v1::HANGUP_SOURCE_SYSTEM, voip::v1::DAEMON_SHUTDOWN,
                             "shutdown");
  registry_.OnProviderEvent(Ev("s1", ProviderEventKind::kHeld));
  CallSession s = MustSnapshot("s1");
  EXPECT_EQ(s.status(), voip::v1::CALL_STATUS_ON_HOLD);
  EXPECT_FALSE(s.has_end_reason());
}

TEST_F(CallRegistryTest, OverrideLocalEndForUnknownSessionIsIgnored) {
  const uint64_t last = bus_.last_sequence();
  registry_.OverrideLocalEnd("ghost", voip::v1::HANGUP_SOURCE_SYSTEM, voip::v1::DAEMON_SHUTDOWN,
                             "shutdown");
  EXPECT_EQ(bus_.last_sequence(), last);
  EXPECT_EQ(GetErrorCode(registry_.Snapshot("ghost").status()), voip::v1::SESSION_NOT_FOUND);
}

TEST_F(CallRegistryTest, ActiveCallsAndCountsExcludeEndedCalls) {
  CreateIn(NewSession("a", "sandbox"), voip::v1::CALL_STATUS_CONNECTED);
  CreateIn(NewSession("b", "sip"), voip::v1::CALL_STATUS_RINGING);
  CreateIn(NewSession("c", "sip"), voip::v1::CALL_STATUS_INITIATING);
  CreateIn(NewSession("d", "sip"), voip::v1::CALL_STATUS_DISCONNECTED);
  std::vector<std::string> ids;
  for (const auto& handle : registry_.ActiveCalls()) ids.push_back(handle.session->session_id());
  EXPECT_THAT(ids, ElementsAre("a", "b", "c"));
  EXPECT_THAT(registry_.ActiveCountBySystem(), ElementsAre(Pair("sandbox", 1), Pair("sip", 2)));
}

// ---------------------------------------------------------------------------
// List

class CallRegistryListTest : public CallRegistryTest {
 protected:
  void SetUp() override {
    CreateIn(NewSession("a", "sandbox", {{"team", "sales"}}), voip::v1::CALL_STATUS_CONNECTED);
    CreateIn(NewSession("b", "sip", {{"team", "sales"}, {"crm", "1"}}),
             voip::v1::CALL_STATUS_RINGING);
    CreateIn(NewSession("c", "sip", {{"team", "support"}}), voip::v1::CALL_STATUS_DISCONNECTED);
    CreateIn(NewSession("d", "sandbox"), voip::v1::CALL_STATUS_BUSY);
    CreateIn(NewSession("e", "sandbox", {{"team", "sales"}}), voip::v1::CALL_STATUS_CONNECTED);
  }
};

TEST_F(CallRegistryListTest, NoFilterListsEveryCallOldestFirst) {
  EXPECT_THAT(ListIds({}), ElementsAre("a", "b", "c", "d", "e"));
}

TEST_F(CallRegistryListTest, ActiveOnlyExcludesTerminalCalls) {
  voip::v1::ListCallsRequest request;
  request.set_active_only(true);
  EXPECT_THAT(ListIds(request), ElementsAre("a", "b", "e"));
}

TEST_F(CallRegistryListTest, StatusFilter) {
  voip::v1::ListCallsRequest request;
  request.set_status(voip::v1::CALL_STATUS_CONNECTED);
  EXPECT_THAT(ListIds(request), ElementsAre("a", "e"));
  request.set_status(voip::v1::CALL_STATUS_BUSY);
  EXPECT_THAT(ListIds(request), ElementsAre("d"));
}

TEST_F(CallRegistryListTest, SystemFilter) {
  voip::v1::ListCallsRequest request;
  request.set_system_name("sip");
  EXPECT_THAT(ListIds(request), ElementsAre("b", "c"));
}

TEST_F(CallRegistryListTest, LabelsFilterRequiresAllLabels) {
  voip::v1::ListCallsRequest request;
  (*request.mutable_labels())["team"] = "sales";
  EXPECT_THAT(ListIds(request), ElementsAre("a", "b", "e"));
  (*request.mutable_labels())["crm"] = "1";
  EXPECT_THAT(ListIds(request), ElementsAre("b"));
}

TEST_F(CallRegistryListTest, FiltersCombine) {
  voip::v1::ListCallsRequest request;
  request.set_active_only(true);
  request.set_system_name("sandbox");
  (*request.mutable_labels())["team"] = "sales";
  EXPECT_THAT(ListIds(request), ElementsAre("a", "e"));
}

TEST_F(CallRegistryListTest, PaginationWithFilterCoversMatchesExactlyOnce) {
  voip::v1::ListCallsRequest request;
  request.set_system_name("sandbox");  // a, d, e
  request.set_page_size(2);
  auto first = registry_.List(request);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->calls_size(), 2);
  EXPECT_EQ(first->calls(0).session_id(), "a");
  EXPECT_EQ(first->calls(1).session_id(), "d");
  ASSERT_FALSE(first->next_page_token().empty());
  request.set_page_token(first->next_page_token());
  auto second = registry_.List(request);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->calls_size(), 1);
  EXPECT_EQ(second->calls(0).session_id(), "e");
  EXPECT_THAT(second->next_page_token(), IsEmpty());
}

TEST_F(CallRegistryTest, PaginationCoversAllCallsExactlyOnce) {
  // Clients page through calls while they change; every call must appear
  // once, none twice, and the last page must say "no more".
  constexpr int kCalls = 23;
  std::vector<std::string> expected;
  for (int i = 0; i < kCalls; ++i) {
    const std::string id = absl::StrCat("call-", i);
    CreateIn(NewSession(id), i % 3 == 0 ? voip::v1::CALL_STATUS_DISCONNECTED
                                        : voip::v1::CALL_STATUS_RINGING);
    expected.push_back(id);
  }
  for (int page_size : {1, 4, 5, 23, 50}) {
    SCOPED_TRACE(absl::StrCat("page_size=", page_size));
    voip::v1::ListCallsRequest request;
    request.set_page_size(page_size);
    std::vector<std::string> seen;
    int pages = 0;
    for (;;) {
      auto response = registry_.List(request);
      ASSERT_TRUE(response.ok()) << response.status();
      ASSERT_LE(response->calls_size(), page_size);
      for (const auto& call : response->calls()) seen.push_back(call.session_id());
      ++pages;
      ASSERT_LE(pages, kCalls + 1) << "pagination does not terminate";
      if (response->next_page_token().empty()) break;
      EXPECT_EQ(response->calls_size(), page_size) << "short page before the end";
      request.set_page_token(response->next_page_token());
    }
    EXPECT_THAT(seen, ElementsAreArray(expected));
    EXPECT_EQ(pages, (kCalls + page_size - 1) / page_size);
  }
}

TEST_F(CallRegistryTest, ExactlyFullLastPageHasNoNextToken) {
  for (int i = 0; i < 4; ++i) registry_.Create(NewSession(absl::StrCat("s", i)), nullptr);
  voip::v1::ListCallsRequest request;
  request.set_page_size(2);
  auto first = registry_.List(request);
  ASSERT_TRUE(first.ok());
  request.set_page_token(first->next_page_token());
  auto second = registry_.List(request);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->calls_size(), 2);
  EXPECT_THAT(second->next_page_token(), IsEmpty());
}

TEST_F(CallRegistryTest, PageSizeDefaultsTo100AndIsCappedAt1000) {
  for (int i = 0; i < 1001; ++i) registry_.Create(NewSession(absl::StrCat("s", i)), nullptr);
  auto by_default = registry_.List({});
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(by_default->calls_size(), 100);
  EXPECT_FALSE(by_default->next_page_token().empty());

  voip::v1::ListCallsRequest huge;
  huge.set_page_size(5000);
  auto capped = registry_.List(huge);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->calls_size(), 1000);
  EXPECT_FALSE(capped->next_page_token().empty());
}

TEST_F(CallRegistryTest, BadPageTokenIsInvalidArgumentNamingIt) {
  registry_.Create(NewSession("s1"), nullptr);
  for (const std::string token : {"abc", "-1", "1x", "9999999999999999999999"}) {
    SCOPED_TRACE(token);
    voip::v1::ListCallsRequest request;
    request.set_page_token(token);
    ExpectFieldError(registry_.List(request).status(), "page_token");
  }
}

TEST_F(CallRegistryTest, NegativePageSizeIsInvalidArgumentNamingIt) {
  voip::v1::ListCallsRequest request;
  request.set_page_size(-1);
  ExpectFieldError(registry_.List(request).status(), "page_size");
}

// ---------------------------------------------------------------------------
// Retention of ended calls

TEST(CallRegistryRetentionTest, MaxEndedCallsPrunesOldestEndedCalls) {
  EventBus bus(1000, 1000);
  CallRegistry registry(&bus, RegistryLimits{absl::Hours(1), /*max_ended_calls=*/2});
  registry.Create(NewSession("active"), nullptr);
  for (const std::string id : {"e1", "e2", "e3"}) {
    registry.Create(NewSession(id), nullptr);
    registry.OnProviderEvent(Ev(id, ProviderEventKind::kEnded));
  }
  registry.Create(NewSession("new"), nullptr);  // pruning happens here at the latest

  // The oldest ended call is gone; the two newest remain.
  const absl::Status gone = registry.Snapshot("e1").status();
  EXPECT_EQ(GetErrorCode(gone), voip::v1::SESSION_NOT_FOUND) << gone;
  EXPECT_TRUE(registry.Snapshot("e2").ok());
  EXPECT_TRUE(registry.Snapshot("e3").ok());
  // Active calls are never pruned, however old.
  EXPECT_TRUE(registry.Snapshot("active").ok());

  auto all = registry.List({});
  ASSERT_TRUE(all.ok());
  std::vector<std::string> ids;
  for (const auto& call : all->calls()) ids.push_back(call.session_id());
  EXPECT_THAT(ids, ElementsAre("active", "e2", "e3", "new"));
}

TEST(CallRegistryRetentionTest, MaxEndedCallsHoldsWhenNoCallStartsAfterABurstEnds) {
  EventBus bus(1000, 1000);
  CallRegistry registry(&bus, RegistryLimits{absl::Hours(1), /*max_ended_calls=*/2});
  const std::vector<std::string> ids = {"c1", "c2", "c3", "c4"};
  for (const std::string& id : ids) registry.Create(NewSession(id), nullptr);
  for (const std::string& id : ids) registry.OnProviderEvent(Ev(id, ProviderEventKind::kEnded));
  // No Create after the ends: the bound is kept as calls end.
  EXPECT_FALSE(registry.Snapshot("c1").ok());
  EXPECT_FALSE(registry.Snapshot("c2").ok());
  EXPECT_TRUE(registry.Snapshot("c3").ok());
  EXPECT_TRUE(registry.Snapshot("c4").ok());
}

TEST(CallRegistryRetentionTest, EndedCallsOlderThanRetentionArePruned) {
  // Zero retention: an ended call is past it as soon as it ended.
  EventBus bus(1000, 1000);
  CallRegistry registry(&bus, RegistryLimits{absl::ZeroDuration(), 10000});
  registry.Create(NewSession("active"), nullptr);
  registry.Create(NewSession("ended"), nullptr);
  registry.OnProviderEvent(Ev("ended", ProviderEventKind::kEnded));
  // The call that just ended stays until the next one starts or ends: its
  // EndCall reads it right after the end.
  EXPECT_TRUE(registry.Snapshot("ended").ok());
  registry.Create(NewSession("new"), nullptr);
  EXPECT_EQ(GetErrorCode(registry.Snapshot("ended").status()), voip::v1::SESSION_NOT_FOUND);
  EXPECT_TRUE(registry.Snapshot("active").ok());
  EXPECT_FALSE(registry.OnTerminal("ended", [](const CallSession&) {}));
}

TEST(CallRegistryRetentionTest, SetLimitsAppliesToLaterPruning) {
  EventBus bus(1000, 1000);
  CallRegistry registry(&bus, RegistryLimits{absl::Hours(1), 100});
  for (const std::string id : {"e1", "e2", "e3"}) {
    registry.Create(NewSession(id), nullptr);
    registry.OnProviderEvent(Ev(id, ProviderEventKind::kEnded));
  }
  registry.SetLimits(RegistryLimits{absl::Hours(1), 1});
  registry.Create(NewSession("new"), nullptr);
  EXPECT_FALSE(registry.Snapshot("e1").ok());
  EXPECT_FALSE(registry.Snapshot("e2").ok());
  EXPECT_TRUE(registry.Snapshot("e3").ok());
}

}  // namespace
}  // namespace voipd
