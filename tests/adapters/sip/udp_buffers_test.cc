#include "adapters/sip/udp_buffers.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace voipd::adapters::sip {
namespace {

int ReceiveBuffer(int fd) {
  int value = 0;
  socklen_t len = sizeof(value);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &len);
  return value;
}

TEST(UdpBuffersTest, EnlargesOnlySocketsOpenedSinceTheSnapshot) {
  const int old_udp = socket(AF_INET, SOCK_DGRAM, 0);
  const int old_size = ReceiveBuffer(old_udp);
  const std::set<int> before = OpenFds();
  // The lowest free descriptor: the one OpenFds() itself used and closed.
  const int udp = socket(AF_INET, SOCK_DGRAM, 0);
  const int tcp = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(udp, 0);
  EXPECT_EQ(EnlargeNewUdpBuffers(before, 256 * 1024), 1);
  EXPECT_GT(ReceiveBuffer(udp), old_size) << "the kernel doubles and caps the value";
  EXPECT_EQ(ReceiveBuffer(old_udp), old_size);
  close(tcp);
  close(udp);
  close(old_udp);
}

}  // namespace
}  // namespace voipd::adapters::sip
