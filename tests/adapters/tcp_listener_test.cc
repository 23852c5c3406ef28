// ListenOn: the one place adapters turn "IP:PORT" into a listening socket.
#include "adapters/api/tcp_listener.h"

#include <boost/asio/io_context.hpp>

#include "adapters/api/voip_error.h"
#include "gtest/gtest.h"

namespace voipd::adapters {
namespace {

TEST(TcpListenerTest, RecognisesLocalAddresses) {
  for (const std::string local : {"127.0.0.1:50051", "127.1.2.3:0", "[::1]:50051",
                                  "localhost:50051", "unix:/run/voipd/voipd.sock",
                                  "ipv4:127.0.0.1:1", "127.0.0.1", "[::1]"}) {
    EXPECT_TRUE(IsLocalAddress(local)) << local;
  }
  for (const std::string open : {"0.0.0.0:50051", "[::]:50051", "10.0.0.5:50051",
                                 "127.example.com:50051", "127.a.b.c:1", "127.0.0.256:1"}) {
    EXPECT_FALSE(IsLocalAddress(open)) << open;
  }
}

TEST(TcpListenerTest, PortZeroBindsAndReportsTheChosenPort) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io);
  std::string bound;
  ASSERT_TRUE(ListenOn(acceptor, "127.0.0.1:0", "listen", &bound).ok());
  EXPECT_EQ(bound.rfind("127.0.0.1:", 0), 0u) << bound;
  EXPECT_NE(bound, "127.0.0.1:0");
  boost::asio::ip::tcp::acceptor v6(io);
  std::string bound6;
  ASSERT_TRUE(ListenOn(v6, "[::1]:0", "listen", &bound6).ok());
  EXPECT_EQ(bound6.rfind("[::1]:", 0), 0u) << bound6;
}

TEST(TcpListenerTest, BadAddressesAndBusyPortsNameTheField) {
  boost::asio::io_context io;
  for (const std::string bad : {"8089", "example.com:80", "127.0.0.1:99999", "127.0.0.1:x", ""}) {
    boost::asio::ip::tcp::acceptor acceptor(io);
    std::string bound;
    absl::Status s = ListenOn(acceptor, bad, "webhook.listen", &bound);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(GetVoipError(s)->field(), "webhook.listen") << bad;
    EXPECT_EQ(GetVoipError(s)->error_code(), voip::v1::CONFIGURATION_ERROR) << bad;
  }
  boost::asio::ip::tcp::acceptor first(io);
  std::string bound;
  ASSERT_TRUE(ListenOn(first, "127.0.0.1:0", "listen", &bound).ok());
  boost::asio::ip::tcp::acceptor second(io);
  std::string unused;
  absl::Status busy = ListenOn(second, bound, "listen", &unused);
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.message().find("cannot listen on"), absl::string_view::npos) << busy;
}

}  // namespace
}  // namespace voipd::adapters
