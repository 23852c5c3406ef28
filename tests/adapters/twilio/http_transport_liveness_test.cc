// HttpTransport::CheckAlive answers from the transport thread, so that the
// daemon's watchdog (LivenessGate, through TwilioAdapter::CheckAlive)
// notices when that thread hangs.
#include "adapters/twilio/http_transport.h"

#include <pthread.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"

namespace voipd::adapters::twilio {
namespace {

std::string ThreadName() {
  char name[16] = {0};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

// Hangs the transport thread in a request's callback until `release`: port 1
// on loopback refuses at once, so the callback runs on that thread. Returns
// once the thread is inside it.
void HoldTheThread(HttpTransport& transport, absl::Notification& release) {
  // Shared: Notify() may still be unlocking when this function returns.
  auto in_callback = std::make_shared<absl::Notification>();
  HttpRequest request;
  request.url = "http://127.0.0.1:1/";
  transport.Send(std::move(request), [in_callback, &release](HttpResult) {
    in_callback->Notify();
    release.WaitForNotification();
  });
  ASSERT_TRUE(in_callback->WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(HttpTransportLivenessTest, AnswersFromItsThreadAndOnlyWhenItComesRound) {
  HttpTransport transport(TransportOptions{});

  absl::Notification answered;
  std::string thread;
  transport.CheckAlive([&] {
    thread = ThreadName();
    answered.Notify();
  });
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(thread, "twilio-http");

  // A request's callback that never returns (held here) hangs the thread:
  // the probe must stay unanswered until it comes back.
  absl::Notification release;
  HoldTheThread(transport, release);
  absl::Notification late;
  transport.CheckAlive([&] { late.Notify(); });
  EXPECT_FALSE(late.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  release.Notify();
  EXPECT_TRUE(late.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

// A probe still queued when Stop() comes is answered, not dropped (the
// watchdog would take the stopping adapter for a hung one).
TEST(HttpTransportLivenessTest, AProbeQueuedBeforeStopIsAnswered) {
  HttpTransport transport(TransportOptions{});
  absl::Notification release;
  HoldTheThread(transport, release);
  absl::Notification queued;
  transport.CheckAlive([&] { queued.Notify(); });  // the thread is busy: it waits

  std::thread stopper([&] { transport.Stop(); });
  // Stop() has begun once a probe is answered inline, on this thread.
  // (Probes sent before that are queued and run at the stop: they own
  // their flag.)
  for (;;) {
    auto ran = std::make_shared<std::atomic<bool>>(false);
    transport.CheckAlive([ran] { *ran = true; });
    if (*ran) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_FALSE(queued.HasBeenNotified());
  release.Notify();
  stopper.join();
  EXPECT_TRUE(queued.HasBeenNotified());
}

TEST(HttpTransportLivenessTest, AStoppedTransportAnswersAtOnce) {
  HttpTransport transport(TransportOptions{});
  transport.Stop();
  bool answered = false;
  transport.CheckAlive([&] { answered = true; });
  EXPECT_TRUE(answered);
}

}  // namespace
}  // namespace voipd::adapters::twilio
