// Opening an adapter's own TCP listener (twilio webhooks, webrtc pages):
// "IP:PORT" from config to a listening acceptor, with errors that name the
// config field, and the bound address back as text (port 0 resolved).
#pragma once

#include <utility>  // before asio (toolchain notes)
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace voipd::adapters {

// Binds and listens `acceptor` on `listen` ("127.0.0.1:8089", "[::1]:0",
// "localhost:8089"). CONFIGURATION_ERROR naming `field` when `listen` is not
// IP:PORT or the port cannot be bound. On success `bound` is "IP:PORT".
// True for addresses only this host can reach: unix:..., 127.0.0.0/8,
// [::1] and localhost (with or without a port or a gRPC ipv4:/ipv6: scheme).
// The daemon's listener policy and adapters' own listeners share it.
bool IsLocalAddress(const std::string& address);

// OK if `address` is one voipd can listen on: "host:port" or "[v6]:port"
// with a port of 0–65535 (0 picks one), gRPC's "ipv4:"/"ipv6:"/"dns:"
// prefixes allowed, and with `allow_unix` also "unix:PATH" and
// "unix-abstract:NAME". Otherwise InvalidArgument saying what is wrong
// (without a field name; the caller adds it). Checked when the config is
// loaded, so that --check-config catches it: gRPC itself would listen on 443
// for an address without a port and wrap a port above 65535.
absl::Status CheckListenAddress(const std::string& address, bool allow_unix);

// `listen` as ListenOn reads it ("IP:PORT", "[v6]:PORT", "localhost:PORT"),
// for factories that check it before anything binds (--check-config).
// CONFIGURATION_ERROR naming `field` when it is not IP:PORT.
absl::StatusOr<boost::asio::ip::tcp::endpoint> ParseIpListen(const std::string& listen,
                                                            const std::string& field);

absl::Status ListenOn(boost::asio::ip::tcp::acceptor& acceptor, const std::string& listen,
                      const std::string& field, std::string* bound);

}  // namespace voipd::adapters
