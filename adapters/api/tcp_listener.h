// Opening an adapter's own TCP listener (twilio webhooks, webrtc pages):
// "IP:PORT" from config to a listening acceptor, with errors that name the
// config field, and the bound address back as text (port 0 resolved).
#pragma once

#include <utility>  // before asio (toolchain notes)
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "absl/status/status.h"

namespace voipd::adapters {

// Binds and listens `acceptor` on `listen` ("127.0.0.1:8089", "[::1]:0",
// "localhost:8089"). CONFIGURATION_ERROR naming `field` when `listen` is not
// IP:PORT or the port cannot be bound. On success `bound` is "IP:PORT".
// True for addresses only this host can reach: unix:..., 127.0.0.0/8,
// [::1] and localhost (with or without a port or a gRPC ipv4:/ipv6: scheme).
// The daemon's listener policy and adapters' own listeners share it.
bool IsLocalAddress(const std::string& address);

absl::Status ListenOn(boost::asio::ip::tcp::acceptor& acceptor, const std::string& listen,
                      const std::string& field, std::string* bound);

}  // namespace voipd::adapters
