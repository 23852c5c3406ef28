#include "adapters/api/tcp_listener.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters {
namespace {

// "host:port" or "[v6]:port" split in two, the host without its brackets.
// `has_port` is false when no ":port" follows; `malformed` when a "[" is
// not closed or is empty. One split for every reader of listen addresses.
struct HostPort {
  absl::string_view host;
  absl::string_view port;
  bool bracketed = false;
  bool has_port = false;
  bool malformed = false;
};

HostPort SplitHostPort(absl::string_view address) {
  HostPort out;
  if (absl::StartsWith(address, "[")) {
    const size_t end = address.find(']');
    if (end == absl::string_view::npos || end == 1) {
      out.host = address;
      out.malformed = true;
      return out;
    }
    out.host = address.substr(1, end - 1);
    out.bracketed = true;
    out.has_port = address.size() > end + 1 && address[end + 1] == ':';
    if (out.has_port) out.port = address.substr(end + 2);
    return out;
  }
  const size_t colon = address.rfind(':');
  out.host = colon == absl::string_view::npos ? address : address.substr(0, colon);
  out.has_port = colon != absl::string_view::npos;
  if (out.has_port) out.port = address.substr(colon + 1);
  return out;
}

// gRPC's "ipv4:", "ipv6:" and "dns:" prefixes, removed.
absl::string_view WithoutScheme(absl::string_view address) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "dns:"}) {
    if (absl::ConsumePrefix(&address, scheme)) break;
  }
  return address;
}

// A port as written in a listen address: decimal, 0–65535.
bool ParsePort(absl::string_view text, uint16_t* port) {
  uint32_t number = 0;
  if (text.empty() || !std::all_of(text.begin(), text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(text, &number) || number > 65535) {
    return false;
  }
  *port = static_cast<uint16_t>(number);
  return true;
}

}  // namespace

bool IsLocalAddress(const std::string& address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  const std::string host(SplitHostPort(WithoutScheme(address)).host);
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
  const HostPort parts = SplitHostPort(WithoutScheme(address));
  if (parts.malformed) return bad("has an unclosed or empty [...]");
  if (!parts.has_port) {
    return bad("has no port: write host:port, e.g. 127.0.0.1:50051 (port 0 picks one)");
  }
  if (!parts.bracketed && absl::StrContains(parts.host, ':')) {
    return bad("needs brackets around an IPv6 address, e.g. [::1]:50051");
  }
  if (parts.host.empty()) return bad("has no host: write host:port, e.g. 127.0.0.1:50051");
  uint16_t port = 0;
  if (!ParsePort(parts.port, &port)) {
    return bad("has no valid port: it must be a number from 0 to 65535 (0 picks one)");
  }
  return absl::OkStatus();
}

absl::StatusOr<boost::asio::ip::tcp::endpoint> ParseIpListen(const std::string& listen,
                                                            const std::string& field) {
  const HostPort parts = SplitHostPort(listen);
  std::string host(parts.host);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  uint16_t port = 0;
  // An IPv6 address needs its brackets: "::1:8089" could be read two ways.
  if (parts.malformed || !parts.has_port || ec || (address.is_v6() && !parts.bracketed) ||
      !ParsePort(parts.port, &port)) {
    return ConfigurationError(
        absl::StrCat(field, ": '", listen, "' is not IP:PORT (e.g. \"127.0.0.1:8089\", \"[::1]:8089\")"),
        field);
  }
  return boost::asio::ip::tcp::endpoint(address, port);
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
