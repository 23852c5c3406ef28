// The webrtc adapter's own HTTP(S) listener (Boost.Beast on the shared
// io_context): serves the static softphone page from web_root and upgrades
// GET /ws to the signaling WebSocket. It frames and bounds traffic (header
// sizes, message sizes, connection count, heartbeat); what a message means
// is the adapter's business.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace boost::asio {
class io_context;
}

namespace voipd::adapters::webrtc {

// One page's WebSocket. Thread-safe.
class PageConnection {
 public:
  virtual ~PageConnection() = default;
  virtual uint64_t id() const = 0;
  // Queues a text frame; frames go out in order. Dropped once closed.
  virtual void Send(std::string text) = 0;
  // Closes once the frames queued before it are written, so that a last
  // error frame reaches the page.
  virtual void Close() = 0;
};
using PageConnectionPtr = std::shared_ptr<PageConnection>;

// Called on io threads; one connection's calls never overlap, and
// on_closed is the last one (exactly once, after on_open).
struct WebServerHandlers {
  std::function<void(PageConnectionPtr)> on_open;
  std::function<void(uint64_t id, std::string text)> on_message;
  std::function<void(uint64_t id)> on_closed;
};

struct WebServerOptions {
  std::string listen = "127.0.0.1:8089";
  std::string web_root;  // must exist
  // PEM text; both empty = plain HTTP/WS.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Silence (no frame, no pong to our pings at half of it) closes the socket.
  absl::Duration heartbeat_timeout = absl::Seconds(3);
  uint32_t max_connections = 256;
  std::vector<std::string> allowed_origins;
  // Frames up to this size reach on_message (which rejects > 64 KiB with a
  // reply); larger ones close the connection (WebSocket 1009).
  uint32_t max_frame_bytes = 1 << 20;
};

class WebServer {
 public:
  // Binds synchronously: a busy or invalid address fails the system's
  // creation (CONFIGURATION_ERROR naming `listen`).
  static absl::StatusOr<std::shared_ptr<WebServer>> Start(boost::asio::io_context* io,
                                                          WebServerOptions options,
                                                          WebServerHandlers handlers);
  virtual ~WebServer() = default;
  // "127.0.0.1:8089": the bound address.
  virtual std::string local_address() const = 0;
  // Closes the listener and every connection. Thread-safe, idempotent.
  virtual void Stop() = 0;
};

}  // namespace voipd::adapters::webrtc
