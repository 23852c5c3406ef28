// CallController against the real CallRegistry, EventBus, IdempotencyCache
// and SystemTable, with the sandbox simulator (time_scale 100) and
// TestAdapter doubles for behaviours the sandbox never shows (no hold, a
// refused hold, a silent hangup, a slow StartCall).
#include "daemon/core/call_controller.h"

#include <latch>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "adapters/api/voip_error.h"
#include "adapters/sandbox/sandbox_adapter.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/call_state_machine.h"
#include "daemon/core/event_bus.h"
#include "daemon/core/idempotency_cache.h"
#include "daemon/core/system_table.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/adapters/test_adapter.h"

namespace voipd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using voip::v1::CallSession;
using voip::v1::CallStatus;

constexpr char kAnswers[] = "+12015550100";
constexpr char kNoAnswer[] = "+12015550102";
constexpr char kNetworkError[] = "+12015550105";
constexpr absl::Duration kEndCallTimeout = absl::Milliseconds(200);

// Every event the bus publishes, in order; waits take a deadline.
class BusRecorder {
 public:
  explicit BusRecorder(EventBus* bus) : state_(std::make_shared<State>()) {
    std::shared_ptr<State> state = state_;
    absl::StatusOr<SubscriptionPtr> sub =
        bus->Subscribe(EventFilter{}, std::nullopt, [state] { state->Drain(); });
    EXPECT_TRUE(sub.ok()) << sub.status();
    if (!sub.ok()) return;
    {
      absl::MutexLock lock(&state->mu);
      state->sub = *sub;
    }
    state->Drain();  // registers for wake-ups
  }
  ~BusRecorder() {
    SubscriptionPtr sub;
    {
      absl::MutexLock lock(&state_->mu);
      sub = state_->sub;
    }
    if (sub) sub->Close();
  }

  std::vector<CallEventPtr> EventsFor(const std::string& session_id) const {
    absl::MutexLock lock(&state_->mu);
    std::vector<CallEventPtr> out;
    for (const auto& e : state_->events) {
      if (e->session().session_id() == session_id) out.push_back(e);
    }
    return out;
  }

  std::vector<CallEventPtr> all() const {
    absl::MutexLock lock(&state_->mu);
    return state_->events;
  }

  // True once the session has an event showing `status`.
  bool WaitForStatus(const std::string& session_id, CallStatus status,
                     absl::Duration timeout = test::kWaitTimeout) const {
    return Wait(
        [&](const voip::v1::CallEvent& e) {
          return e.session().session_id() == session_id && e.session().status() == status;
        },
        timeout);
  }
  bool WaitForTerminal(const std::string& session_id,
                       absl::Duration timeout = test::kWaitTimeout) const {
    return Wait(
        [&](const voip::v1::CallEvent& e) {
          return e.session().session_id() == session_id && IsTerminal(e.session().status());
        },
        timeout);
  }

 private:
  struct State {
    void Drain() {
      absl::MutexLock lock(&mu);
      if (!sub) return;
      for (;;) {
        absl::StatusOr<CallEventPtr> next = sub->Next();
        if (!next.ok() || *next == nullptr) return;
        events.push_back(*next);
      }
    }
    absl::Mutex mu;
    SubscriptionPtr sub;
    std::vector<CallEventPtr> events;
  };

  bool Wait(std::function<bool(const voip::v1::CallEvent&)> match, absl::Duration timeout) const {
    absl::MutexLock lock(&state_->mu);
    auto found = [&] {
      for (const auto& e : state_->events) {
        if (match(*e)) return true;
      }
      return false;
    };
    return state_->mu.AwaitWithTimeout(absl::Condition(&found), timeout);
  }

  std::shared_ptr<State> state_;
};

std::string Describe(const std::vector<CallEventPtr>& events) {
  std::string out;
  for (const auto& e : events) {
    absl::StrAppend(&out, "\n  #", e->sequence(), " ", voip::v1::CallEventType_Name(e->type()), " ",
                    StatusName(e->session().status()));
  }
  return out;
}

std::vector<CallStatus> StatusesOf(const std::vector<CallEventPtr>& events) {
  std::vector<CallStatus> out;
  for (const auto& e : events) out.push_back(e->session().status());
  return out;
}

int TerminalCount(const std::vector<CallEventPtr>& events) {
  int n = 0;
  for (const auto& e : events) n += IsTerminal(e->session().status());
  return n;
}

voip::v1::StartCallRequest StartRequest(const std::string& number,
                                        const std::string& preferred_system = "",
                                        const std::string& request_id = "") {
  voip::v1::StartCallRequest request;
  request.mutable_to()->set_number(number);
  request.set_preferred_system(preferred_system);
  request.set_request_id(request_id);
  return request;
}

// The status's VoipError, or an empty one (error_code UNSPECIFIED).
voip::v1::VoipError ErrorOf(const absl::Status& status) {
  return GetVoipError(status).value_or(voip::v1::VoipError());
}

class CallControllerTest : public ::testing::Test {
 protected:
  using SessionResult = absl::StatusOr<CallSession>;

  CallControllerTest()
      : bus_(10000, 4096),
        registry_(&bus_, RegistryLimits{}),
        idempotency_(absl::Hours(1), 1000),
        recorder_(&bus_) {
    sandbox_ = MakeSandbox("sandbox", SandboxConfig());
    AddSystem("sandbox", "sandbox", sandbox_);
    controller_ = std::make_unique<CallController>(&registry_, &idempotency_, io_.io(),
                                                   Table(), ControllerLimits{kEndCallTimeout});
  }

  ~CallControllerTest() override {
    // Stop the io thread before anything its timers touch goes away.
    io_.Stop();
    for (auto& adapter : adapters_) adapter->Shutdown();
  }

  static voip::config::v1::SandboxAdapterConfig SandboxConfig() {
    voip::config::v1::SandboxAdapterConfig config;
    config.set_time_scale(100);
    return config;
  }

  adapters::AdapterPtr MakeSandbox(const std::string& name,
                                   const voip::config::v1::SandboxAdapterConfig& config) {
    adapters::AdapterContext context;
    context.system_name = name;
    context.events = &registry_;
    context.io = io_.io();
    auto adapter = std::make_shared<adapters::sandbox::SandboxAdapter>(config, context);
    adapters_.push_back(adapter);
    return adapter;
  }

  std::shared_ptr<test::TestAdapter> MakeFake(const std::string& name,
                                              test::TestAdapterOptions options = {}) {
    auto adapter = std::make_shared<test::TestAdapter>(name, &registry_, std::move(options));
    adapters_.push_back(adapter);
    return adapter;
  }

  void AddSystem(const std::string& name, const std::string& type, adapters::AdapterPtr adapter) {
    entries_[name] = SystemEntry{name, type, std::move(adapter), absl::StrCat(type, "/", name)};
  }

  SystemTablePtr Table(const std::string& default_system = "sandbox") const {
    return std::make_shared<const SystemTable>(entries_, default_system, "US",
                                               std::vector<RouteRule>{});
  }

  // Adds a TestAdapter system and makes it live.
  std::shared_ptr<test::TestAdapter> InstallFake(const std::string& name,
                                                 test::TestAdapterOptions options = {}) {
    auto fake = MakeFake(name, std::move(options));
    AddSystem(name, "test", fake);
    controller_->SetSystems(Table(), ControllerLimits{kEndCallTimeout});
    return fake;
  }

  // Runs one controller operation and waits for its callback.
  SessionResult Await(std::function<void(CallController::SessionCallback)> op,
                      absl::Duration timeout = test::kWaitTimeout) {
    struct State {
      absl::Notification done;
      SessionResult result = absl::UnknownError("callback not invoked");
      std::atomic<int> calls{0};
    };
    auto state = std::make_shared<State>();
    op([state](SessionResult result) {
      if (state->calls.fetch_add(1) == 0) {
        state->result = std::move(result);
        state->done.Notify();
      }
    });
    if (!state->done.WaitForNotificationWithTimeout(timeout)) {
      ADD_FAILURE() << "the controller never completed the callback";
      return absl::DeadlineExceededError("callback never completed");
    }
    return state->result;
  }

  SessionResult Start(const voip::v1::StartCallRequest& request) {
    return Await([&](auto done) { controller_->StartCall(request, std::move(done)); });
  }
  SessionResult End(const std::string& id) {
    voip::v1::EndCallRequest request;
    request.set_session_id(id);
    return Await([&](auto done) { controller_->EndCall(request, std::move(done)); });
  }
  SessionResult Hold(const std::string& id, bool on) {
    voip::v1::HoldRequest request;
    request.set_session_id(id);
    request.set_hold(on);
    return Await([&](auto done) { controller_->Hold(request, std::move(done)); });
  }
  SessionResult Mute(const std::string& id, bool on) {
    voip::v1::MuteRequest request;
    request.set_session_id(id);
    request.set_mute(on);
    return Await([&](auto done) { controller_->Mute(request, std::move(done)); });
  }
  CallSession Get(const std::string& id) {
    voip::v1::GetCallStatusRequest request;
    request.set_session_id(id);
    absl::StatusOr<CallSession> session = controller_->GetCallStatus(request);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.value_or(CallSession());
  }
  int CallCount() {
    absl::StatusOr<voip::v1::ListCallsResponse> list = registry_.List({});
    EXPECT_TRUE(list.ok());
    return list.ok() ? list->calls_size() : -1;
  }

  // A sandbox call that has reached CONNECTED.
  CallSession ConnectedSandboxCall() {
    SessionResult started = Start(StartRequest(kAnswers));
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return CallSession();
    EXPECT_TRUE(recorder_.WaitForStatus(started->session_id(), voip::v1::CALL_STATUS_CONNECTED))
        << Describe(recorder_.EventsFor(started->session_id()));
    return Get(started->session_id());
  }

  // A call on `fake` that the test answered.
  CallSession ConnectedFakeCall(test::TestAdapter* fake, const std::string& system) {
    SessionResult started = Start(StartRequest(kAnswers, system));
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return CallSession();
    fake->Answer(started->session_id());
    CallSession session = Get(started->session_id());
    EXPECT_EQ(session.status(), voip::v1::CALL_STATUS_CONNECTED);
    return session;
  }

  test::IoThread io_;  // first: destroyed last
  EventBus bus_;
  CallRegistry registry_;
  IdempotencyCache idempotency_;
  BusRecorder recorder_;
  std::vector<adapters::AdapterPtr> adapters_;
  std::map<std::string, SystemEntry> entries_;
  adapters::AdapterPtr sandbox_;
  std::unique_ptr<CallController> controller_;
};

// --- StartCall -----------------------------------------------------------

TEST_F(CallControllerTest, StartCallReturnsInitiatingWithProviderIdAndE164) {
  voip::v1::StartCallRequest request = StartRequest("+1 201-555-0100");
  (*request.mutable_labels())["crm"] = "42";
  SessionResult started;
  {
    test::IoPause pause(io_.io());  // the sandbox cannot ring before we look
    ASSERT_TRUE(pause.parked());
    started = Start(request);
  }
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_FALSE(started->session_id().empty());
  EXPECT_EQ(started->status(), voip::v1::CALL_STATUS_INITIATING);
  EXPECT_TRUE(absl::StartsWith(started->provider_call_id(), "sbx-")) << started->provider_call_id();
  EXPECT_EQ(started->to_normalized(), "+12015550100");
  EXPECT_EQ(started->to().number(), "+1 201-555-0100") << "the number as typed is kept";
  EXPECT_EQ(started->system_name(), "sandbox");
  EXPECT_EQ(started->direction(), voip::v1::CALL_DIRECTION_OUTBOUND);
  EXPECT_EQ(started->from(), "+12015550199") << "the adapter's default caller";
  EXPECT_EQ(started->labels().at("crm"), "42");
  EXPECT_TRUE(started->has_created_at());
  EXPECT_GT(started->last_sequence(), 0u);

  ASSERT_TRUE(recorder_.WaitForStatus(started->session_id(), voip::v1::CALL_STATUS_CONNECTED));
  EXPECT_THAT(StatusesOf(recorder_.EventsFor(started->session_id())),
              ElementsAre(voip::v1::CALL_STATUS_INITIATING, voip::v1::CALL_STATUS_RINGING,
                          voip::v1::CALL_STATUS_CONNECTED));
  ASSERT_TRUE(End(started->session_id()).ok());
}

TEST_F(CallControllerTest, StartCallNormalizesNationalNumbersWithTheDefaultRegion) {
  SessionResult started = Start(StartRequest("(201) 555-0100"));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->to_normalized(), "+12015550100");
  ASSERT_TRUE(End(started->session_id()).ok());
}

TEST_F(CallControllerTest, StartCallPassesTheDialRequestToTheAdapter) {
  auto fake = InstallFake("fake");
  voip::v1::StartCallRequest request = StartRequest("+1 201 555 0100", "fake");
  request.set_from("1001");
  request.mutable_ring_timeout()->set_seconds(7);
  (*request.mutable_labels())["k"] = "v";
  SessionResult started = Start(request);
  ASSERT_TRUE(started.ok()) << started.status();
  adapters::DialRequest dial = fake->last_dial();
  EXPECT_EQ(dial.session_id, started->session_id());
  EXPECT_EQ(dial.target_kind, adapters::TargetKind::kE164);
  EXPECT_EQ(dial.target, "+12015550100");
  EXPECT_EQ(dial.from, "1001");
  EXPECT_EQ(dial.ring_timeout, absl::Seconds(7));
  EXPECT_EQ(dial.contact.number(), "+1 201 555 0100");
  EXPECT_EQ(dial.labels.at("k"), "v");
  EXPECT_EQ(started->provider_call_id(), "test-1");
  EXPECT_EQ(started->from(), "1001");
}

TEST_F(CallControllerTest, SameRequestIdTwiceGivesOneCall) {
  auto fake = InstallFake("fake");
  const voip::v1::StartCallRequest request = StartRequest(kAnswers, "fake", "req-1");
  SessionResult first = Start(request);
  ASSERT_TRUE(first.ok()) << first.status();
  fake->Ring(first->session_id());
  SessionResult second = Start(request);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->session_id(), first->session_id());
  EXPECT_EQ(second->status(), voip::v1::CALL_STATUS_RINGING) << "a retry sees the call as it is now";
  EXPECT_EQ(fake->start_calls(), 1) << "a retry must never dial again";
  EXPECT_EQ(CallCount(), 1);
}

TEST_F(CallControllerTest, SameRequestIdTwiceOnTheSandboxGivesOneCall) {
  const voip::v1::StartCallRequest request = StartRequest(kAnswers, "", "req-sbx");
  SessionResult first = Start(request);
  SessionResult second = Start(request);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(second->session_id(), first->session_id());
  EXPECT_EQ(second->provider_call_id(), first->provider_call_id());
  EXPECT_EQ(CallCount(), 1);
  ASSERT_TRUE(End(first->session_id()).ok());
}

TEST_F(CallControllerTest, ConcurrentRetryWaitsForTheFirstStartCall) {
  test::TestAdapterOptions options;
  options.defer_start = true;  // the first StartCall is still running when the retry arrives
  auto fake = InstallFake("slow", options);
  const voip::v1::StartCallRequest request = StartRequest(kAnswers, "slow", "req-concurrent");

  struct Result {
    absl::Notification done;
    SessionResult session = absl::UnknownError("not completed");
  };
  Result results[2];
  std::latch go(2);
  std::vector<std::thread> threads;
  for (Result& r : results) {
    threads.emplace_back([&] {
      go.arrive_and_wait();
      controller_->StartCall(request, [&r](SessionResult session) {
        r.session = std::move(session);
        r.done.Notify();
      });
    });
  }
  for (auto& t : threads) t.join();
  // Both requests are in: one dialled, the other waits on its key.
  EXPECT_EQ(fake->start_calls(), 1);
  EXPECT_FALSE(results[0].done.HasBeenNotified() || results[1].done.HasBeenNotified())
      << "nothing can complete before the adapter answers StartCall";
  EXPECT_EQ(fake->CompleteStarts(), 1);
  for (Result& r : results) {
    ASSERT_TRUE(r.done.WaitForNotificationWithTimeout(test::kWaitTimeout));
    ASSERT_TRUE(r.session.ok()) << r.session.status();
  }
  EXPECT_EQ(results[0].session->session_id(), results[1].session->session_id());
  EXPECT_EQ(fake->start_calls(), 1);
  EXPECT_EQ(CallCount(), 1);
}

TEST_F(CallControllerTest, ManyThreadsRacingOneRequestIdGiveOneCall) {
  constexpr int kThreads = 8;
  const voip::v1::StartCallRequest request = StartRequest(kAnswers, "", "req-race");
  std::vector<SessionResult> results(kThreads, absl::UnknownError("not run"));
  std::latch go(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      results[i] = Start(request);
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->session_id(), results[0]->session_id());
  }
  EXPECT_EQ(CallCount(), 1);
  ASSERT_TRUE(End(results[0]->session_id()).ok());
}

TEST_F(CallControllerTest, SameRequestIdWithOtherParametersIsAMismatch) {
  SessionResult first = Start(StartRequest(kAnswers, "", "req-2"));
  ASSERT_TRUE(first.ok()) << first.status();
  SessionResult other = Start(StartRequest("+12015550199", "", "req-2"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(other.status()).error_code(), voip::v1::IDEMPOTENCY_MISMATCH) << other.status();
  EXPECT_EQ(ErrorOf(other.status()).field(), "request_id");
  EXPECT_EQ(CallCount(), 1);
  ASSERT_TRUE(End(first->session_id()).ok());
}

TEST_F(CallControllerTest, RetryAfterTheCallWasForgottenNamesRequestIdAndDoesNotDialAgain) {
  registry_.SetLimits(RegistryLimits{absl::Hours(1), /*max_ended_calls=*/0});
  SessionResult first = Start(StartRequest(kAnswers, "", "req-old"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(End(first->session_id()).ok());
  // The next call's creation prunes the ended one (max_ended_calls 0).
  SessionResult next = Start(StartRequest(kAnswers));
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(CallCount(), 1);

  SessionResult retry = Start(StartRequest(kAnswers, "", "req-old"));
  ASSERT_FALSE(retry.ok());
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kNotFound);
  const voip::v1::VoipError error = ErrorOf(retry.status());
  EXPECT_EQ(error.error_code(), voip::v1::SESSION_NOT_FOUND);
  EXPECT_EQ(error.field(), "request_id");
  EXPECT_EQ(error.session_id(), first->session_id());
  EXPECT_THAT(error.message(), HasSubstr("no longer kept"));
  EXPECT_THAT(error.message(), HasSubstr("not run again"));
  EXPECT_EQ(CallCount(), 1);  // nothing was dialled for the retry
  ASSERT_TRUE(End(next->session_id()).ok());
}

TEST_F(CallControllerTest, NetworkErrorFailsTheCallWithOneTerminalEvent) {
  SessionResult started = Start(StartRequest(kNetworkError));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kUnavailable);
  voip::v1::VoipError error = ErrorOf(started.status());
  EXPECT_EQ(error.error_code(), voip::v1::NETWORK_ERROR) << started.status();
  EXPECT_EQ(error.system_name(), "sandbox");
  ASSERT_FALSE(error.session_id().empty()) << "the error must name the call it created";

  CallSession call = Get(error.session_id());
  EXPECT_EQ(call.status(), voip::v1::CALL_STATUS_FAILED);
  EXPECT_EQ(call.end_reason().error_code(), voip::v1::NETWORK_ERROR);
  EXPECT_EQ(call.end_reason().source(), voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_TRUE(call.has_ended_at());

  ASSERT_TRUE(recorder_.WaitForTerminal(error.session_id()));
  auto events = recorder_.EventsFor(error.session_id());
  EXPECT_THAT(StatusesOf(events),
              ElementsAre(voip::v1::CALL_STATUS_INITIATING, voip::v1::CALL_STATUS_FAILED))
      << Describe(events);
  EXPECT_EQ(TerminalCount(events), 1);
}

TEST_F(CallControllerTest, FailedStartCallRetryReplaysTheErrorWithoutDialling) {
  test::TestAdapterOptions options;
  options.start_error = NetworkError("down", "test: unreachable");
  auto fake = InstallFake("down", options);
  const voip::v1::StartCallRequest request = StartRequest(kAnswers, "down", "req-fail");
  SessionResult first = Start(request);
  SessionResult retry = Start(request);
  ASSERT_FALSE(first.ok());
  ASSERT_FALSE(retry.ok());
  EXPECT_EQ(ErrorOf(retry.status()).error_code(), voip::v1::NETWORK_ERROR);
  EXPECT_EQ(ErrorOf(retry.status()).session_id(), ErrorOf(first.status()).session_id());
  EXPECT_EQ(fake->start_calls(), 1);
  EXPECT_EQ(CallCount(), 1);
}

TEST_F(CallControllerTest, InvalidNumberNamesToNumberAndCreatesNothing) {
  SessionResult started = Start(StartRequest("not-a-number"));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(started.status()).error_code(), voip::v1::INVALID_NUMBER) << started.status();
  EXPECT_EQ(ErrorOf(started.status()).field(), "to.number");
  EXPECT_EQ(CallCount(), 0);
  EXPECT_TRUE(recorder_.all().empty()) << Describe(recorder_.all());
}

TEST_F(CallControllerTest, SipUriOnASystemWithoutUriSupportIsInvalidNumber) {
  SessionResult started = Start(StartRequest("sip:alice@example.com"));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
  voip::v1::VoipError error = ErrorOf(started.status());
  EXPECT_EQ(error.error_code(), voip::v1::INVALID_NUMBER) << started.status();
  EXPECT_EQ(error.field(), "to.number");
  EXPECT_THAT(error.message(), HasSubstr("to.number"));
  EXPECT_THAT(error.message(), HasSubstr("SIP URI"));
  EXPECT_EQ(CallCount(), 0);

  SessionResult extension = Start(StartRequest("1001"));
  ASSERT_FALSE(extension.ok());
  EXPECT_EQ(ErrorOf(extension.status()).error_code(), voip::v1::INVALID_NUMBER);
  EXPECT_EQ(ErrorOf(extension.status()).field(), "to.number");
}

TEST_F(CallControllerTest, SipUriOnASystemThatAcceptsThem) {
  voip::config::v1::SandboxAdapterConfig config = SandboxConfig();
  config.set_accept_sip_uri(true);
  AddSystem("pbx", "sandbox", MakeSandbox("pbx", config));
  controller_->SetSystems(Table(), ControllerLimits{kEndCallTimeout});
  SessionResult started = Start(StartRequest("sip:alice@example.com", "pbx"));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->to_normalized(), "sip:alice@example.com");
  EXPECT_EQ(started->system_name(), "pbx");
  ASSERT_TRUE(End(started->session_id()).ok());
}

TEST_F(CallControllerTest, UnknownPreferredSystem) {
  SessionResult started = Start(StartRequest(kAnswers, "ghost"));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(ErrorOf(started.status()).error_code(), voip::v1::UNKNOWN_SYSTEM) << started.status();
  EXPECT_EQ(CallCount(), 0);
}

// --- Hold and Mute -------------------------------------------------------

TEST_F(CallControllerTest, HoldAndMuteWhileRingingAreInvalidState) {
  SessionResult started = Start(StartRequest(kNoAnswer));
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->session_id();
  ASSERT_TRUE(recorder_.WaitForStatus(id, voip::v1::CALL_STATUS_RINGING));

  for (SessionResult result : {Hold(id, true), Mute(id, true)}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
    EXPECT_EQ(ErrorOf(result.status()).error_code(), voip::v1::INVALID_STATE);
    EXPECT_EQ(ErrorOf(result.status()).session_id(), id);
  }
  EXPECT_EQ(Get(id).status(), voip::v1::CALL_STATUS_RINGING);
  ASSERT_TRUE(End(id).ok());
}

TEST_F(CallControllerTest, HoldAndMuteOnASystemWithoutThemAreUnsupported) {
  test::TestAdapterOptions options;
  options.capabilities.can_hold = false;
  options.capabilities.can_mute = false;
  auto fake = InstallFake("basic", options);
  CallSession call = ConnectedFakeCall(fake.get(), "basic");

  for (SessionResult result : {Hold(call.session_id(), true), Mute(call.session_id(), true)}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnimplemented) << result.status();
    EXPECT_EQ(ErrorOf(result.status()).error_code(), voip::v1::UNSUPPORTED_OPERATION);
    EXPECT_EQ(ErrorOf(result.status()).system_name(), "basic");
  }
  EXPECT_EQ(fake->hold_calls(), 0);
  EXPECT_EQ(fake->mute_calls(), 0);
  EXPECT_EQ(Get(call.session_id()).status(), voip::v1::CALL_STATUS_CONNECTED);
}

TEST_F(CallControllerTest, EndCallOnASystemThatCannotEndIsUnsupported) {
  test::TestAdapterOptions options;
  options.capabilities.can_end = false;
  auto fake = InstallFake("oneway", options);
  CallSession call = ConnectedFakeCall(fake.get(), "oneway");
  SessionResult result = End(call.session_id());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnimplemented) << result.status();
  EXPECT_EQ(ErrorOf(result.status()).error_code(), voip::v1::UNSUPPORTED_OPERATION);
  EXPECT_EQ(ErrorOf(result.status()).system_name(), "oneway");
  EXPECT_EQ(fake->end_calls(), 0);
  EXPECT_EQ(Get(call.session_id()).status(), voip::v1::CALL_STATUS_CONNECTED);
}

TEST_F(CallControllerTest, RefusedHoldIsProviderErrorAndLeavesTheCallAsItWas) {
  test::TestAdapterOptions options;
  options.reject_hold_and_mute = true;
  auto fake = InstallFake("picky", options);
  CallSession call = ConnectedFakeCall(fake.get(), "picky");
  const size_t events_before = recorder_.EventsFor(call.session_id()).size();

  SessionResult held = Hold(call.session_id(), true);
  ASSERT_FALSE(held.ok());
  EXPECT_EQ(held.status().code(), absl::StatusCode::kUnavailable) << held.status();
  voip::v1::VoipError error = ErrorOf(held.status());
  EXPECT_EQ(error.error_code(), voip::v1::PROVIDER_ERROR);
  EXPECT_EQ(error.session_id(), call.session_id());
  EXPECT_EQ(error.system_name(), "picky");
  EXPECT_EQ(error.provider_cause().sip_code(), 488);
  EXPECT_EQ(fake->hold_calls(), 1);

  CallSession after = Get(call.session_id());
  EXPECT_EQ(after.status(), voip::v1::CALL_STATUS_CONNECTED);
  EXPECT_FALSE(after.on_hold());
  EXPECT_EQ(after.last_sequence(), call.last_sequence());
  EXPECT_EQ(recorder_.EventsFor(call.session_id()).size(), events_before);

  SessionResult muted = Mute(call.session_id(), true);
  ASSERT_FALSE(muted.ok());
  EXPECT_EQ(ErrorOf(muted.status()).error_code(), voip::v1::PROVIDER_ERROR);
  EXPECT_FALSE(Get(call.session_id()).muted());
}

TEST_F(CallControllerTest, HoldWhenAlreadyOnHoldDoesNotCallTheAdapter) {
  auto fake = InstallFake("fake");
  CallSession call = ConnectedFakeCall(fake.get(), "fake");

  SessionResult held = Hold(call.session_id(), true);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->status(), voip::v1::CALL_STATUS_ON_HOLD);
  EXPECT_TRUE(held->on_hold());
  EXPECT_EQ(fake->hold_calls(), 1);

  SessionResult again = Hold(call.session_id(), true);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status(), voip::v1::CALL_STATUS_ON_HOLD);
  EXPECT_EQ(again->last_sequence(), held->last_sequence());
  EXPECT_EQ(fake->hold_calls(), 1) << "already on hold: nothing to ask the provider";

  SessionResult resumed = Hold(call.session_id(), false);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->status(), voip::v1::CALL_STATUS_CONNECTED);
  EXPECT_EQ(fake->hold_calls(), 2);

  SessionResult unmute = Mute(call.session_id(), false);  // not muted: nothing to do
  ASSERT_TRUE(unmute.ok());
  EXPECT_EQ(fake->mute_calls(), 0);
}

TEST_F(CallControllerTest, SandboxHoldResumeMuteThroughTheController) {
  CallSession call = ConnectedSandboxCall();
  const std::string id = call.session_id();
  SessionResult held = Hold(id, true);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->status(), voip::v1::CALL_STATUS_ON_HOLD) << "confirmed before the reply";
  SessionResult resumed = Hold(id, false);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->status(), voip::v1::CALL_STATUS_CONNECTED);
  SessionResult muted = Mute(id, true);
  ASSERT_TRUE(muted.ok()) << muted.status();
  EXPECT_TRUE(muted->muted());
  EXPECT_EQ(muted->status(), voip::v1::CALL_STATUS_CONNECTED);
  ASSERT_TRUE(End(id).ok());
  auto events = recorder_.EventsFor(id);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2]->type(), voip::v1::CALL_EVENT_TYPE_MUTE_CHANGED)
      << Describe(events);
}

TEST_F(CallControllerTest, HoldAfterEndIsInvalidState) {
  CallSession call = ConnectedSandboxCall();
  ASSERT_TRUE(End(call.session_id()).ok());
  SessionResult held = Hold(call.session_id(), true);
  ASSERT_FALSE(held.ok());
  EXPECT_EQ(ErrorOf(held.status()).error_code(), voip::v1::INVALID_STATE) << held.status();
  EXPECT_EQ(held.status().code(), absl::StatusCode::kFailedPrecondition);
}

// --- EndCall -------------------------------------------------------------

TEST_F(CallControllerTest, EndCallOnAnEndedCallReturnsItUnchanged) {
  CallSession call = ConnectedSandboxCall();
  SessionResult ended = End(call.session_id());
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(ended->end_reason().source(), voip::v1::HANGUP_SOURCE_LOCAL);
  EXPECT_EQ(ended->end_reason().error_code(), voip::v1::ERROR_CODE_UNSPECIFIED);
  EXPECT_TRUE(ended->has_ended_at());

  SessionResult again = End(call.session_id());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*again, *ended))
      << again->DebugString() << "\nvs\n" << ended->DebugString();
  EXPECT_EQ(TerminalCount(recorder_.EventsFor(call.session_id())), 1);
}

TEST_F(CallControllerTest, EndCallOnAnUnknownSessionIsNotFound) {
  SessionResult ended = End("no-such-session");
  ASSERT_FALSE(ended.ok());
  EXPECT_EQ(ended.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(ended.status()).error_code(), voip::v1::SESSION_NOT_FOUND);
  EXPECT_EQ(ErrorOf(ended.status()).session_id(), "no-such-session");

  SessionResult empty = End("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(ErrorOf(empty.status()).error_code(), voip::v1::INVALID_ARGUMENT);
  EXPECT_EQ(ErrorOf(empty.status()).field(), "session_id");
}

TEST_F(CallControllerTest, EndCallEndsLocallyWhenTheProviderNeverConfirms) {
  test::TestAdapterOptions options;
  options.swallow_end = true;
  auto fake = InstallFake("silent", options);
  CallSession call = ConnectedFakeCall(fake.get(), "silent");

  SessionResult ended = End(call.session_id());  // completes after end_call_timeout
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(fake->end_calls(), 1);
  EXPECT_EQ(ended->status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(ended->end_reason().source(), voip::v1::HANGUP_SOURCE_LOCAL);
  EXPECT_EQ(ended->end_reason().error_code(), voip::v1::ERROR_CODE_UNSPECIFIED);
  EXPECT_THAT(ended->end_reason().message(), HasSubstr("ended locally"));
  auto events = recorder_.EventsFor(call.session_id());
  EXPECT_EQ(TerminalCount(events), 1) << Describe(events);

  // A confirmation arriving late changes nothing.
  fake->EndRemote(call.session_id(), adapters::EndOutcome::kBusy);
  EXPECT_EQ(Get(call.session_id()).status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(TerminalCount(recorder_.EventsFor(call.session_id())), 1);
}

TEST_F(CallControllerTest, EndCallIsIdempotentByRequestId) {
  auto fake = InstallFake("fake");
  CallSession call = ConnectedFakeCall(fake.get(), "fake");
  voip::v1::EndCallRequest request;
  request.set_session_id(call.session_id());
  request.set_request_id("end-1");
  SessionResult first = Await([&](auto done) { controller_->EndCall(request, std::move(done)); });
  SessionResult second = Await([&](auto done) { controller_->EndCall(request, std::move(done)); });
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(second->status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(fake->end_calls(), 1);
}

TEST_F(CallControllerTest, EndCallAnswersTheEndedCallEvenIfRetentionForgotItAtOnce) {
  // Retention keeps no ended calls, and another call is created between the
  // provider's confirmation and EndCall's callback (two clients at once): the
  // ended call is pruned before the provider's answer. EndCall still answers
  // with the ended call, taken as it ended: the hangup worked.
  registry_.SetLimits(RegistryLimits{absl::Hours(1), /*max_ended_calls=*/0});
  test::TestAdapterOptions options;
  options.after_end_event = [this](const std::string&) {
    voip::v1::StartCallRequest other = StartRequest(kAnswers);
    controller_->StartCall(other, [](SessionResult) {});
  };
  auto fake = InstallFake("fake", options);
  CallSession call = ConnectedFakeCall(fake.get(), "fake");
  voip::v1::EndCallRequest request;
  request.set_session_id(call.session_id());
  // The callback is due at once: nothing is left to wait for.
  SessionResult ended = Await(
      [&](auto done) { controller_->EndCall(request, std::move(done)); }, absl::Seconds(2));
  EXPECT_EQ(fake->end_calls(), 1);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->session_id(), call.session_id());
  EXPECT_EQ(ended->status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(ended->end_reason().source(), voip::v1::HANGUP_SOURCE_LOCAL);
  EXPECT_EQ(CallCount(), 1);  // only the other call is kept: this one was pruned
}

// --- Shutdown ------------------------------------------------------------

TEST_F(CallControllerTest, EndAllCallsEndsEverything) {
  test::TestAdapterOptions options;
  options.swallow_end = true;
  auto silent = InstallFake("silent", options);
  CallSession talking = ConnectedSandboxCall();
  SessionResult ringing = Start(StartRequest(kNoAnswer));
  ASSERT_TRUE(ringing.ok());
  CallSession stuck = ConnectedFakeCall(silent.get(), "silent");

  absl::Notification all_ended;
  controller_->EndAllCalls(absl::Milliseconds(200), [&] { all_ended.Notify(); });
  ASSERT_TRUE(all_ended.WaitForNotificationWithTimeout(test::kWaitTimeout));

  // Ended through their adapters (the sandbox confirms at once) or locally
  // after the grace period (the silent adapter): either way voipd, not the
  // client, ended them (README: DAEMON_SHUTDOWN with source SYSTEM).
  for (const std::string& id :
       {talking.session_id(), ringing->session_id(), stuck.session_id()}) {
    CallSession s = Get(id);
    EXPECT_EQ(s.status(), voip::v1::CALL_STATUS_DISCONNECTED) << id;
    EXPECT_EQ(s.end_reason().error_code(), voip::v1::DAEMON_SHUTDOWN) << s.ShortDebugString();
    EXPECT_EQ(s.end_reason().source(), voip::v1::HANGUP_SOURCE_SYSTEM) << s.ShortDebugString();
    EXPECT_EQ(TerminalCount(recorder_.EventsFor(id)), 1) << Describe(recorder_.EventsFor(id));
  }
  EXPECT_EQ(silent->end_calls(), 1) << "the adapter is asked first";
  EXPECT_TRUE(registry_.ActiveCalls().empty());
}

TEST_F(CallControllerTest, EndAllCallsForcesTheEndOnlyAfterTheGrace) {
  test::TestAdapterOptions options;
  options.swallow_end = true;
  auto silent = InstallFake("silent", options);
  CallSession stuck = ConnectedFakeCall(silent.get(), "silent");
  CallSession confirmed = ConnectedFakeCall(InstallFake("fake").get(), "fake");

  absl::Notification all_ended;
  controller_->EndAllCalls(test::kWaitTimeout * 10, [&] { all_ended.Notify(); });
  // The confirming adapter's call ends at once; the silent one waits for its
  // provider (or the long grace), so EndAllCalls is not done yet.
  EXPECT_EQ(Get(confirmed.session_id()).status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(Get(stuck.session_id()).status(), voip::v1::CALL_STATUS_CONNECTED);
  EXPECT_FALSE(all_ended.HasBeenNotified());
  // A late confirmation completes it.
  silent->EndRemote(stuck.session_id(), adapters::EndOutcome::kDisconnected);
  ASSERT_TRUE(all_ended.WaitForNotificationWithTimeout(test::kWaitTimeout));
  EXPECT_EQ(Get(stuck.session_id()).status(), voip::v1::CALL_STATUS_DISCONNECTED);
}

TEST_F(CallControllerTest, EndAllCallsWithNoCallsCompletesAtOnce) {
  absl::Notification done;
  controller_->EndAllCalls(absl::Seconds(5), [&] { done.Notify(); });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(test::kWaitTimeout));
}

TEST_F(CallControllerTest, BeginShutdownRefusesNewCalls) {
  CallSession live = ConnectedSandboxCall();
  controller_->BeginShutdown();
  SessionResult started = Start(StartRequest(kAnswers));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kUnavailable) << started.status();
  EXPECT_EQ(CallCount(), 1);
  // Existing calls can still be controlled and ended.
  ASSERT_TRUE(Hold(live.session_id(), true).ok());
  SessionResult ended = End(live.session_id());
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->status(), voip::v1::CALL_STATUS_DISCONNECTED);
}

TEST_F(CallControllerTest, StartCallRefusedForShutdownCarriesAVoipError) {
  // README "Errors": every error is a gRPC status plus a voip.v1.VoipError.
  controller_->BeginShutdown();
  SessionResult started = Start(StartRequest(kAnswers));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kUnavailable);
  std::optional<voip::v1::VoipError> error = GetVoipError(started.status());
  ASSERT_TRUE(error.has_value()) << "no VoipError on " << started.status();
  EXPECT_EQ(error->error_code(), voip::v1::DAEMON_SHUTDOWN);
}

// --- Capabilities and reload ---------------------------------------------

TEST_F(CallControllerTest, GetCapabilitiesReportsSystems) {
  voip::config::v1::SandboxAdapterConfig sick = SandboxConfig();
  sick.set_simulate_unhealthy(true);
  sick.set_accept_extension(true);
  AddSystem("sick", "sandbox", MakeSandbox("sick", sick));
  test::TestAdapterOptions options;
  options.capabilities.can_hold = false;
  options.capabilities.can_mute = false;
  options.capabilities.accepts_sip_uri = true;
  auto fake = InstallFake("basic", options);
  adapters::Health degraded;
  degraded.state = adapters::Health::State::kDegraded;
  degraded.message = "reconnecting";
  fake->set_health(degraded);

  SessionResult ringing = Start(StartRequest(kNoAnswer));
  ASSERT_TRUE(ringing.ok());
  SessionResult on_fake = Start(StartRequest(kAnswers, "basic"));
  ASSERT_TRUE(on_fake.ok());
  SessionResult ended = Start(StartRequest(kAnswers));
  ASSERT_TRUE(ended.ok());
  ASSERT_TRUE(End(ended->session_id()).ok());

  voip::v1::GetCapabilitiesResponse caps = controller_->GetCapabilities();
  EXPECT_EQ(caps.default_system(), "sandbox");
  std::map<std::string, voip::v1::SystemCapabilities> by_name;
  for (const auto& s : caps.systems()) by_name[s.name()] = s;
  ASSERT_EQ(by_name.size(), 3u) << caps.DebugString();

  const auto& sandbox = by_name["sandbox"];
  EXPECT_EQ(sandbox.type(), "sandbox");
  EXPECT_TRUE(sandbox.is_default());
  EXPECT_TRUE(sandbox.can_end() && sandbox.can_hold() && sandbox.can_mute());
  EXPECT_FALSE(sandbox.accepts_sip_uri());
  EXPECT_EQ(sandbox.health().state(), voip::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(sandbox.active_calls(), 1) << "one ringing; the ended call does not count";

  const auto& basic = by_name["basic"];
  EXPECT_EQ(basic.type(), "test");
  EXPECT_FALSE(basic.is_default());
  EXPECT_FALSE(basic.can_hold());
  EXPECT_FALSE(basic.can_mute());
  EXPECT_TRUE(basic.accepts_sip_uri());
  EXPECT_EQ(basic.health().state(), voip::v1::HEALTH_STATE_DEGRADED);
  EXPECT_EQ(basic.health().message(), "reconnecting");
  EXPECT_EQ(basic.active_calls(), 1);

  const auto& unhealthy = by_name["sick"];
  EXPECT_EQ(unhealthy.health().state(), voip::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_FALSE(unhealthy.health().message().empty());
  EXPECT_TRUE(unhealthy.accepts_extension());
  EXPECT_EQ(unhealthy.active_calls(), 0);

  ASSERT_TRUE(End(ringing->session_id()).ok());
  ASSERT_TRUE(End(on_fake->session_id()).ok());
  const voip::v1::GetCapabilitiesResponse after = controller_->GetCapabilities();
  for (const auto& s : after.systems()) {
    EXPECT_EQ(s.active_calls(), 0) << s.name();
  }
}

TEST_F(CallControllerTest, ReloadKeepsLiveCallsOnTheirOldAdapter) {
  CallSession live = ConnectedSandboxCall();

  // The new table no longer has "sandbox": a fresh "other" instance only.
  std::map<std::string, SystemEntry> fresh;
  adapters::AdapterPtr other = MakeSandbox("other", SandboxConfig());
  fresh["other"] = SystemEntry{"other", "sandbox", other, "sandbox/other"};
  controller_->SetSystems(
      std::make_shared<const SystemTable>(fresh, "other", "US", std::vector<RouteRule>{}),
      ControllerLimits{kEndCallTimeout});

  SessionResult held = Hold(live.session_id(), true);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->status(), voip::v1::CALL_STATUS_ON_HOLD);
  EXPECT_EQ(held->system_name(), "sandbox");

  SessionResult next = Start(StartRequest(kAnswers));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->system_name(), "other");
  SessionResult old_system = Start(StartRequest(kAnswers, "sandbox"));
  ASSERT_FALSE(old_system.ok());
  EXPECT_EQ(ErrorOf(old_system.status()).error_code(), voip::v1::UNKNOWN_SYSTEM);

  voip::v1::GetCapabilitiesResponse caps = controller_->GetCapabilities();
  ASSERT_EQ(caps.systems_size(), 1);
  EXPECT_EQ(caps.systems(0).name(), "other");
  EXPECT_EQ(caps.default_system(), "other");

  SessionResult ended = End(live.session_id());
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(ended->end_reason().error_code(), voip::v1::ERROR_CODE_UNSPECIFIED)
      << "the old adapter confirmed the hangup: " << ended->end_reason().message();
  ASSERT_TRUE(End(next->session_id()).ok());
}

TEST_F(CallControllerTest, ReloadChangesTheEndCallTimeout) {
  test::TestAdapterOptions options;
  options.swallow_end = true;
  auto fake = InstallFake("silent", options);
  controller_->SetSystems(Table(), ControllerLimits{absl::Milliseconds(50)});
  CallSession call = ConnectedFakeCall(fake.get(), "silent");
  SessionResult ended = End(call.session_id());
  ASSERT_TRUE(ended.ok());
  EXPECT_THAT(ended->end_reason().message(), HasSubstr("50ms"));
}

}  // namespace
}  // namespace voipd

// --- Inbound calls and identity targets (adapters::CallHost) ---------------

namespace voipd {
namespace {

TEST_F(CallControllerTest, InboundCallIsAnnouncedInitiatingThenRinging) {
  auto fake = InstallFake("fake");
  adapters::InboundCall call{"prov-in-1", "+12015550111", "1001", {{"queue", "sales"}}};
  absl::StatusOr<CallSession> accepted = controller_->AcceptInbound("fake", call);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->direction(), voip::v1::CALL_DIRECTION_INBOUND);
  EXPECT_EQ(accepted->status(), voip::v1::CALL_STATUS_RINGING);
  EXPECT_EQ(accepted->provider_call_id(), "prov-in-1");
  EXPECT_EQ(accepted->from(), "+12015550111");
  EXPECT_EQ(accepted->to().number(), "1001");
  EXPECT_EQ(accepted->labels().at("queue"), "sales");
  ASSERT_TRUE(recorder_.WaitForStatus(accepted->session_id(), voip::v1::CALL_STATUS_RINGING));
  EXPECT_THAT(StatusesOf(recorder_.EventsFor(accepted->session_id())),
              ElementsAre(voip::v1::CALL_STATUS_INITIATING, voip::v1::CALL_STATUS_RINGING));
  // The API controls it like any other call: EndCall reaches the adapter.
  SessionResult ended = End(accepted->session_id());
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(TerminalCount(recorder_.EventsFor(accepted->session_id())), 1);
}

TEST_F(CallControllerTest, InboundCallOnAnUnknownSystemIsAConfigurationError) {
  absl::StatusOr<CallSession> accepted =
      controller_->AcceptInbound("nope", adapters::InboundCall{"p", "+12015550111", "1001", {}});
  ASSERT_FALSE(accepted.ok());
  EXPECT_EQ(ErrorOf(accepted.status()).error_code(), voip::v1::CONFIGURATION_ERROR);
  EXPECT_EQ(CallCount(), 0);
}

TEST_F(CallControllerTest, InboundCallWithBadFieldsNamesTheField) {
  InstallFake("fake");
  struct Case {
    adapters::InboundCall call;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{"p", "+12015550111", "", {}}, "to"},
      {{"p", "bad\x01" "caller", "1001", {}}, "from"},
      {{std::string(300, 'x'), "a", "1001", {}}, "provider_call_id"},
      {{"p", "a", "1001", {{"", "v"}}}, "labels"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CallSession> accepted = controller_->AcceptInbound("fake", c.call);
    ASSERT_FALSE(accepted.ok()) << c.field;
    EXPECT_EQ(accepted.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(ErrorOf(accepted.status()).field(), c.field);
  }
  EXPECT_EQ(CallCount(), 0);
}

TEST_F(CallControllerTest, InboundCallDuringShutdownIsRefused) {
  InstallFake("fake");
  controller_->BeginShutdown();
  absl::StatusOr<CallSession> accepted =
      controller_->AcceptInbound("fake", adapters::InboundCall{"p", "+12015550111", "1001", {}});
  ASSERT_FALSE(accepted.ok());
  EXPECT_EQ(ErrorOf(accepted.status()).error_code(), voip::v1::DAEMON_SHUTDOWN);
}

TEST_F(CallControllerTest, IdentityTargetNeedsASystemThatAcceptsIdentities) {
  InstallFake("fake");
  SessionResult refused = Start(StartRequest("alice", "fake"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(ErrorOf(refused.status()).error_code(), voip::v1::INVALID_NUMBER);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("endpoint names"));

  test::TestAdapterOptions options;
  options.capabilities.accepts_identity = true;
  auto agents = InstallFake("agents", options);
  SessionResult started = Start(StartRequest("alice", "agents"));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(agents->last_dial().target_kind, adapters::TargetKind::kIdentity);
  EXPECT_EQ(agents->last_dial().target, "alice");
  EXPECT_EQ(started->to_normalized(), "alice");
}

}  // namespace
}  // namespace voipd

namespace voipd {
namespace {

TEST_F(CallControllerTest, SimulateInboundCallOnTheSandboxAndUnsupportedElsewhere) {
  InstallFake("fake");
  voip::v1::SimulateInboundCallRequest request;
  request.set_system_name("fake");
  request.set_from("+12015550111");
  request.set_to("1001");
  SessionResult refused = Await([&](auto done) {
    controller_->SimulateInboundCall(request, std::move(done));
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(ErrorOf(refused.status()).error_code(), voip::v1::UNSUPPORTED_OPERATION);
  request.set_system_name("nope");
  SessionResult unknown = Await([&](auto done) {
    controller_->SimulateInboundCall(request, std::move(done));
  });
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(ErrorOf(unknown.status()).error_code(), voip::v1::UNKNOWN_SYSTEM);
  request.set_system_name("");  // the default: sandbox (no host here)
  request.set_to("");
  SessionResult empty_to = Await([&](auto done) {
    controller_->SimulateInboundCall(request, std::move(done));
  });
  ASSERT_FALSE(empty_to.ok());
  EXPECT_EQ(ErrorOf(empty_to.status()).field(), "to");
}

TEST_F(CallControllerTest, ListCallsFiltersByNumberAsTypedOrNormalized) {
  SessionResult a = Start(StartRequest("(201) 555-0100"));
  SessionResult b = Start(StartRequest("+12015550101"));
  ASSERT_TRUE(a.ok() && b.ok());
  voip::v1::ListCallsRequest request;
  request.set_number("+1 201 555 0100");
  absl::StatusOr<voip::v1::ListCallsResponse> listed = controller_->ListCalls(request);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->calls_size(), 1);
  EXPECT_EQ(listed->calls(0).session_id(), a->session_id());
  request.set_number("");
  request.set_direction(voip::v1::CALL_DIRECTION_INBOUND);
  EXPECT_EQ(controller_->ListCalls(request)->calls_size(), 0);
  request.set_direction(voip::v1::CALL_DIRECTION_OUTBOUND);
  EXPECT_EQ(controller_->ListCalls(request)->calls_size(), 2);
}

}  // namespace
}  // namespace voipd
