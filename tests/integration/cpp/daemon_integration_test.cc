// The voip.v1 API driven with the generated C++ stub against the real voipd
// binary (env VOIPD_BIN). Each test gets its own daemon on a free loopback
// port, so sequence numbers start at 1 and nothing leaks between tests.
// Waits are deadline-bounded (condition variables, or polls with a deadline);
// the sandbox runs with time_scale 20 so a whole call takes well under a
// second.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/cpp/event_stream.h"
#include "tests/integration/cpp/voipd_process.h"
#include "voip/v1/voip_service.grpc.pb.h"

namespace voipd::integration {
namespace {

using voip::v1::CallEvent;
using voip::v1::CallSession;

constexpr char kAnswers[] = "+12015550100";
constexpr char kBusy[] = "+12015550101";
constexpr char kNoAnswer[] = "+12015550102";
constexpr char kProviderFailure[] = "+12015550103";
constexpr char kRemoteHangup[] = "+12015550104";
constexpr char kNetworkError[] = "+12015550105";

// Interval of deadline-bounded polls of RPC results and the daemon's log.
constexpr auto kPollInterval = std::chrono::milliseconds(20);

std::string Config(int window = 10000, const std::string& extra_systems = "") {
  return absl::StrCat(
      "listen: [\"127.0.0.1:0\"]\n"
      "default_region: US\n"
      "default_system: sandbox\n"
      "systems:\n"
      "  sandbox: { type: sandbox, time_scale: 20 }\n",
      extra_systems, "events: { window: ", window, " }\n");
}

// Calls `fn` until it returns true or `timeout` passes.
bool PollUntil(const std::function<bool()>& fn, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (fn()) return true;
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::vector<uint64_t> Sequences(const std::vector<CallEvent>& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) out.push_back(e.sequence());
  return out;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// (sequence, type, status) of each event: what two views must agree on.
std::vector<std::tuple<uint64_t, int, int>> Keys(const std::vector<CallEvent>& events) {
  std::vector<std::tuple<uint64_t, int, int>> out;
  for (const auto& e : events) out.emplace_back(e.sequence(), e.type(), e.session().status());
  return out;
}

std::vector<CallEvent> EventsOf(const std::vector<CallEvent>& events, const std::string& id) {
  std::vector<CallEvent> out;
  for (const auto& e : events) {
    if (e.session().session_id() == id) out.push_back(e);
  }
  return out;
}

class DaemonIntegrationTest : public ::testing::Test {
 protected:
  void StartDaemon(const std::string& config = Config()) {
    daemon_ = std::make_unique<VoipdProcess>(config);
    std::string error;
    ASSERT_TRUE(daemon_->Start(&error)) << error;
    channel_ = grpc::CreateChannel(daemon_->address(), grpc::InsecureChannelCredentials());
    stub_ = voip::v1::VoipService::NewStub(channel_);
  }

  void TearDown() override {
    streams_.clear();  // cancels what is still open
    stub_.reset();
    channel_.reset();
    if (daemon_ && daemon_->Running()) {
      std::optional<int> rc = daemon_->Stop();
      EXPECT_EQ(rc, std::optional<int>(0)) << "voipd on SIGTERM:\n" << daemon_->Stderr();
    }
  }

  // --- RPCs, each with a deadline --------------------------------------------

  grpc::Status StartCall(const voip::v1::StartCallRequest& request, CallSession* session) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(kRpcTimeout));
    return stub_->StartCall(&ctx, request, session);
  }
  CallSession MustStart(const std::string& number, const std::string& preferred_system = "") {
    voip::v1::StartCallRequest request;
    request.mutable_to()->set_number(number);
    request.set_preferred_system(preferred_system);
    CallSession session;
    grpc::Status status = StartCall(request, &session);
    EXPECT_TRUE(status.ok()) << "StartCall " << number << ": " << status.error_message();
    return session;
  }
  grpc::Status EndCall(const std::string& id, CallSession* session) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(kRpcTimeout));
    voip::v1::EndCallRequest request;
    request.set_session_id(id);
    return stub_->EndCall(&ctx, request, session);
  }
  CallSession MustEnd(const std::string& id) {
    CallSession session;
    grpc::Status status = EndCall(id, &session);
    EXPECT_TRUE(status.ok()) << "EndCall: " << status.error_message();
    return session;
  }
  grpc::Status Hold(const std::string& id, bool on, CallSession* session) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(kRpcTimeout));
    voip::v1::HoldRequest request;
    request.set_session_id(id);
    request.set_hold(on);
    return stub_->Hold(&ctx, request, session);
  }
  grpc::Status Mute(const std::string& id, bool on, CallSession* session) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(kRpcTimeout));
    voip::v1::MuteRequest request;
    request.set_session_id(id);
    request.set_mute(on);
    return stub_->Mute(&ctx, request, session);
  }
  grpc::Status Get(const std::string& id, CallSession* session) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(kRpcTimeout));
    voip::v1::GetCallStatusRequest request;
    request.set_session_id(id);
    return stub_->GetCallStatus(&ctx, request, session);
  }
  std::set<std::string> SystemNames(std::string* default_system = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(kRpcTimeout));
    voip::v1::GetCapabilitiesResponse caps;
    grpc::Status status = stub_->GetCapabilities(&ctx, voip::v1::GetCapabilitiesRequest(), &caps);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::set<std::string> names;
    for (const auto& s : caps.systems()) names.insert(s.name());
    if (default_system) *default_system = caps.default_system();
    return names;
  }

  // Polls GetCallStatus until the call is terminal; returns it.
  CallSession WaitTerminal(const std::string& id) {
    CallSession session;
    EXPECT_TRUE(PollUntil([&] { return Get(id, &session).ok() && IsTerminal(session.status()); }))
        << id << " never ended; last: " << session.ShortDebugString();
    return session;
  }

  // The daemon's newest sequence: a call that starts and ends (its terminal
  // event is the newest once no other call is changing).
  uint64_t LastSequence() {
    CallSession s = MustStart(kAnswers);
    MustEnd(s.session_id());
    return WaitTerminal(s.session_id()).last_sequence();
  }

  EventStream* Watch(const std::string& id) {
    streams_.push_back(EventStream::Watch(stub_.get(), id));
    return streams_.back().get();
  }
  EventStream* Subscribe(std::optional<uint64_t> after_sequence) {
    voip::v1::SubscribeCallEventsRequest request;
    if (after_sequence) request.set_after_sequence(*after_sequence);
    streams_.push_back(EventStream::Subscribe(stub_.get(), request));
    return streams_.back().get();
  }

  // Checks `status` is `code` with a VoipError of `error_code`; returns it.
  voip::v1::VoipError ExpectVoipError(const grpc::Status& status, grpc::StatusCode code,
                                      voip::v1::ErrorCode error_code) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    google::rpc::Status rpc;
    std::string why;
    std::optional<voip::v1::VoipError> error = DecodeVoipError(status, &rpc, &why);
    EXPECT_TRUE(error.has_value()) << why;
    if (!error) return voip::v1::VoipError();
    EXPECT_EQ(rpc.code(), static_cast<int>(code)) << "google.rpc.Status.code";
    EXPECT_EQ(rpc.message(), status.error_message()) << "google.rpc.Status.message";
    EXPECT_EQ(voip::v1::ErrorCode_Name(error->error_code()), voip::v1::ErrorCode_Name(error_code));
    EXPECT_FALSE(error->message().empty());
    return *error;
  }

  std::unique_ptr<VoipdProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<voip::v1::VoipService::Stub> stub_;
  std::vector<std::unique_ptr<EventStream>> streams_;
};

TEST_F(DaemonIntegrationTest, FullLifecycleOnWatchCall) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  EventStream* all = Subscribe(0);  // fresh daemon: replays everything from #1

  voip::v1::StartCallRequest request;
  request.mutable_to()->set_number("+1 201-555-0100");
  (*request.mutable_labels())["crm"] = "42";
  CallSession started;
  grpc::Status status = StartCall(request, &started);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string id = started.session_id();
  EXPECT_EQ(started.to_normalized(), kAnswers);
  EXPECT_EQ(started.system_name(), "sandbox");
  EXPECT_FALSE(started.provider_call_id().empty());

  EventStream* watch = Watch(id);
  ASSERT_TRUE(watch->WaitFor([](const auto& evs) { return !evs.empty(); }));
  const CallEvent snapshot = watch->events().front();
  EXPECT_EQ(snapshot.type(), voip::v1::CALL_EVENT_TYPE_SNAPSHOT);
  EXPECT_EQ(snapshot.session().session_id(), id);
  EXPECT_EQ(snapshot.sequence(), snapshot.session().last_sequence());

  ASSERT_TRUE(watch->WaitForStatus(id, voip::v1::CALL_STATUS_CONNECTED))
      << Describe(watch->events());
  CallSession held, resumed, muted;
  ASSERT_TRUE(Hold(id, true, &held).ok());
  EXPECT_EQ(held.status(), voip::v1::CALL_STATUS_ON_HOLD);
  EXPECT_TRUE(held.on_hold());
  ASSERT_TRUE(Hold(id, false, &resumed).ok());
  EXPECT_EQ(resumed.status(), voip::v1::CALL_STATUS_CONNECTED);
  ASSERT_TRUE(Mute(id, true, &muted).ok());
  EXPECT_TRUE(muted.muted());
  EXPECT_EQ(muted.status(), voip::v1::CALL_STATUS_CONNECTED);
  CallSession ended = MustEnd(id);
  EXPECT_EQ(ended.status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(ended.end_reason().source(), voip::v1::HANGUP_SOURCE_LOCAL);

  // WatchCall ends with OK right after the terminal event.
  std::optional<grpc::Status> watch_end = watch->WaitDone();
  ASSERT_TRUE(watch_end.has_value()) << "WatchCall still open:" << Describe(watch->events());
  EXPECT_TRUE(watch_end->ok()) << watch_end->error_message();
  const std::vector<CallEvent> watched = watch->events();
  EXPECT_EQ(watched.back().session().status(), voip::v1::CALL_STATUS_DISCONNECTED);

  // The full history, in order.
  ASSERT_TRUE(all->WaitForTerminal(id));
  const std::vector<CallEvent> history = EventsOf(all->events(), id);
  using S = voip::v1::CallStatus;
  std::vector<std::pair<int, S>> got;
  for (const auto& e : history) got.emplace_back(e.type(), e.session().status());
  const int kChanged = voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED;
  const std::vector<std::pair<int, S>> expected = {
      {kChanged, voip::v1::CALL_STATUS_INITIATING},
      {kChanged, voip::v1::CALL_STATUS_RINGING},
      {kChanged, voip::v1::CALL_STATUS_CONNECTED},
      {kChanged, voip::v1::CALL_STATUS_ON_HOLD},
      {kChanged, voip::v1::CALL_STATUS_CONNECTED},
      {voip::v1::CALL_EVENT_TYPE_MUTE_CHANGED, voip::v1::CALL_STATUS_CONNECTED},
      {kChanged, voip::v1::CALL_STATUS_DISCONNECTED}};
  EXPECT_EQ(got, expected) << Describe(history);
  for (const auto& e : history) EXPECT_EQ(e.session().labels().at("crm"), "42");

  // After its snapshot, WatchCall is exactly the later part of that history.
  std::vector<CallEvent> later;
  for (const auto& e : history) {
    if (e.sequence() > snapshot.sequence()) later.push_back(e);
  }
  EXPECT_EQ(Keys(std::vector<CallEvent>(watched.begin() + 1, watched.end())), Keys(later))
      << "watch:" << Describe(watched) << "\nsubscribe:" << Describe(history);
}

TEST_F(DaemonIntegrationTest, Busy) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  CallSession s = MustStart(kBusy);
  EventStream* watch = Watch(s.session_id());
  std::optional<CallEvent> last = watch->WaitForTerminal(s.session_id());
  ASSERT_TRUE(last.has_value()) << Describe(watch->events());
  EXPECT_EQ(last->session().status(), voip::v1::CALL_STATUS_BUSY);
  EXPECT_EQ(last->previous_status(), voip::v1::CALL_STATUS_RINGING);
  EXPECT_EQ(last->session().end_reason().provider_cause().sip_code(), 486);
  std::optional<grpc::Status> end = watch->WaitDone();
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->ok()) << end->error_message();
}

TEST_F(DaemonIntegrationTest, UnavailableAfterTheRingTimeout) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  voip::v1::StartCallRequest request;
  request.mutable_to()->set_number(kNoAnswer);
  request.mutable_ring_timeout()->set_seconds(1);
  const auto t0 = std::chrono::steady_clock::now();
  CallSession s;
  ASSERT_TRUE(StartCall(request, &s).ok());
  EventStream* watch = Watch(s.session_id());
  ASSERT_TRUE(watch->WaitForStatus(s.session_id(), voip::v1::CALL_STATUS_RINGING));
  std::optional<CallEvent> last = watch->WaitForTerminal(s.session_id());
  ASSERT_TRUE(last.has_value()) << Describe(watch->events());
  EXPECT_EQ(last->session().status(), voip::v1::CALL_STATUS_UNAVAILABLE);
  EXPECT_EQ(last->previous_status(), voip::v1::CALL_STATUS_RINGING);
  EXPECT_EQ(last->session().end_reason().source(), voip::v1::HANGUP_SOURCE_SYSTEM);
  // Lower bound only: the 1 s ring timeout is not divided by time_scale.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  std::optional<grpc::Status> end = watch->WaitDone();
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->ok()) << end->error_message();
}

TEST_F(DaemonIntegrationTest, ProviderFailureAndRemoteHangup) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  CallSession failing = MustStart(kProviderFailure);
  CallSession hangup = MustStart(kRemoteHangup);
  CallSession failed = WaitTerminal(failing.session_id());
  EXPECT_EQ(failed.status(), voip::v1::CALL_STATUS_FAILED);
  EXPECT_EQ(failed.end_reason().error_code(), voip::v1::PROVIDER_ERROR);
  EXPECT_EQ(failed.end_reason().provider_cause().sip_code(), 503);
  CallSession remote = WaitTerminal(hangup.session_id());
  EXPECT_EQ(remote.status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(remote.end_reason().source(), voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_TRUE(remote.has_answered_at());
}

TEST_F(DaemonIntegrationTest, NetworkErrorCarriesAVoipErrorDetail) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  voip::v1::StartCallRequest request;
  request.mutable_to()->set_number(kNetworkError);
  CallSession ignored;
  grpc::Status status = StartCall(request, &ignored);
  voip::v1::VoipError error =
      ExpectVoipError(status, grpc::StatusCode::UNAVAILABLE, voip::v1::NETWORK_ERROR);
  EXPECT_EQ(error.system_name(), "sandbox");
  ASSERT_FALSE(error.session_id().empty()) << "the error names the call it created";

  CallSession failed;
  ASSERT_TRUE(Get(error.session_id(), &failed).ok());
  EXPECT_EQ(failed.status(), voip::v1::CALL_STATUS_FAILED);
  EXPECT_EQ(failed.end_reason().error_code(), voip::v1::NETWORK_ERROR);
}

TEST_F(DaemonIntegrationTest, InvalidNumberNamesTheField) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  voip::v1::StartCallRequest request;
  request.mutable_to()->set_number("not-a-number");
  CallSession ignored;
  voip::v1::VoipError error = ExpectVoipError(
      StartCall(request, &ignored), grpc::StatusCode::INVALID_ARGUMENT, voip::v1::INVALID_NUMBER);
  EXPECT_EQ(error.field(), "to.number");

  CallSession none;
  ExpectVoipError(Get("no-such-session", &none), grpc::StatusCode::NOT_FOUND,
                  voip::v1::SESSION_NOT_FOUND);
  EventStream* watch = Watch("no-such-session");
  std::optional<grpc::Status> end = watch->WaitDone();
  ASSERT_TRUE(end.has_value());
  ExpectVoipError(*end, grpc::StatusCode::NOT_FOUND, voip::v1::SESSION_NOT_FOUND);
  EXPECT_TRUE(watch->events().empty());
}

TEST_F(DaemonIntegrationTest, TwoSubscribersSeeIdenticalOrderedEvents) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const uint64_t start = LastSequence();
  EventStream* a = Subscribe(start);
  EventStream* b = Subscribe(start);
  std::vector<CallSession> calls;
  for (const char* number : {kAnswers, kBusy, kProviderFailure, kRemoteHangup}) {
    calls.push_back(MustStart(number));
  }
  ASSERT_TRUE(a->WaitForStatus(calls[0].session_id(), voip::v1::CALL_STATUS_CONNECTED));
  MustEnd(calls[0].session_id());
  for (EventStream* s : {a, b}) {
    for (const auto& c : calls) {
      ASSERT_TRUE(s->WaitForTerminal(c.session_id()).has_value()) << Describe(s->events());
    }
  }
  std::vector<CallEvent> ea = a->events(), eb = b->events();
  const size_t n = std::min(ea.size(), eb.size());
  ea.resize(n);
  eb.resize(n);
  EXPECT_EQ(Keys(ea), Keys(eb)) << "A:" << Describe(ea) << "\nB:" << Describe(eb);
  EXPECT_EQ(Sequences(ea), Range(start + 1, start + n)) << "gaps or duplicates:" << Describe(ea);
  for (const auto& c : calls) {
    std::vector<CallEvent> mine = EventsOf(ea, c.session_id());
    ASSERT_FALSE(mine.empty());
    EXPECT_EQ(mine.front().session().status(), voip::v1::CALL_STATUS_INITIATING);
    EXPECT_EQ(std::count_if(mine.begin(), mine.end(),
                            [](const CallEvent& e) { return IsTerminal(e.session().status()); }),
              1)
        << Describe(mine);
  }
}

TEST_F(DaemonIntegrationTest, ResumeAfterSequenceGetsExactlyTheMissedEvents) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const uint64_t start = LastSequence();
  EventStream* reference = Subscribe(start);  // never disconnects
  EventStream* first = Subscribe(start);
  CallSession a = MustStart(kAnswers);
  ASSERT_TRUE(first->WaitForStatus(a.session_id(), voip::v1::CALL_STATUS_CONNECTED));
  first->Cancel();
  std::optional<grpc::Status> cancelled = first->WaitDone();
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->error_code(), grpc::StatusCode::CANCELLED);
  const std::vector<CallEvent> seen = first->events();
  const uint64_t last_seen = seen.back().sequence();

  // Missed while disconnected.
  CallSession b = MustStart(kBusy);
  MustEnd(a.session_id());
  ASSERT_TRUE(reference->WaitForTerminal(a.session_id()));
  ASSERT_TRUE(reference->WaitForTerminal(b.session_id()));
  const uint64_t last_missed = WaitTerminal(b.session_id()).last_sequence();

  EventStream* resumed = Subscribe(last_seen);
  ASSERT_TRUE(resumed->WaitFor([&](const auto& evs) {
    return !evs.empty() && evs.back().sequence() >= last_missed;
  })) << Describe(resumed->events());
  const std::vector<CallEvent> ref = reference->events();
  const std::vector<CallEvent> got = resumed->events();
  std::vector<CallEvent> missed;
  for (const auto& e : ref) {
    if (e.sequence() > last_seen && e.sequence() <= last_missed) missed.push_back(e);
  }
  EXPECT_EQ(Keys(got), Keys(missed)) << "resumed:" << Describe(got) << "\nreference:" << Describe(ref);
  EXPECT_EQ(Sequences(got), Range(last_seen + 1, last_missed));
  EXPECT_EQ(Keys(seen), Keys(std::vector<CallEvent>(ref.begin(), ref.begin() + seen.size())));

  // And live again after the replay.
  CallSession c = MustStart(kAnswers);
  MustEnd(c.session_id());
  ASSERT_TRUE(resumed->WaitForTerminal(c.session_id()));
  std::vector<CallEvent> all = resumed->events();
  EXPECT_EQ(Sequences(all), Range(last_seen + 1, all.back().sequence())) << Describe(all);
}

TEST_F(DaemonIntegrationTest, TinyWindowGivesOutOfRange) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(Config(/*window=*/3)));
  uint64_t last = 0;
  for (int i = 0; i < 10 && last < 6; ++i) last = LastSequence();
  ASSERT_GE(last, 6u);
  const uint64_t oldest = last - 2;  // a window of 3 holds last-2 .. last

  EventStream* too_old = Subscribe(0);
  std::optional<grpc::Status> end = too_old->WaitDone();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::OUT_OF_RANGE) << end->error_message();
  EXPECT_TRUE(too_old->events().empty());
  EXPECT_TRUE(std::regex_search(end->error_message(),
                                std::regex(absl::StrCat("\\b", oldest, "\\b"))))
      << "must name the oldest sequence held (" << oldest << "): " << end->error_message();
  // A stream's error carries a VoipError too, naming the field and the
  // point a client can start again from.
  voip::v1::VoipError error =
      ExpectVoipError(*end, grpc::StatusCode::OUT_OF_RANGE, voip::v1::INVALID_ARGUMENT);
  EXPECT_EQ(error.field(), "after_sequence");
  EXPECT_EQ(error.details().at("oldest_sequence"), absl::StrCat(oldest));

  EventStream* future = Subscribe(last + 1000);
  end = future->WaitDone();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(ExpectVoipError(*end, grpc::StatusCode::INVALID_ARGUMENT, voip::v1::INVALID_ARGUMENT)
                .field(),
            "after_sequence");

  EventStream* just_too_old = Subscribe(oldest - 2);
  end = just_too_old->WaitDone();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::OUT_OF_RANGE) << end->error_message();

  EventStream* whole_window = Subscribe(oldest - 1);
  ASSERT_TRUE(whole_window->WaitFor([](const auto& evs) { return evs.size() >= 3; }))
      << Describe(whole_window->events());
  EXPECT_EQ(Sequences(whole_window->events()), Range(oldest, last));
}

TEST_F(DaemonIntegrationTest, SighupReloadDuringALiveCall) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  CallSession live = MustStart(kAnswers);
  EventStream* watch = Watch(live.session_id());
  ASSERT_TRUE(watch->WaitForStatus(live.session_id(), voip::v1::CALL_STATUS_CONNECTED));
  ASSERT_EQ(SystemNames(), (std::set<std::string>{"sandbox"}));

  daemon_->RewriteConfig(Config(10000, "  other: {type: sandbox}\n"));
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  ASSERT_TRUE(PollUntil([&] { return SystemNames().count("other") == 1; }))
      << "the reload never added 'other':\n" << daemon_->Stderr();
  EXPECT_EQ(SystemNames(), (std::set<std::string>{"other", "sandbox"}));

  CallSession call;
  ASSERT_TRUE(Get(live.session_id(), &call).ok());
  EXPECT_EQ(call.status(), voip::v1::CALL_STATUS_CONNECTED);
  CallSession held, resumed;
  grpc::Status status = Hold(live.session_id(), true, &held);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(held.status(), voip::v1::CALL_STATUS_ON_HOLD);
  ASSERT_TRUE(Hold(live.session_id(), false, &resumed).ok());
  EXPECT_EQ(resumed.status(), voip::v1::CALL_STATUS_CONNECTED);

  CallSession via_other = MustStart(kAnswers, "other");
  EXPECT_EQ(via_other.system_name(), "other");
  MustEnd(via_other.session_id());

  EXPECT_FALSE(watch->done()) << "WatchCall ended during the reload";
  CallSession ended = MustEnd(live.session_id());
  EXPECT_EQ(ended.status(), voip::v1::CALL_STATUS_DISCONNECTED);
  std::optional<grpc::Status> end = watch->WaitDone();
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->ok()) << end->error_message();
  EXPECT_EQ(watch->events().back().session().status(), voip::v1::CALL_STATUS_DISCONNECTED);
}

TEST_F(DaemonIntegrationTest, ReloadThatReplacesTheLiveCallsSystemKeepsTheCall) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  CallSession live = MustStart(kAnswers);
  EventStream* watch = Watch(live.session_id());
  ASSERT_TRUE(watch->WaitForStatus(live.session_id(), voip::v1::CALL_STATUS_CONNECTED));

  // `sandbox` gets another typed config: a new instance serves new calls, the
  // live call stays on the old one.
  daemon_->RewriteConfig(absl::StrReplaceAll(Config(), {{"time_scale: 20", "time_scale: 25"}}));
  const std::string stderr_before = daemon_->Stderr();
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  ASSERT_TRUE(PollUntil([&] {
    return absl::StrContains(daemon_->Stderr().substr(stderr_before.size()), "reloaded");
  })) << daemon_->Stderr();

  CallSession held;
  grpc::Status status = Hold(live.session_id(), true, &held);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(held.status(), voip::v1::CALL_STATUS_ON_HOLD);
  CallSession ended = MustEnd(live.session_id());
  EXPECT_EQ(ended.status(), voip::v1::CALL_STATUS_DISCONNECTED);
  EXPECT_EQ(ended.end_reason().error_code(), voip::v1::ERROR_CODE_UNSPECIFIED);
  CallSession fresh = MustStart(kAnswers);
  MustEnd(fresh.session_id());
}

TEST_F(DaemonIntegrationTest, BrokenConfigOnSighupIsRejectedAndTheDaemonKeepsServing) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::vector<std::string> broken = {
      "listen: [\"127.0.0.1:0\"\nsystems: {{{\n",
      Config(10000, "  bad: { type: no-such-adapter }\n"),
      absl::StrReplaceAll(Config(), {{"default_system: sandbox", "default_system: ghost"}}),
  };
  for (const std::string& text : broken) {
    SCOPED_TRACE(text);
    const size_t log_size = daemon_->Stderr().size();
    daemon_->RewriteConfig(text);
    ASSERT_TRUE(daemon_->Signal(SIGHUP));
    ASSERT_TRUE(PollUntil([&] {
      return absl::StrContains(daemon_->Stderr().substr(log_size), "reload rejected");
    })) << "voipd never logged the rejection:\n" << daemon_->Stderr();
    ASSERT_TRUE(daemon_->Running()) << "voipd exited on a bad config";
    std::string default_system;
    EXPECT_EQ(SystemNames(&default_system), (std::set<std::string>{"sandbox"}));
    EXPECT_EQ(default_system, "sandbox");
    CallSession probe = MustStart(kAnswers);
    EXPECT_EQ(MustEnd(probe.session_id()).status(), voip::v1::CALL_STATUS_DISCONNECTED);
  }
}

TEST_F(DaemonIntegrationTest, SigtermEndsLiveCallsAndClosesStreams) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  EventStream* all = Subscribe(0);
  CallSession talking = MustStart(kAnswers);
  EventStream* watch = Watch(talking.session_id());
  ASSERT_TRUE(watch->WaitForStatus(talking.session_id(), voip::v1::CALL_STATUS_CONNECTED));
  ASSERT_TRUE(all->WaitForStatus(talking.session_id(), voip::v1::CALL_STATUS_CONNECTED));

  ASSERT_TRUE(daemon_->Signal(SIGTERM));
  std::optional<int> rc = daemon_->WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(rc.has_value()) << "voipd did not exit after SIGTERM:\n" << daemon_->Stderr();
  EXPECT_EQ(*rc, 0) << daemon_->Stderr();

  std::optional<grpc::Status> watch_end = watch->WaitDone();
  ASSERT_TRUE(watch_end.has_value());
  const std::vector<CallEvent> watched = watch->events();
  ASSERT_FALSE(watched.empty());
  EXPECT_EQ(watched.back().session().status(), voip::v1::CALL_STATUS_DISCONNECTED)
      << Describe(watched);

  std::optional<grpc::Status> all_end = all->WaitDone();
  ASSERT_TRUE(all_end.has_value());
  EXPECT_EQ(all_end->error_code(), grpc::StatusCode::UNAVAILABLE) << all_end->error_message();
  const std::vector<CallEvent> events = all->events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(ExpectVoipError(*all_end, grpc::StatusCode::UNAVAILABLE, voip::v1::DAEMON_SHUTDOWN)
                .details()
                .at("resume_after_sequence"),
            absl::StrCat(events.back().sequence()));
  EXPECT_EQ(Sequences(events), Range(1, events.size())) << Describe(events);
  std::vector<CallEvent> terminal;
  for (const auto& e : EventsOf(events, talking.session_id())) {
    if (IsTerminal(e.session().status())) terminal.push_back(e);
  }
  ASSERT_EQ(terminal.size(), 1u) << Describe(events);
  EXPECT_EQ(terminal[0].session().status(), voip::v1::CALL_STATUS_DISCONNECTED);
  // voipd, not the client, ended it.
  EXPECT_EQ(terminal[0].session().end_reason().source(), voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_EQ(terminal[0].session().end_reason().error_code(), voip::v1::DAEMON_SHUTDOWN);
  EXPECT_TRUE(IsTerminal(events.back().session().status())) << "events after the end:"
                                                             << Describe(events);
}

TEST(DaemonConfigTest, InvalidConfigExitsNonZeroNamingFileLineAndField) {
  struct Case {
    std::string text;
    std::string line;   // ":N:" expected in the message
    std::string field;  // dotted path expected in the message
  };
  const std::vector<Case> cases = {
      {"listen: [\"127.0.0.1:0\"]\n"
       "default_system: sandbox\n"
       "systems:\n"
       "  sandbox:\n"
       "    type: sandbox\n"
       "    time_scale: fast\n",
       ":6:", "systems.sandbox.time_scale"},
      {"listen: [\"127.0.0.1:0\"]\n"
       "systems:\n"
       "  sandbox: { type: sandbox }\n"
       "calls:\n"
       "  end_call_timout: 5s\n",
       ":5:", "calls.end_call_timout"},
      // Found only when the adapter is created: still the file, the
      // system's line and the setting.
      {"listen: [\"127.0.0.1:0\"]\n"
       "default_system: sandbox\n"
       "systems:\n"
       "  sandbox: { type: sandbox }\n"
       "  pbx:\n"
       "    type: sip\n"
       "    server: \"127.0.0.1:9\"\n"
       "    local_address: 127.0.0.1\n"
       "    local_port: 0\n"
       "    username: alice\n"
       "    password_file: /nonexistent/voipd-test-secret\n",
       ":6:", "systems.pbx: password_file: "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    VoipdProcess daemon(c.text);
    std::string error;
    ASSERT_TRUE(daemon.Spawn(&error)) << error;
    std::optional<int> rc = daemon.WaitForExit(absl::Seconds(20));
    ASSERT_TRUE(rc.has_value()) << "voipd kept running on an invalid config";
    EXPECT_NE(*rc, 0);
    const std::string err = daemon.Stderr();
    EXPECT_TRUE(absl::StrContains(err, daemon.config_path() + c.line))
        << "stderr must name file and line (" << daemon.config_path() << c.line << "):\n" << err;
    EXPECT_TRUE(absl::StrContains(err, c.field)) << "stderr must name " << c.field << ":\n" << err;
  }
}

}  // namespace
}  // namespace voipd::integration
