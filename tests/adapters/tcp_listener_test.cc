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
  for (const std::string bad :
       {"8089", "example.com:80", "127.0.0.1:99999", "127.0.0.1:x", "", "::1:8089", "[::1:8089"}) {
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

TEST(TcpListenerTest, CheckListenAddressAcceptsWhatVoipdCanListenOn) {
  for (const std::string good :
       {"127.0.0.1:50051", "127.0.0.1:0", "[::1]:50051", "localhost:65535", "0.0.0.0:1",
        "ipv4:127.0.0.1:5", "dns:localhost:7", "unix:/run/voipd/voipd.sock",
        "unix:///run/voipd.sock", "unix-abstract:voipd"}) {
    EXPECT_TRUE(CheckListenAddress(good, /*allow_unix=*/true).ok()) << good;
  }
}

TEST(TcpListenerTest, CheckListenAddressSaysWhatIsWrong) {
  const std::pair<std::string, std::string> cases[] = {
      {"localhost", "no port"},           // gRPC would listen on 443
      {"127.0.0.1:99999", "0 to 65535"},  // gRPC would wrap it to 34463
      {"127.0.0.1:-1", "0 to 65535"},
      {"127.0.0.1:+80", "0 to 65535"},
      {"127.0.0.1:", "0 to 65535"},
      {":50051", "no host"},
      {"::1:50051", "brackets"},
      {"[::1]", "no port"},
      {"[]:1", "unclosed or empty"},
      {"[::1:50051", "unclosed or empty"},
      {"unix:", "unix socket path"},
      {"unix://", "unix socket path"},
      {"unix:/" + std::string(120, 'x'), "unix socket path"},
      {"unix-abstract:", "unix socket path"},
  };
  for (const auto& [address, why] : cases) {
    const absl::Status s = CheckListenAddress(address, /*allow_unix=*/true);
    ASSERT_FALSE(s.ok()) << address;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_NE(s.message().find(why), absl::string_view::npos) << address << ": " << s;
    EXPECT_NE(s.message().find("'" + address + "'"), absl::string_view::npos) << s;
  }
  const absl::Status unix = CheckListenAddress("unix:/tmp/m.sock", /*allow_unix=*/false);
  EXPECT_NE(unix.message().find("not host:port"), absl::string_view::npos) << unix;
}

}  // namespace
}  // namespace voipd::adapters
