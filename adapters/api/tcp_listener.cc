#include "adapters/api/tcp_listener.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters {
namespace {

// "host:port" / "[v6]:port" / "ipv4:host:port" → host.
std::string HostOf(std::string address) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "dns:"}) {
    if (absl::StartsWith(address, scheme)) address = address.substr(scheme.size());
  }
  if (!address.empty() && address.front() == '[') {
    const size_t end = address.find(']');
    return end == std::string::npos ? address : address.substr(1, end - 1);
  }
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace

bool IsLocalAddress(const std::string& address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  const std::string host = HostOf(address);
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 as a dotted quad: "127.evil.example" is a name, not loopback.
  std::vector<absl::string_view> octets = absl::StrSplit(host, '.');
  if (octets.size() != 4 || octets[0] != "127") return false;
  for (absl::string_view octet : octets) {
    uint32_t value = 0;
    if (!absl::SimpleAtoi(octet, &value) || value > 255) return false;
  }
  return true;
}

absl::Status CheckListenAddress(const std::string& address, bool allow_unix) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "' ", why));
  };
  for (absl::string_view unix_scheme : {"unix:", "unix-abstract:"}) {
    if (!absl::StartsWith(address, unix_scheme)) continue;
    if (!allow_unix) return bad("is not host:port (a unix socket is not possible here)");
    std::string path = address.substr(unix_scheme.size());
    if (unix_scheme == "unix:" && absl::StartsWith(path, "//")) path = path.substr(2);
    // sockaddr_un's sun_path holds 108 bytes with the terminating NUL.
    if (path.empty() || path.size() >= 108) {
      return bad("is not a usable unix socket path (e.g. unix:/run/voipd/voipd.sock)");
    }
    return absl::OkStatus();
  }
  absl::string_view rest = address;
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "dns:"}) {
    if (absl::ConsumePrefix(&rest, scheme)) break;
  }
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(rest, "[")) {
    const size_t end = rest.find("]");
    if (end == absl::string_view::npos || end == 1) return bad("has an unclosed or empty [...]");
    host = rest.substr(1, end - 1);
    if (rest.size() <= end + 1 || rest[end + 1] != ':') {
      return bad("has no port: write [host]:port, e.g. [::1]:50051");
    }
    port = rest.substr(end + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == absl::string_view::npos) {
      return bad("has no port: write host:port, e.g. 127.0.0.1:50051 (port 0 picks one)");
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return bad("needs brackets around an IPv6 address, e.g. [::1]:50051");
    }
  }
  if (host.empty()) return bad("has no host: write host:port, e.g. 127.0.0.1:50051");
  uint32_t number = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(port, &number) || number > 65535) {
    return bad("has no valid port: it must be a number from 0 to 65535 (0 picks one)");
  }
  return absl::OkStatus();
}

absl::StatusOr<boost::asio::ip::tcp::endpoint> ParseIpListen(const std::string& listen,
                                                            const std::string& field) {
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  if (colon == std::string::npos || ec ||
      !absl::SimpleAtoi(absl::string_view(listen).substr(colon + 1), &port) || port > 65535) {
    return ConfigurationError(
        absl::StrCat(field, ": '", listen, "' is not IP:PORT (e.g. \"127.0.0.1:8089\")"), field);
  }
  return boost::asio::ip::tcp::endpoint(address, static_cast<uint16_t>(port));
}

absl::Status ListenOn(boost::asio::ip::tcp::acceptor& acceptor, const std::string& listen,
                      const std::string& field, std::string* bound) {
  namespace asio = boost::asio;
  using asio::ip::tcp;
  absl::StatusOr<tcp::endpoint> parsed = ParseIpListen(listen, field);
  if (!parsed.ok()) return parsed.status();
  const tcp::endpoint endpoint = *parsed;
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return ConfigurationError(
        absl::StrCat(field, ": cannot listen on ", listen, ": ", ec.message()), field);
  }
  const tcp::endpoint local = acceptor.local_endpoint(ec);
  *bound = local.address().is_v6()
               ? absl::StrCat("[", local.address().to_string(), "]:", local.port())
               : absl::StrCat(local.address().to_string(), ":", local.port());
  return absl::OkStatus();
}

}  // namespace voipd::adapters
