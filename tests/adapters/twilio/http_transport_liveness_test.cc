// HttpTransport::CheckAlive answers from the transport thread, so that the
// daemon's watchdog (LivenessGate, through TwilioAdapter::CheckAlive)
// notices when that thread hangs.
#include "adapters/twilio/http_transport.h"

#include <pthread.h>

#include <string>

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"

namespace voipd::adapters::twilio {
namespace {

std::string ThreadName() {
  char name[16] = {0};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
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
  // the probe must stay unanswered until it comes back. Port 1 on loopback
  // refuses at once, so the callback runs on the transport thread.
  absl::Notification in_callback, release;
  HttpRequest request;
  request.url = "http://127.0.0.1:1/";
  transport.Send(std::move(request), [&](HttpResult) {
    in_callback.Notify();
    release.WaitForNotification();
  });
  ASSERT_TRUE(in_callback.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::Notification late;
  transport.CheckAlive([&] { late.Notify(); });
  EXPECT_FALSE(late.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  release.Notify();
  EXPECT_TRUE(late.WaitForNotificationWithTimeout(absl::Seconds(10)));
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
