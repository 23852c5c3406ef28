// The plain-HTTP endpoint Twilio's callbacks reach (through a TLS reverse
// proxy): Boost.Beast on the shared io_context, on its own listen address.
// It only frames requests, with bounded headers, body and time, and hands
// each one to a handler; what a request means is the adapter's business.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace boost::asio {
class io_context;
}

namespace voipd::adapters::twilio {

struct WebhookRequest {
  std::string method;        // "POST"
  std::string target;        // "/status?session=..." as sent
  std::string content_type;  // "" when absent
  bool has_signature = false;
  std::string signature;     // X-Twilio-Signature
  std::string body;
};

struct WebhookResponse {
  unsigned status = 204;
  std::string body;
  std::string content_type = "text/plain";
};

using WebhookResponder = absl::AnyInvocable<void(WebhookResponse) &&>;
// Called on an io thread; must answer through the responder exactly once,
// from any thread, now or later.
using WebhookHandler = std::function<void(WebhookRequest, WebhookResponder)>;

struct WebhookServerOptions {
  std::string listen;                    // "127.0.0.1:8089", "[::1]:8089"
  uint32_t max_body_bytes = 65536;       // larger: 413
  uint32_t max_header_bytes = 8192;      // larger: 431
  absl::Duration read_timeout = absl::Seconds(10);
  uint32_t max_connections = 256;        // more: closed at once
};

class WebhookServer : public std::enable_shared_from_this<WebhookServer> {
 public:
  // Binds synchronously, so that a busy or invalid address fails the
  // system's creation (CONFIGURATION_ERROR naming webhook.listen).
  static absl::StatusOr<std::shared_ptr<WebhookServer>> Start(boost::asio::io_context* io,
                                                              WebhookServerOptions options,
                                                              WebhookHandler handler);
  ~WebhookServer();

  // "127.0.0.1:8089": the bound address.
  std::string local_address() const { return local_address_; }
  // Closes the listener and every open connection. Thread-safe, idempotent.
  void Stop();

 private:
  class Session;
  struct Impl;
  WebhookServer(WebhookServerOptions options, WebhookHandler handler);
  void Accept();

  const WebhookServerOptions options_;
  const WebhookHandler handler_;
  std::unique_ptr<Impl> impl_;
  std::string local_address_;

  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd::adapters::twilio
