#include "daemon/server/plaintext_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <utility>  // before asio (toolchain notes)

#include <boost/asio/ip/address.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace voipd {
namespace {

absl::Status CannotListen(const std::string& address, int err) {
  return absl::UnavailableError(
      absl::StrCat("cannot listen on ", address, ": ", std::strerror(err)));
}

// Owns a descriptor until released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

absl::StatusOr<std::optional<PlaintextListener>> BindUnix(const std::string& address) {
  std::string path = address.substr(5);
  if (absl::StartsWith(path, "//")) path = path.substr(2);  // unix:///abs/path
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("listen: '", address,
                                                   "' is not a usable unix socket path"));
  }
  // Like gRPC: a socket file left by an earlier run is replaced, any other
  // file is not.
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return CannotListen(address, errno);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd.get(), SOMAXCONN) != 0) {
    return CannotListen(address, errno);
  }
  return PlaintextListener{fd.release(), address, path};
}

absl::StatusOr<std::optional<PlaintextListener>> BindIp(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = address.substr(0, colon);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &port) || port > 65535) {
    return std::nullopt;
  }
  boost::system::error_code ec;
  const boost::asio::ip::address ip = boost::asio::ip::make_address(host, ec);
  // "ipv4:1.2.3.4:5" and bare IPv6 are gRPC's forms; so are host names.
  if (ec || (ip.is_v6() && !bracketed)) return std::nullopt;

  sockaddr_storage storage{};
  socklen_t len = 0;
  if (ip.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    const auto bytes = ip.to_v4().to_bytes();
    std::memcpy(&in->sin_addr, bytes.data(), bytes.size());
    len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    const auto bytes = ip.to_v6().to_bytes();
    std::memcpy(&in6->sin6_addr, bytes.data(), bytes.size());
    in6->sin6_scope_id = ip.to_v6().scope_id();
    len = sizeof(sockaddr_in6);
  }
  Fd fd(socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return CannotListen(address, errno);
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), len) != 0 ||
      listen(fd.get(), SOMAXCONN) != 0) {
    return CannotListen(address, errno);
  }
  std::string bound = address;
  if (port == 0) {
    sockaddr_storage local{};
    socklen_t local_len = sizeof(local);
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &local_len);
    const uint16_t real = ntohs(local.ss_family == AF_INET
                                    ? reinterpret_cast<const sockaddr_in*>(&local)->sin_port
                                    : reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port);
    bound = absl::StrCat(address.substr(0, colon + 1), real);
  }
  return PlaintextListener{fd.release(), std::move(bound), ""};
}

}  // namespace

absl::StatusOr<std::optional<PlaintextListener>> BindPlaintextListener(
    const std::string& address) {
  if (absl::StartsWith(address, "unix:")) return BindUnix(address);
  return BindIp(address);
}

}  // namespace voipd
