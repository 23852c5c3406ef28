// RecoverCalls: calls active before a crash are re-adopted when their
// adapter says the provider still has them, and otherwise end exactly once
// with DAEMON_RESTART (adapter says no, fails, never answers, or the system
// is gone).
#include "daemon/core/call_recovery.h"

#include <algorithm>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "daemon/core/call_state_machine.h"
#include "daemon/logging.h"
#include "gtest/gtest.h"
#include "tests/adapters/test_adapter.h"

namespace voipd {
namespace {

enum class Answer { kYes, kNo, kError, kNever };

class ReadoptAdapter final : public adapters::Adapter {
 public:
  explicit ReadoptAdapter(Answer answer) : answer_(answer) {}
  adapters::Capabilities capabilities() const override { return {}; }
  adapters::Health health() const override { return {}; }
  void StartCall(const adapters::DialRequest&, adapters::DialCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void EndCall(const adapters::CallRef& call, adapters::DoneCallback done) override {
    ended_.push_back(call.session_id + "/" + call.provider_call_id);
    std::move(done)(end_result_);
  }
  void Hold(const adapters::CallRef&, bool, adapters::DoneCallback done) override {
    std::move(done)(absl::OkStatus());
  }
  void Mute(const adapters::CallRef&, bool, adapters::DoneCallback done) override {
    std::move(done)(absl::OkStatus());
  }
  void Readopt(const voip::v1::CallSession& session,
               absl::AnyInvocable<void(absl::StatusOr<bool>) &&> done) override {
    asked_.push_back(session.session_id());
    switch (answer_) {
      case Answer::kYes: std::move(done)(true); break;
      case Answer::kNo: std::move(done)(false); break;
      case Answer::kError: std::move(done)(absl::UnavailableError("pbx unreachable")); break;
      case Answer::kNever: held_ = std::move(done); break;  // answers too late, if at all
    }
  }
  std::vector<std::string> asked_;
  std::vector<std::string> ended_;  // session_id/provider_call_id of each EndCall
  absl::Status end_result_ = absl::OkStatus();
  absl::AnyInvocable<void(absl::StatusOr<bool>) &&> held_;

 private:
  const Answer answer_;
};

class CallRecoveryTest : public ::testing::Test {
 protected:
  CallRecoveryTest() : bus_(1000, 1000), registry_(&bus_, RegistryLimits{}) {}
  ~CallRecoveryTest() override { io_.Stop(); }

  voip::v1::CallSession Active(const std::string& id, const std::string& system) {
    voip::v1::CallSession s;
    s.set_session_id(id);
    s.set_system_name(system);
    s.set_status(voip::v1::CALL_STATUS_CONNECTED);
    return s;
  }

  void Recover(const std::vector<voip::v1::CallSession>& calls,
               std::map<std::string, adapters::AdapterPtr> adapters,
               absl::Duration timeout = absl::Seconds(5)) {
    std::map<std::string, SystemEntry> entries;
    for (auto& [name, adapter] : adapters) entries[name] = SystemEntry{name, "test", adapter, name};
    SystemTable table(entries, "", "US", {});
    RecoverCalls(calls, table, &registry_, io_.io(), timeout);
  }

  bool WaitTerminal(const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      absl::StatusOr<voip::v1::CallSession> s = registry_.Snapshot(id);
      if (s.ok() && IsTerminal(s->status())) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  test::IoThread io_;
  EventBus bus_;
  CallRegistry registry_;
};

TEST_F(CallRecoveryTest, AdoptedCallStaysActiveOthersEndWithDaemonRestart) {
  auto yes = std::make_shared<ReadoptAdapter>(Answer::kYes);
  auto no = std::make_shared<ReadoptAdapter>(Answer::kNo);
  auto error = std::make_shared<ReadoptAdapter>(Answer::kError);
  Recover({Active("kept", "yes"), Active("gone", "no"), Active("failed", "error"),
           Active("orphan", "removed-system")},
          {{"yes", yes}, {"no", no}, {"error", error}});
  EXPECT_EQ(yes->asked_, std::vector<std::string>{"kept"});
  EXPECT_EQ(registry_.Snapshot("kept")->status(), voip::v1::CALL_STATUS_CONNECTED);
  for (const std::string id : {"gone", "failed", "orphan"}) {
    absl::StatusOr<voip::v1::CallSession> s = registry_.Snapshot(id);
    ASSERT_TRUE(s.ok()) << id;
    EXPECT_EQ(s->status(), voip::v1::CALL_STATUS_DISCONNECTED) << id;
    EXPECT_EQ(s->end_reason().error_code(), voip::v1::DAEMON_RESTART) << id;
    EXPECT_EQ(s->end_reason().source(), voip::v1::HANGUP_SOURCE_SYSTEM) << id;
  }
  EXPECT_NE(registry_.Snapshot("failed")->end_reason().message().find("pbx unreachable"),
            std::string::npos);
  // The adopted call is controlled like any other: the adapter's events apply.
  adapters::ProviderEvent ended;
  ended.session_id = "kept";
  ended.kind = adapters::ProviderEventKind::kEnded;
  registry_.OnProviderEvent(ended);
  EXPECT_EQ(registry_.Snapshot("kept")->status(), voip::v1::CALL_STATUS_DISCONNECTED);
}

TEST_F(CallRecoveryTest, ALateYesIsHungUpAtTheProviderAndAddsNoEvent) {
  auto never = std::make_shared<ReadoptAdapter>(Answer::kNever);
  voip::v1::CallSession slow = Active("slow", "never");
  slow.set_provider_call_id("CA-late");
  Recover({slow}, {{"never", never}}, absl::Milliseconds(50));
  ASSERT_TRUE(WaitTerminal("slow"));
  const uint64_t last = registry_.Snapshot("slow")->last_sequence();
  EXPECT_EQ(registry_.Snapshot("slow")->end_reason().error_code(), voip::v1::DAEMON_RESTART);
  EXPECT_TRUE(never->ended_.empty());
  // The adapter finally takes the call over: too late for the clients, who
  // were told it ended, so the core hangs it up at the provider...
  std::move(never->held_)(true);
  EXPECT_EQ(never->ended_, std::vector<std::string>{"slow/CA-late"});
  // ...and the adapter's kEnded for it adds nothing (one terminal event).
  adapters::ProviderEvent ended;
  ended.session_id = "slow";
  ended.kind = adapters::ProviderEventKind::kEnded;
  registry_.OnProviderEvent(ended);
  EXPECT_EQ(registry_.Snapshot("slow")->last_sequence(), last);
  EXPECT_EQ(registry_.Snapshot("slow")->end_reason().error_code(), voip::v1::DAEMON_RESTART);
}

TEST_F(CallRecoveryTest, AFailedLateHangUpIsLoggedWithTheSession) {
  absl::Mutex mu;
  std::vector<std::string> lines;
  SetLogSinkForTest([&](absl::string_view line) {
    absl::MutexLock lock(&mu);
    lines.emplace_back(line);
  });
  auto never = std::make_shared<ReadoptAdapter>(Answer::kNever);
  never->end_result_ = absl::UnavailableError("pbx unreachable");
  Recover({Active("stuck", "never")}, {{"never", never}}, absl::Milliseconds(20));
  ASSERT_TRUE(WaitTerminal("stuck"));
  const uint64_t last = registry_.Snapshot("stuck")->last_sequence();
  std::move(never->held_)(true);
  SetLogSinkForTest(nullptr);
  EXPECT_EQ(never->ended_.size(), 1u);
  EXPECT_EQ(registry_.Snapshot("stuck")->last_sequence(), last);
  absl::MutexLock lock(&mu);
  const auto failed = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("hanging up a late re-adopted call failed: pbx unreachable") !=
               std::string::npos &&
           l.find("session_id=stuck") != std::string::npos;
  });
  EXPECT_NE(failed, lines.end()) << "no warning for the failed hang-up";
}

TEST_F(CallRecoveryTest, ALateNoOrErrorChangesNothing) {
  for (absl::StatusOr<bool> answer :
       {absl::StatusOr<bool>(false), absl::StatusOr<bool>(absl::UnavailableError("down"))}) {
    auto never = std::make_shared<ReadoptAdapter>(Answer::kNever);
    const std::string id = answer.ok() ? "late-no" : "late-error";
    Recover({Active(id, "never")}, {{"never", never}}, absl::Milliseconds(20));
    ASSERT_TRUE(WaitTerminal(id));
    const uint64_t last = registry_.Snapshot(id)->last_sequence();
    std::move(never->held_)(answer);
    EXPECT_TRUE(never->ended_.empty()) << id;
    EXPECT_EQ(registry_.Snapshot(id)->last_sequence(), last) << id;
  }
}

TEST_F(CallRecoveryTest, AnAnswerInTimeIsNotHungUp) {
  auto yes = std::make_shared<ReadoptAdapter>(Answer::kYes);
  Recover({Active("kept", "yes")}, {{"yes", yes}}, absl::Milliseconds(20));
  absl::SleepFor(absl::Milliseconds(100));  // past the deadline: the timer was cancelled
  EXPECT_TRUE(yes->ended_.empty());
  EXPECT_EQ(registry_.Snapshot("kept")->status(), voip::v1::CALL_STATUS_CONNECTED);
}

}  // namespace
}  // namespace voipd
