#include "adapters/api/tcp_listener.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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


absl::Status ListenOn(boost::asio::ip::tcp::acceptor& acceptor, const std::string& listen,
                      const std::string& field, std::string* bound) {
  namespace asio = boost::asio;
  using asio::ip::tcp;
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (colon == std::string::npos || ec ||
      !absl::SimpleAtoi(absl::string_view(listen).substr(colon + 1), &port) || port > 65535) {
    return ConfigurationError(
        absl::StrCat(field, ": '", listen, "' is not IP:PORT (e.g. \"127.0.0.1:8089\")"), field);
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
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
