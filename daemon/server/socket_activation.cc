#include "daemon/server/socket_activation.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <utility>  // before asio (toolchain notes)

#include <thread>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/socket_base.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "daemon/logging.h"

namespace voipd {

absl::StatusOr<std::vector<int>> TakeActivatedSockets() {
  const int n = sd_listen_fds(/*unset_environment=*/1);
  if (n < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket activation: sd_listen_fds failed: ", std::strerror(-n)));
  }
  std::vector<int> fds;
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, /*listening=*/1) <= 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "socket activation: fd ", fd, " is not a listening stream socket (the .socket unit "
          "must use ListenStream= and Accept=no)"));
    }
    fds.push_back(fd);
  }
  return fds;
}

namespace {

// "127.0.0.1:50051", "[::1]:50051", "unix:/path"; "" for other families.
std::string DescribeSocketAddress(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = {};
  switch (addr.ss_family) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
      return absl::StrCat(host, ":", ntohs(in->sin_port));
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
      return absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&addr);
      return absl::StrCat("unix:", un->sun_path);
    }
  }
  return "";
}

}  // namespace

std::string DescribeSocket(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "fd:" + std::to_string(fd);
  std::string described = DescribeSocketAddress(addr);
  return described.empty() ? "fd:" + std::to_string(fd) : described;
}

namespace {

// Peer addresses by descriptor number, written at accept: a number is
// reused only after its connection closed, and then rewritten.
struct PeerTable {
  absl::Mutex mu;
  std::vector<std::string> by_fd ABSL_GUARDED_BY(mu);
};

PeerTable& Peers() {
  static PeerTable* table = new PeerTable();
  return *table;
}

// `peer` as accept4 filled it in, in gRPC's peer format.
std::string PeerName(const sockaddr_storage& peer) {
  switch (peer.ss_family) {
    case AF_INET: return absl::StrCat("ipv4:", DescribeSocketAddress(peer));
    case AF_INET6: return absl::StrCat("ipv6:", DescribeSocketAddress(peer));
    case AF_UNIX: return "unix:";
  }
  return "";
}

void RememberPeer(int fd, const sockaddr_storage& addr) {
  std::string peer = PeerName(addr);
  PeerTable& table = Peers();
  absl::MutexLock lock(&table.mu);
  if (table.by_fd.size() <= static_cast<size_t>(fd)) table.by_fd.resize(fd + 1);
  table.by_fd[fd] = std::move(peer);
}

}  // namespace

std::string ConnectionPeer(const std::string& grpc_peer) {
  int fd = -1;
  if (!absl::StartsWith(grpc_peer, "fd:") ||
      !absl::SimpleAtoi(absl::string_view(grpc_peer).substr(3), &fd) || fd < 0) {
    return grpc_peer;
  }
  PeerTable& table = Peers();
  absl::MutexLock lock(&table.mu);
  if (static_cast<size_t>(fd) >= table.by_fd.size() || table.by_fd[fd].empty()) return grpc_peer;
  return table.by_fd[fd];
}

using GenericAcceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

struct FdAcceptor::Impl {
  boost::asio::io_context io;
  std::vector<std::unique_ptr<GenericAcceptor>> acceptors;
  std::function<void(int)> on_connection;
  std::thread thread;
  // Kept open to be given up when the fd limit is reached (see Refuse).
  int reserve_fd = -1;
  absl::Time last_refusal_log = absl::InfinitePast();
  uint64_t refused_since_log = 0;

  // Waits for readiness and accepts with accept4 ourselves: the connection
  // goes to gRPC as a raw fd, never through an Asio socket object.
  void Wait(GenericAcceptor* acceptor) {
    acceptor->async_wait(boost::asio::socket_base::wait_read,
                         [this, acceptor](const boost::system::error_code& ec) {
                           if (ec) return;  // cancelled: shutting down
                           AcceptAll(acceptor->native_handle());
                           Wait(acceptor);
                         });
  }

  void AcceptAll(int listener) {
    for (;;) {
      // The peer's address comes with the connection: it tells TCP from
      // unix sockets and names the client, without a syscall for each.
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      const int fd = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) SetNoDelay(fd);
        RememberPeer(fd, peer);
        on_connection(fd);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        if (Refuse(listener)) continue;
      }
      return;  // EAGAIN: drained (anything else: try again at the next wake)
    }
  }

  // Out of descriptors, a pending connection would stay in the backlog and
  // the listener readable: waiting again would spin a core until a
  // descriptor frees up. Give up the reserve to accept it and close it at
  // once (the client sees the connection closed and retries), then take the
  // reserve back. True if one connection was refused.
  bool Refuse(int listener) {
    if (reserve_fd < 0) return false;
    close(reserve_fd);
    reserve_fd = -1;
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) close(fd);
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ++refused_since_log;
    const absl::Time now = absl::Now();
    if (now - last_refusal_log >= absl::Seconds(10)) {
      rlimit limit{};
      getrlimit(RLIMIT_NOFILE, &limit);
      LogError("server", absl::StrCat("out of file descriptors (limit ", limit.rlim_cur,
                                      "): refused ", refused_since_log,
                                      " connection(s); raise LimitNOFILE or find the client "
                                      "that does not close its connections"));
      last_refusal_log = now;
      refused_since_log = 0;
    }
    return true;
  }

  // What gRPC sets on the TCP connections it accepts itself: without it,
  // Nagle holds back small frames until the peer's ACK.
  static void SetNoDelay(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
};

FdAcceptor::FdAcceptor(std::vector<int> listeners, std::function<void(int fd)> on_connection)
    : impl_(std::make_unique<Impl>()) {
  impl_->on_connection = std::move(on_connection);
  impl_->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (int fd : listeners) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    auto acceptor = std::make_unique<GenericAcceptor>(impl_->io);
    boost::system::error_code ec;
    acceptor->assign(boost::asio::generic::stream_protocol(addr.ss_family, 0), fd, ec);
    if (ec) {
      LogError("server", absl::StrCat("socket activation: cannot use fd ", fd, ": ", ec.message()));
      continue;
    }
    acceptor->non_blocking(true, ec);
    impl_->Wait(acceptor.get());
    impl_->acceptors.push_back(std::move(acceptor));
  }
  Impl* raw = impl_.get();
  impl_->thread = std::thread([raw] {
    pthread_setname_np(pthread_self(), "voipd-accept");
    raw->io.run();
  });
}

FdAcceptor::~FdAcceptor() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->reserve_fd >= 0) close(impl_->reserve_fd);
  // The acceptors close their fds when destroyed with impl_.
}

}  // namespace voipd
