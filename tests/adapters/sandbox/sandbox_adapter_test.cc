// The sandbox simulator's scripts, operations and lifecycle, at time_scale 100
// on a real io_context. "Nothing more happens" is checked after
// IoThread::Drain(), which returns only once every timer has fired or been
// cancelled, so absence checks need no sleeps.
#include "adapters/sandbox/sandbox_adapter.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "adapters/api/voip_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/test_adapter.h"

namespace voipd::adapters::sandbox {
namespace {

using ::testing::ElementsAre;
using test::Describe;
using test::KindsOf;
using Kind = ProviderEventKind;

constexpr char kAnswers[] = "+12015550100";
constexpr char kBusy[] = "+12015550101";
constexpr char kNoAnswer[] = "+12015550102";
constexpr char kProviderFailure[] = "+12015550103";
constexpr char kRemoteHangup[] = "+12015550104";
constexpr char kNetworkError[] = "+12015550105";

// Completes an async adapter operation and hands back its result.
template <typename T>
struct Outcome {
  absl::Notification done;
  T result = absl::UnknownError("callback not invoked");
  int calls = 0;
};

class SandboxAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override { adapter_ = Make(DefaultConfig()); }

  void TearDown() override {
    for (auto& adapter : adapters_) adapter->Shutdown();
    io_.Stop();
  }

  static voip::config::v1::SandboxAdapterConfig DefaultConfig() {
    voip::config::v1::SandboxAdapterConfig config;
    config.set_time_scale(100);
    return config;
  }

  std::shared_ptr<SandboxAdapter> Make(const voip::config::v1::SandboxAdapterConfig& config) {
    AdapterContext context;
    context.system_name = "sbx";
    context.events = &sink_;
    context.io = io_.io();
    auto adapter = std::make_shared<SandboxAdapter>(config, context);
    adapters_.push_back(adapter);
    return adapter;
  }

  DialRequest Dial(const std::string& target, absl::Duration ring_timeout = absl::ZeroDuration(),
                   TargetKind kind = TargetKind::kE164) {
    DialRequest request;
    request.session_id = absl::StrCat("s", ++next_session_);
    request.target_kind = kind;
    request.target = target;
    request.ring_timeout = ring_timeout;
    return request;
  }

  absl::StatusOr<DialResult> Start(const DialRequest& request,
                                   SandboxAdapter* adapter = nullptr) {
    auto outcome = std::make_shared<Outcome<absl::StatusOr<DialResult>>>();
    (adapter ? adapter : adapter_.get())
        ->StartCall(request, [outcome](absl::StatusOr<DialResult> result) {
          outcome->result = std::move(result);
          ++outcome->calls;
          outcome->done.Notify();
        });
    if (!outcome->done.WaitForNotificationWithTimeout(test::kWaitTimeout)) {
      ADD_FAILURE() << "StartCall never completed";
      return absl::DeadlineExceededError("StartCall never completed");
    }
    EXPECT_EQ(outcome->calls, 1);
    return outcome->result;
  }

  using Op = std::function<void(DoneCallback)>;
  // Runs `op`; `at_done` receives the session's events as they were when the
  // callback ran (to check the confirmation came first).
  absl::Status Run(const std::string& session_id, Op op,
                   std::vector<ProviderEvent>* at_done = nullptr) {
    struct State {
      absl::Notification done;
      absl::Status status = absl::UnknownError("callback not invoked");
      std::vector<ProviderEvent> events;
    };
    auto state = std::make_shared<State>();
    op([state, session_id, this](absl::Status status) {
      state->events = sink_.EventsFor(session_id);
      state->status = std::move(status);
      state->done.Notify();
    });
    if (!state->done.WaitForNotificationWithTimeout(test::kWaitTimeout)) {
      ADD_FAILURE() << "operation never completed";
      return absl::DeadlineExceededError("operation never completed");
    }
    if (at_done) *at_done = state->events;
    return state->status;
  }

  absl::Status End(const std::string& id) {
    return Run(id, [&](DoneCallback done) { adapter_->EndCall({id, ""}, std::move(done)); });
  }
  absl::Status Hold(const std::string& id, bool on, std::vector<ProviderEvent>* at_done = nullptr) {
    return Run(
        id, [&](DoneCallback done) { adapter_->Hold({id, ""}, on, std::move(done)); }, at_done);
  }
  absl::Status Mute(const std::string& id, bool on, std::vector<ProviderEvent>* at_done = nullptr) {
    return Run(
        id, [&](DoneCallback done) { adapter_->Mute({id, ""}, on, std::move(done)); }, at_done);
  }

  // Waits until the session has an event of `kind` and returns all its events.
  std::vector<ProviderEvent> WaitKind(const std::string& id, Kind kind) {
    EXPECT_TRUE(sink_.WaitForKind(id, kind).has_value())
        << "no " << test::KindName(kind) << " for " << id << "; got "
        << Describe(sink_.EventsFor(id));
    return sink_.EventsFor(id);
  }

  test::IoThread io_;  // first: outlives the adapters' timers
  test::RecordingSink sink_;
  std::vector<std::shared_ptr<SandboxAdapter>> adapters_;
  std::shared_ptr<SandboxAdapter> adapter_;
  int next_session_ = 0;
};

TEST(SandboxScriptTest, NumbersPickScripts) {
  EXPECT_EQ(ScriptForTarget(kAnswers), Script::kAnswer);
  EXPECT_EQ(ScriptForTarget(kBusy), Script::kBusy);
  EXPECT_EQ(ScriptForTarget(kNoAnswer), Script::kNoAnswer);
  EXPECT_EQ(ScriptForTarget(kProviderFailure), Script::kProviderFailure);
  EXPECT_EQ(ScriptForTarget(kRemoteHangup), Script::kRemoteHangup);
  EXPECT_EQ(ScriptForTarget(kNetworkError), Script::kNetworkError);
  EXPECT_EQ(ScriptForTarget("+442071838750"), Script::kAnswer);
}

TEST_F(SandboxAdapterTest, AnswersRingsThenAnswers) {
  // A short ring timeout so that Drain() has no long timer to wait for; an
  // answered call must ignore it.
  DialRequest dial = Dial(kAnswers, absl::Milliseconds(50));
  absl::StatusOr<DialResult> result = Start(dial);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(absl::StartsWith(result->provider_call_id, "sbx-")) << result->provider_call_id;
  EXPECT_EQ(result->from, "+12015550199") << "the documented default caller";

  WaitKind(dial.session_id, Kind::kAnswered);
  ASSERT_TRUE(io_.Drain());
  auto events = sink_.EventsFor(dial.session_id);
  EXPECT_THAT(KindsOf(events), ElementsAre(Kind::kRinging, Kind::kAnswered)) << Describe(events);
  for (const auto& e : events) EXPECT_EQ(e.session_id, dial.session_id);
}

TEST_F(SandboxAdapterTest, AnsweredCallLeavesNoTimerBehind) {
  // The ring timeout only matters until the far end answers: an answered
  // call must not keep a wait on the io_context (with an hour-long ring
  // timeout Drain() would time out), so ending it never has to cancel one.
  DialRequest dial = Dial(kAnswers, absl::Hours(1));
  ASSERT_TRUE(Start(dial).ok());
  WaitKind(dial.session_id, Kind::kAnswered);
  ASSERT_TRUE(io_.Drain(absl::Seconds(2))) << "a timer is still armed after the answer";
  ASSERT_TRUE(End(dial.session_id).ok());
  ASSERT_TRUE(io_.Drain());
  EXPECT_THAT(KindsOf(sink_.EventsFor(dial.session_id)),
              ElementsAre(Kind::kRinging, Kind::kAnswered, Kind::kEnded));
}

TEST_F(SandboxAdapterTest, BusyRingsThenEndsBusyWith486) {
  DialRequest dial = Dial(kBusy);
  ASSERT_TRUE(Start(dial).ok());
  auto events = WaitKind(dial.session_id, Kind::kEnded);
  ASSERT_THAT(KindsOf(events), ElementsAre(Kind::kRinging, Kind::kEnded)) << Describe(events);
  const ProviderEvent& ended = events.back();
  EXPECT_EQ(ended.outcome, EndOutcome::kBusy);
  EXPECT_EQ(ended.source, voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(ended.error_code, voip::v1::ERROR_CODE_UNSPECIFIED);
  EXPECT_EQ(ended.cause.sip_code(), 486);
  EXPECT_EQ(ended.cause.q850_cause(), 17);
  ASSERT_TRUE(io_.Drain());
  EXPECT_EQ(sink_.EventsFor(dial.session_id).size(), 2u) << "the ring timeout must be cancelled";
}

TEST_F(SandboxAdapterTest, NoAnswerEndsUnavailableAtTheUnscaledRingTimeout) {
  const absl::Duration ring_timeout = absl::Milliseconds(300);
  DialRequest dial = Dial(kNoAnswer, ring_timeout);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(Start(dial).ok());
  auto events = WaitKind(dial.session_id, Kind::kEnded);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_THAT(KindsOf(events), ElementsAre(Kind::kRinging, Kind::kEnded)) << Describe(events);
  const ProviderEvent& ended = events.back();
  EXPECT_EQ(ended.outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(ended.source, voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_EQ(ended.cause.sip_code(), 480);
  // A lower bound only (a timer never fires early): with time_scale 100 a
  // scaled timeout would have fired after 3 ms.
  EXPECT_GE(elapsed, absl::ToChronoMilliseconds(ring_timeout))
      << "the ring timeout is voipd's policy and must not be divided by time_scale";
}

TEST_F(SandboxAdapterTest, ConfiguredDefaultRingTimeoutApplies) {
  voip::config::v1::SandboxAdapterConfig config = DefaultConfig();
  config.set_default_ring_timeout_seconds(0.2);
  adapter_ = Make(config);
  DialRequest dial = Dial(kNoAnswer);  // no ring_timeout in the request
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(Start(dial).ok());
  auto events = WaitKind(dial.session_id, Kind::kEnded);
  EXPECT_EQ(events.back().outcome, EndOutcome::kUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
}

TEST_F(SandboxAdapterTest, ProviderFailureEndsFailedWith503) {
  DialRequest dial = Dial(kProviderFailure);
  ASSERT_TRUE(Start(dial).ok()) << "the provider accepted the call; it fails later";
  auto events = WaitKind(dial.session_id, Kind::kEnded);
  ASSERT_THAT(KindsOf(events), ElementsAre(Kind::kEnded)) << Describe(events);
  const ProviderEvent& ended = events.back();
  EXPECT_EQ(ended.outcome, EndOutcome::kFailed);
  EXPECT_EQ(ended.error_code, voip::v1::PROVIDER_ERROR);
  EXPECT_EQ(ended.source, voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_EQ(ended.cause.sip_code(), 503);
  EXPECT_FALSE(ended.message.empty());
}

TEST_F(SandboxAdapterTest, RemoteHangupAnswersThenEndsDisconnectedRemote) {
  DialRequest dial = Dial(kRemoteHangup);
  ASSERT_TRUE(Start(dial).ok());
  auto events = WaitKind(dial.session_id, Kind::kEnded);
  ASSERT_THAT(KindsOf(events), ElementsAre(Kind::kRinging, Kind::kAnswered, Kind::kEnded))
      << Describe(events);
  EXPECT_EQ(events.back().outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(events.back().source, voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(events.back().error_code, voip::v1::ERROR_CODE_UNSPECIFIED);
}

TEST_F(SandboxAdapterTest, NetworkErrorFailsStartCallAndNothingFollows) {
  DialRequest dial = Dial(kNetworkError, absl::Milliseconds(50));
  absl::StatusOr<DialResult> result = Start(dial);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetErrorCode(result.status()), voip::v1::NETWORK_ERROR);
  auto error = GetVoipError(result.status());
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->system_name(), "sbx");
  ASSERT_TRUE(io_.Drain());
  EXPECT_TRUE(sink_.events().empty()) << Describe(sink_.events());
  // No call exists: ending it reports nothing either.
  EXPECT_TRUE(End(dial.session_id).ok());
  EXPECT_TRUE(sink_.events().empty()) << Describe(sink_.events());
}

TEST_F(SandboxAdapterTest, EndCallEmitsExactlyOneLocalEndAndCancelsTimers) {
  DialRequest dial = Dial(kAnswers, absl::Milliseconds(50));
  ASSERT_TRUE(Start(dial).ok());
  WaitKind(dial.session_id, Kind::kRinging);  // answer and ring timeout still pending
  EXPECT_TRUE(End(dial.session_id).ok());
  EXPECT_TRUE(End(dial.session_id).ok()) << "ending twice is harmless";
  ASSERT_TRUE(io_.Drain());  // every timer of the call has fired or was cancelled
  auto events = sink_.EventsFor(dial.session_id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, Kind::kEnded) << Describe(events);
  int ended = 0;
  for (const auto& e : events) ended += e.kind == Kind::kEnded;
  EXPECT_EQ(ended, 1) << Describe(events);
  EXPECT_EQ(events.back().outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(events.back().source, voip::v1::HANGUP_SOURCE_LOCAL);
}

TEST_F(SandboxAdapterTest, EndCallBeforeAnythingHappenedEmitsOnlyTheEnd) {
  DialRequest dial = Dial(kRemoteHangup, absl::Milliseconds(50));
  {
    test::IoPause pause(io_.io());  // no timer can fire until released
    ASSERT_TRUE(pause.parked());
    ASSERT_TRUE(Start(dial).ok());
    EXPECT_TRUE(End(dial.session_id).ok());
  }
  ASSERT_TRUE(io_.Drain());
  auto events = sink_.EventsFor(dial.session_id);
  EXPECT_THAT(KindsOf(events), ElementsAre(Kind::kEnded)) << Describe(events);
}

TEST_F(SandboxAdapterTest, HoldIsConfirmedBeforeDone) {
  DialRequest dial = Dial(kAnswers, absl::Milliseconds(50));
  ASSERT_TRUE(Start(dial).ok());
  WaitKind(dial.session_id, Kind::kAnswered);

  std::vector<ProviderEvent> at_done;
  ASSERT_TRUE(Hold(dial.session_id, true, &at_done).ok());
  ASSERT_FALSE(at_done.empty());
  EXPECT_EQ(at_done.back().kind, Kind::kHeld) << "kHeld must precede done: " << Describe(at_done);

  ASSERT_TRUE(Hold(dial.session_id, false, &at_done).ok());
  ASSERT_FALSE(at_done.empty());
  EXPECT_EQ(at_done.back().kind, Kind::kResumed) << Describe(at_done);
  EXPECT_TRUE(End(dial.session_id).ok());
}

TEST_F(SandboxAdapterTest, HoldAfterEndFails) {
  DialRequest dial = Dial(kAnswers, absl::Milliseconds(50));
  ASSERT_TRUE(Start(dial).ok());
  WaitKind(dial.session_id, Kind::kAnswered);
  ASSERT_TRUE(End(dial.session_id).ok());
  absl::Status held = Hold(dial.session_id, true);
  EXPECT_FALSE(held.ok());
  EXPECT_EQ(GetErrorCode(held), voip::v1::INVALID_STATE) << held;
  EXPECT_EQ(held.code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(io_.Drain());
  auto events = sink_.EventsFor(dial.session_id);
  EXPECT_EQ(events.back().kind, Kind::kEnded) << "nothing after the end: " << Describe(events);
}

TEST_F(SandboxAdapterTest, MuteIsConfirmedBeforeDone) {
  DialRequest dial = Dial(kAnswers, absl::Milliseconds(50));
  ASSERT_TRUE(Start(dial).ok());
  WaitKind(dial.session_id, Kind::kAnswered);

  std::vector<ProviderEvent> at_done;
  ASSERT_TRUE(Mute(dial.session_id, true, &at_done).ok());
  ASSERT_FALSE(at_done.empty());
  EXPECT_EQ(at_done.back().kind, Kind::kMuted) << Describe(at_done);
  ASSERT_TRUE(Mute(dial.session_id, false, &at_done).ok());
  EXPECT_EQ(at_done.back().kind, Kind::kUnmuted) << Describe(at_done);

  ASSERT_TRUE(End(dial.session_id).ok());
  absl::Status after_end = Mute(dial.session_id, true);
  EXPECT_EQ(GetErrorCode(after_end), voip::v1::INVALID_STATE) << after_end;
}

TEST_F(SandboxAdapterTest, ShutdownCancelsPendingTimers) {
  std::vector<DialRequest> dials = {Dial(kAnswers, absl::Milliseconds(50)), Dial(kBusy),
                                    Dial(kNoAnswer, absl::Milliseconds(300)),
                                    Dial(kProviderFailure), Dial(kRemoteHangup)};
  {
    test::IoPause pause(io_.io());
    ASSERT_TRUE(pause.parked());
    for (const auto& dial : dials) ASSERT_TRUE(Start(dial).ok());
    adapter_->Shutdown();
  }
  // Had any timer survived, Drain would run it and its event would show.
  ASSERT_TRUE(io_.Drain());
  EXPECT_TRUE(sink_.events().empty()) << Describe(sink_.events());

  // No new calls after Shutdown; operations on old ones still complete.
  absl::StatusOr<DialResult> late = Start(Dial(kAnswers));
  EXPECT_FALSE(late.ok());
  EXPECT_EQ(GetErrorCode(late.status()), voip::v1::NETWORK_ERROR) << late.status();
  EXPECT_FALSE(Hold(dials[0].session_id, true).ok());
  ASSERT_TRUE(io_.Drain());
  EXPECT_TRUE(sink_.events().empty()) << Describe(sink_.events());
}

TEST_F(SandboxAdapterTest, CapabilitiesReflectConfig) {
  Capabilities caps = adapter_->capabilities();
  EXPECT_TRUE(caps.can_end);
  EXPECT_TRUE(caps.can_hold);
  EXPECT_TRUE(caps.can_mute);
  EXPECT_FALSE(caps.accepts_sip_uri);
  EXPECT_FALSE(caps.accepts_extension);

  voip::config::v1::SandboxAdapterConfig config = DefaultConfig();
  config.set_accept_sip_uri(true);
  EXPECT_TRUE(Make(config)->capabilities().accepts_sip_uri);
  EXPECT_FALSE(Make(config)->capabilities().accepts_extension);

  config = DefaultConfig();
  config.set_accept_extension(true);
  EXPECT_FALSE(Make(config)->capabilities().accepts_sip_uri);
  EXPECT_TRUE(Make(config)->capabilities().accepts_extension);
}

TEST_F(SandboxAdapterTest, SimulateUnhealthyReportsUnhealthy) {
  EXPECT_EQ(adapter_->health().state, Health::State::kHealthy);
  voip::config::v1::SandboxAdapterConfig config = DefaultConfig();
  config.set_simulate_unhealthy(true);
  Health health = Make(config)->health();
  EXPECT_EQ(health.state, Health::State::kUnhealthy);
  EXPECT_FALSE(health.message.empty());
}

TEST_F(SandboxAdapterTest, CallerDefaultsAndIds) {
  voip::config::v1::SandboxAdapterConfig config = DefaultConfig();
  config.set_default_from("+12025550123");
  std::shared_ptr<SandboxAdapter> adapter = Make(config);

  DialRequest a = Dial(kAnswers, absl::Milliseconds(50));
  absl::StatusOr<DialResult> first = Start(a, adapter.get());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->from, "+12025550123");

  DialRequest b = Dial(kAnswers, absl::Milliseconds(50));
  b.from = "1001";
  absl::StatusOr<DialResult> second = Start(b, adapter.get());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->from, "1001");
  EXPECT_NE(first->provider_call_id, second->provider_call_id);
}

TEST_F(SandboxAdapterTest, SipUriTargetsAnswerWhateverTheDigits) {
  // Scripts apply to E.164 targets only; a URI behaves like +12015550100.
  DialRequest dial = Dial("sip:+12015550105@example.com", absl::Milliseconds(50),
                          TargetKind::kSipUri);
  ASSERT_TRUE(Start(dial).ok());
  auto events = WaitKind(dial.session_id, Kind::kAnswered);
  EXPECT_THAT(KindsOf(events), ElementsAre(Kind::kRinging, Kind::kAnswered)) << Describe(events);
}

}  // namespace
}  // namespace voipd::adapters::sandbox
