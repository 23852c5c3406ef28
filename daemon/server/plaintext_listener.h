// The plaintext `listen` addresses voipd binds itself instead of leaving
// them to gRPC: gRPC 1.51's listener stops accepting for good after one
// accept4 fails with EMFILE (grpc/grpc#20418), while FdAcceptor
// (socket_activation.h) refuses connections until descriptors free up and
// then serves again. Accepted connections go to gRPC with
// AddInsecureChannelFromFd, which has no TLS: TLS listeners stay gRPC's.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace voipd {

struct PlaintextListener {
  int fd = -1;              // listening, non-blocking, close-on-exec
  std::string bound;        // `address` with a port 0 replaced by the real one
  std::string unix_path;    // unix sockets: the file to remove at shutdown
};

// Binds and listens on "unix:PATH", "unix:///ABS", "IP:PORT" or "[IPv6]:PORT".
// nullopt for the forms left to gRPC (host names, gRPC schemes such as
// "ipv4:" or "dns:", an empty host), which it resolves its own way.
absl::StatusOr<std::optional<PlaintextListener>> BindPlaintextListener(
    const std::string& address);

}  // namespace voipd
