// SipAdapter::CheckAlive answers from the libre loop, so that the daemon's
// watchdog (LivenessGate) notices when that loop hangs.
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "adapters/sip/re_loop.h"
#include "adapters/sip/sip_adapter.h"
#include "adapters/sip/sip_config.h"

namespace voipd::adapters::sip {
namespace {

std::shared_ptr<SipAdapter> MakeAdapter() {
  voip::config::v1::SipAdapterConfig config;
  config.set_server("127.0.0.1:9");
  config.set_local_address("127.0.0.1");
  config.set_local_port(0);
  config.set_media("none");
  absl::StatusOr<SipSettings> settings = ParseSipConfig(config);
  EXPECT_TRUE(settings.ok()) << settings.status();
  AdapterContext context;
  context.system_name = "pbx";
  absl::StatusOr<std::shared_ptr<SipAdapter>> adapter =
      SipAdapter::Create(*settings, context, "", nullptr);
  EXPECT_TRUE(adapter.ok()) << adapter.status();
  return adapter.ok() ? *adapter : nullptr;
}

TEST(SipAdapterLivenessTest, AnswersFromTheLoopAndOnlyWhenTheLoopComesRound) {
  std::shared_ptr<SipAdapter> adapter = MakeAdapter();
  ASSERT_NE(adapter, nullptr);
  std::shared_ptr<ReLoop> loop = *ReLoop::Acquire(nullptr);

  absl::Notification answered;
  bool on_loop = false;
  adapter->CheckAlive([&] {
    on_loop = loop->InLoopThread();
    answered.Notify();
  });
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(on_loop);

  // A loop busy with something that never ends (held here) leaves the probe
  // unanswered: that is what the watchdog must see.
  absl::Notification release;
  loop->Post([&] { release.WaitForNotification(); });
  absl::Notification late;
  adapter->CheckAlive([&] { late.Notify(); });
  EXPECT_FALSE(late.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  release.Notify();
  EXPECT_TRUE(late.WaitForNotificationWithTimeout(absl::Seconds(10)));
  adapter->Shutdown();
}

}  // namespace
}  // namespace voipd::adapters::sip
