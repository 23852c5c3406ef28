// systemd socket activation (sd_listen_fds(3)): the listening sockets a
// .socket unit passed us. gRPC 1.51 cannot adopt a listening socket, so
// FdAcceptor accepts on it and hands each connection to a callback (the gRPC
// server's AddInsecureChannelFromFd).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace voipd {

// The inherited listening stream sockets (empty when not socket-activated).
// Unsets LISTEN_FDS/LISTEN_PID so children do not inherit them. An error
// when an inherited fd is not a listening stream socket.
absl::StatusOr<std::vector<int>> TakeActivatedSockets();

// "127.0.0.1:50051", "[::1]:50051" or "unix:/run/voipd/voipd.sock".
std::string DescribeSocket(int fd);

// gRPC names a connection handed over by fd "fd:N" (its peer()); this gives
// the address FdAcceptor saw when it accepted it, in gRPC's own peer format
// ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:"), for audit lines.
// Anything else is returned as it is.
std::string ConnectionPeer(const std::string& grpc_peer);

class FdAcceptor {
 public:
  // Accepts on every fd of `listeners` (taking ownership) on a thread of its
  // own and calls `on_connection(fd)` with each accepted connection.
  FdAcceptor(std::vector<int> listeners, std::function<void(int fd)> on_connection);
  ~FdAcceptor();  // stops accepting and closes the listeners

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace voipd
