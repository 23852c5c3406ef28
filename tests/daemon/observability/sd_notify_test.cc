// Drives the notify protocol against a test-owned NOTIFY_SOCKET (an AF_UNIX
// datagram socket), as systemd would receive it.
#include "daemon/observability/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace voipd {
namespace {

class SdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/voipd-notify-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/notify.sock";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{5, 0};  // a missing message fails the test instead of hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string Receive() {
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, n) : std::string("<nothing>");
  }

  std::string dir_, path_;
  int fd_ = -1;
};

TEST_F(SdNotifyTest, SendsTheLifecycleMessages) {
  NotifyReady("0 active calls");
  EXPECT_EQ(Receive(), "READY=1\nSTATUS=0 active calls");
  NotifyReloading();
  const std::string reloading = Receive();
  EXPECT_EQ(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << reloading;
  NotifyWatchdog();
  EXPECT_EQ(Receive(), "WATCHDOG=1");
  NotifyStatus("3 active calls");
  EXPECT_EQ(Receive(), "STATUS=3 active calls");
  NotifyStopping();
  EXPECT_EQ(Receive(), "STOPPING=1");
}

TEST_F(SdNotifyTest, WatchdogTimeoutComesFromTheEnvironment) {
  EXPECT_FALSE(WatchdogTimeout().has_value());
  setenv("WATCHDOG_USEC", "3000000", 1);
  ASSERT_TRUE(WatchdogTimeout().has_value());
  EXPECT_EQ(*WatchdogTimeout(), absl::Seconds(3));
}

}  // namespace
}  // namespace voipd
