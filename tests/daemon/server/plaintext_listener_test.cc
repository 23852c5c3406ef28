// BindPlaintextListener: which `listen` forms voipd binds itself, the bound
// address it reports, and its errors. The accept side (FdAcceptor at the fd
// limit) is driven against the real daemon in
// tests/integration/production/test_resources.py.
#include "daemon/server/plaintext_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

bool IsListening(int fd) {
  int listening = 0;
  socklen_t len = sizeof(listening);
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening == 1;
}

TEST(PlaintextListenerTest, Ipv4PortZeroReportsTheRealPort) {
  auto bound = BindPlaintextListener("127.0.0.1:0");
  ASSERT_TRUE(bound.ok()) << bound.status();
  ASSERT_TRUE(bound->has_value());
  const PlaintextListener& l = **bound;
  EXPECT_TRUE(IsListening(l.fd));
  EXPECT_TRUE(absl::StartsWith(l.bound, "127.0.0.1:"));
  EXPECT_NE(l.bound, "127.0.0.1:0");
  EXPECT_TRUE(l.unix_path.empty());
  close(l.fd);
}

TEST(PlaintextListenerTest, BracketedIpv6) {
  auto bound = BindPlaintextListener("[::1]:0");
  ASSERT_TRUE(bound.ok()) << bound.status();
  ASSERT_TRUE(bound->has_value());
  EXPECT_TRUE(absl::StartsWith((*bound)->bound, "[::1]:"));
  close((*bound)->fd);
}

TEST(PlaintextListenerTest, FormsGrpcResolvesAreLeftToIt) {
  for (const char* address : {"localhost:0", "ipv4:127.0.0.1:0", "dns:///localhost:0", "::1:0",
                              ":0", "127.0.0.1"}) {
    auto bound = BindPlaintextListener(address);
    ASSERT_TRUE(bound.ok()) << address << ": " << bound.status();
    EXPECT_FALSE(bound->has_value()) << address;
  }
}

TEST(PlaintextListenerTest, PortInUseNamesTheAddress) {
  auto first = BindPlaintextListener("127.0.0.1:0");
  ASSERT_TRUE(first.ok() && first->has_value());
  auto second = BindPlaintextListener((*first)->bound);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(second.status().message(),
                                absl::StrCat("cannot listen on ", (*first)->bound)))
      << second.status();
  close((*first)->fd);
}

TEST(PlaintextListenerTest, UnixSocketReplacesAStaleSocketButNotAFile) {
  char dir[] = "/tmp/voipd-listener-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = absl::StrCat(dir, "/voipd.sock");
  auto first = BindPlaintextListener("unix:" + path);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->unix_path, path);
  EXPECT_EQ((*first)->bound, "unix:" + path);
  close((*first)->fd);  // the file stays, as after a crash

  auto again = BindPlaintextListener("unix://" + path);  // unix:///abs form
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(again->has_value());
  EXPECT_TRUE(IsListening((*again)->fd));
  close((*again)->fd);
  unlink(path.c_str());

  std::ofstream(path) << "not a socket";
  auto refused = BindPlaintextListener("unix:" + path);
  EXPECT_FALSE(refused.ok());
  std::ifstream kept(path);
  std::string text;
  std::getline(kept, text);
  EXPECT_EQ(text, "not a socket");
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace voipd
