// One HTTP(S) exchange at a time per request, many at once: a libcurl multi
// handle driven by one thread this object owns (never a thread per call).
// The multi handle keeps a pool of persistent connections, so consecutive
// requests to Twilio reuse one TLS session. TLS peer and host verification
// are always on. Knows nothing about Twilio: retries and error meaning live
// in TwilioRestClient.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace voipd::adapters::twilio {

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string url;             // absolute
  std::string body;            // POST: application/x-www-form-urlencoded
  std::string user;            // HTTP Basic credentials (never logged)
  std::string password;
  // Open a new connection instead of reusing a pooled one. libcurl silently
  // re-sends a request whose reused connection closed without an answer
  // (it assumes the server dropped an idle connection); for a POST that
  // creates something that could create it twice.
  bool fresh_connection = false;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;  // the raw Retry-After header, "" when absent
};

// Why no HTTP response came back; the difference matters for retries.
enum class TransportFailure {
  kNone,
  kNotSent,   // DNS or TCP connect failed, or connect timed out: Twilio never saw it
  kTls,       // TLS handshake or certificate verification failed
  kTimeout,   // the request timed out after it may have been sent
  kIo,        // the connection broke after the request may have been sent
  kTooLarge,  // the response exceeded the size limit
  kShutdown,  // the transport stopped
};

struct HttpResult {
  std::optional<HttpResponse> response;  // set when failure == kNone
  TransportFailure failure = TransportFailure::kNone;
  std::string error;  // libcurl's description; never contains credentials
};

struct TransportOptions {
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(10);
  size_t max_response_bytes = 4 << 20;
  std::string user_agent = "voipd-twilio/0.1";
};

using HttpCallback = absl::AnyInvocable<void(HttpResult) &&>;

class HttpTransport {
 public:
  explicit HttpTransport(TransportOptions options);
  ~HttpTransport();  // Stop()
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Thread-safe. `done` runs exactly once, on the transport thread (or on
  // the caller's thread, with kShutdown, after Stop()).
  void Send(HttpRequest request, HttpCallback done);
  // Thread-safe. Runs `alive` on the transport thread the next time its
  // loop comes round (at most a poll interval later), so that the daemon's
  // watchdog sees a hung thread; after Stop(), at once on the caller's.
  void CheckAlive(absl::AnyInvocable<void() &&> alive);
  // Completes everything pending with kShutdown and joins the thread.
  // Idempotent; must not be called from inside a callback.
  void Stop();

 private:
  struct Transfer;
  void Run();
  void Start(std::unique_ptr<Transfer> transfer);
  void Finish(Transfer* transfer, int curl_code);

  const TransportOptions options_;
  void* multi_ = nullptr;  // CURLM*, kept out of the header
  std::thread thread_;

  absl::Mutex mu_;
  std::deque<std::pair<HttpRequest, HttpCallback>> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::AnyInvocable<void() &&>> probes_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  // Owned by the transport thread only.
  std::vector<std::unique_ptr<Transfer>> active_;
};

}  // namespace voipd::adapters::twilio
