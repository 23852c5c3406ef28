// What the CallController tells operators about calls: provider request
// latencies through ProviderRequestObserver, and log lines that carry
// session_id and system as fields. Sandbox at time_scale 100 on a real
// registry and bus.
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "adapters/api/voip_error.h"
#include "adapters/sandbox/sandbox_adapter.h"
#include "daemon/core/call_controller.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/call_state_machine.h"
#include "daemon/core/event_bus.h"
#include "daemon/core/idempotency_cache.h"
#include "daemon/core/system_table.h"
#include "daemon/logging.h"
#include "tests/daemon/log_capture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/test_adapter.h"

namespace voipd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using voip::v1::CallSession;

constexpr char kAnswers[] = "+12015550100";
constexpr char kNetworkError[] = "+12015550105";

class RecordingObserver final : public ProviderRequestObserver {
 public:
  struct Record {
    std::string system;
    std::string operation;
    bool ok;
    absl::Duration elapsed;
  };
  void OnProviderRequest(absl::string_view system, absl::string_view operation, bool ok,
                         absl::Duration elapsed) override {
    absl::MutexLock lock(&mu_);
    records_.push_back({std::string(system), std::string(operation), ok, elapsed});
  }
  std::vector<Record> records() const {
    absl::MutexLock lock(&mu_);
    return records_;
  }
  // "system/operation/ok|error" per record, in order.
  std::vector<std::string> Summary() const {
    std::vector<std::string> out;
    for (const Record& r : records()) {
      out.push_back(absl::StrCat(r.system, "/", r.operation, "/", r.ok ? "ok" : "error"));
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Record> records_;
};

class CallControllerObservabilityTest : public ::testing::Test {
 protected:
  using SessionResult = absl::StatusOr<CallSession>;

  CallControllerObservabilityTest()
      : bus_(1000, 1000), registry_(&bus_, RegistryLimits{}), idempotency_(absl::Hours(1), 100) {
    voip::config::v1::SandboxAdapterConfig config;
    config.set_time_scale(100);
    adapters::AdapterContext context;
    context.system_name = "sandbox";
    context.events = &registry_;
    context.io = io_.io();
    sandbox_ = std::make_shared<adapters::sandbox::SandboxAdapter>(config, context);
    std::map<std::string, SystemEntry> entries;
    entries["sandbox"] = SystemEntry{"sandbox", "sandbox", sandbox_, "sandbox/sandbox"};
    controller_ = std::make_unique<CallController>(
        &registry_, &idempotency_, io_.io(),
        std::make_shared<const SystemTable>(entries, "sandbox", "US", std::vector<RouteRule>{}),
        ControllerLimits{absl::Milliseconds(200)});
    controller_->SetProviderObserver(&observer_);
  }

  ~CallControllerObservabilityTest() override {
    io_.Stop();
    sandbox_->Shutdown();
  }

  SessionResult Await(std::function<void(CallController::SessionCallback)> op) {
    auto done = std::make_shared<absl::Notification>();
    auto result = std::make_shared<SessionResult>(absl::UnknownError("no callback"));
    op([done, result](SessionResult r) {
      *result = std::move(r);
      done->Notify();
    });
    EXPECT_TRUE(done->WaitForNotificationWithTimeout(test::kWaitTimeout));
    return *result;
  }
  SessionResult Start(const std::string& number) {
    voip::v1::StartCallRequest request;
    request.mutable_to()->set_number(number);
    return Await([&](auto done) { controller_->StartCall(request, std::move(done)); });
  }
  // Waits until the sandbox call is connected (its ~10 ms ring at scale 100).
  bool AwaitStatus(const std::string& id, voip::v1::CallStatus status) {
    absl::Notification reached;
    for (absl::Time deadline = absl::Now() + test::kWaitTimeout; absl::Now() < deadline;) {
      voip::v1::GetCallStatusRequest request;
      request.set_session_id(id);
      absl::StatusOr<CallSession> now = controller_->GetCallStatus(request);
      if (now.ok() && now->status() == status) return true;
      reached.WaitForNotificationWithTimeout(absl::Milliseconds(5));
    }
    return false;
  }

  test::IoThread io_;
  EventBus bus_;
  CallRegistry registry_;
  IdempotencyCache idempotency_;
  RecordingObserver observer_;
  std::shared_ptr<adapters::sandbox::SandboxAdapter> sandbox_;
  std::unique_ptr<CallController> controller_;
};

TEST_F(CallControllerObservabilityTest, EveryAdapterOperationIsTimedWithItsOutcome) {
  SessionResult started = Start(kAnswers);
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->session_id();
  ASSERT_TRUE(AwaitStatus(id, voip::v1::CALL_STATUS_CONNECTED));

  voip::v1::HoldRequest hold;
  hold.set_session_id(id);
  hold.set_hold(true);
  ASSERT_TRUE(Await([&](auto done) { controller_->Hold(hold, std::move(done)); }).ok());
  voip::v1::MuteRequest mute;
  mute.set_session_id(id);
  mute.set_mute(true);
  ASSERT_TRUE(Await([&](auto done) { controller_->Mute(mute, std::move(done)); }).ok());
  voip::v1::EndCallRequest end;
  end.set_session_id(id);
  ASSERT_TRUE(Await([&](auto done) { controller_->EndCall(end, std::move(done)); }).ok());

  SessionResult failed = Start(kNetworkError);
  ASSERT_FALSE(failed.ok());

  EXPECT_THAT(observer_.Summary(),
              ElementsAre("sandbox/StartCall/ok", "sandbox/Hold/ok", "sandbox/Mute/ok",
                          "sandbox/EndCall/ok", "sandbox/StartCall/error"));
  for (const auto& record : observer_.records()) {
    EXPECT_GE(record.elapsed, absl::ZeroDuration()) << record.operation;
  }
}

TEST_F(CallControllerObservabilityTest, RefusedRequestsNeverReachTheAdapterAndAreNotTimed) {
  voip::v1::HoldRequest hold;
  hold.set_session_id("00000000-0000-4000-8000-000000000000");
  hold.set_hold(true);
  EXPECT_FALSE(Await([&](auto done) { controller_->Hold(hold, std::move(done)); }).ok());
  EXPECT_THAT(observer_.Summary(), IsEmpty());
}

TEST_F(CallControllerObservabilityTest, CallLinesCarrySessionIdAndSystemAsFields) {
  JsonLogCapture capture;
  SessionResult started = Start(kAnswers);
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string id = started->session_id();
  ASSERT_TRUE(AwaitStatus(id, voip::v1::CALL_STATUS_CONNECTED));
  voip::v1::EndCallRequest end;
  end.set_session_id(id);
  ASSERT_TRUE(Await([&](auto done) { controller_->EndCall(end, std::move(done)); }).ok());
  SessionResult failed = Start(kNetworkError);
  ASSERT_FALSE(failed.ok());
  const std::string failed_id = GetVoipError(failed.status())->session_id();

  std::vector<std::string> messages;
  for (const nlohmann::json& record : capture.records()) {
    if (record["component"] != "calls" && record["component"] != "registry") continue;
    messages.push_back(record["msg"]);
    EXPECT_TRUE(record.contains("session_id")) << record.dump();
    EXPECT_EQ(record.value("system", ""), "sandbox") << record.dump();
    const std::string session = record.value("session_id", "");
    EXPECT_TRUE(session == id || session == failed_id) << record.dump();
    // The id is a field, not text to grep out of the message.
    EXPECT_THAT(record["msg"].get<std::string>(), Not(::testing::HasSubstr(session)));
  }
  // Start, end, failed start, and its end: at least these four.
  EXPECT_GE(messages.size(), 4u) << ::testing::PrintToString(messages);
}

}  // namespace
}  // namespace voipd
