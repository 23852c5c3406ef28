#include "adapters/twilio/http_transport.h"

#include <pthread.h>

#include <mutex>

#include "adapters/twilio/curl_api.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace voipd::adapters::twilio {
namespace {

CURLM* Multi(void* p) { return static_cast<CURLM*>(p); }

void GlobalInitOnce() {
  // curl_global_init runs once inside the loader (curl_api.cc), before any
  // transport thread exists.
  Curl();
}

long Millis(absl::Duration d) { return static_cast<long>(absl::ToInt64Milliseconds(d)); }

}  // namespace

struct HttpTransport::Transfer {
  HttpRequest request;
  HttpCallback done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpResponse response;
  size_t max_bytes = 0;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {0};

  ~Transfer() {
    if (headers != nullptr) Curl().slist_free_all(headers);
    if (easy != nullptr) Curl().easy_cleanup(easy);
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * n;
    if (t->response.body.size() + bytes > t->max_bytes) {
      t->too_large = true;
      return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
    }
    t->response.body.append(data, bytes);
    return bytes;
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * n;
    absl::string_view line(data, bytes);
    if (absl::StartsWith(line, "HTTP/")) {
      // A new response begins (after a 100 Continue): forget the old one.
      t->response.content_type.clear();
      t->response.retry_after.clear();
      return bytes;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return bytes;
    const std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    const std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (name == "content-type") t->response.content_type = value;
    if (name == "retry-after") t->response.retry_after = value;
    return bytes;
  }
};

HttpTransport::HttpTransport(TransportOptions options) : options_(std::move(options)) {
  GlobalInitOnce();
  multi_ = Curl().multi_init();
  // Keep a few idle connections for reuse; Twilio traffic goes to one host.
  Curl().multi_setopt(Multi(multi_), CURLMOPT_MAXCONNECTS, 8L);
  thread_ = std::thread([this] { Run(); });
}

HttpTransport::~HttpTransport() {
  Stop();
  Curl().multi_cleanup(Multi(multi_));
}

void HttpTransport::Send(HttpRequest request, HttpCallback done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.emplace_back(std::move(request), std::move(done));
      Curl().multi_wakeup(Multi(multi_));
      return;
    }
  }
  HttpResult result;
  result.failure = TransportFailure::kShutdown;
  result.error = "the HTTP transport is stopped";
  std::move(done)(std::move(result));
}

void HttpTransport::CheckAlive(absl::AnyInvocable<void() &&> alive) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      probes_.push_back(std::move(alive));
      Curl().multi_wakeup(Multi(multi_));
      return;
    }
  }
  std::move(alive)();  // stopped: no loop left that could hang
}

void HttpTransport::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = stopping_ = true;
    Curl().multi_wakeup(Multi(multi_));
  }
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // called from a callback: the loop exits by itself
    } else {
      thread_.join();
    }
  }
}

void HttpTransport::Start(std::unique_ptr<Transfer> t) {
  CURL* easy = Curl().easy_init();
  t->easy = easy;
  t->max_bytes = options_.max_response_bytes;
  Curl().easy_setopt(easy, CURLOPT_URL, t->request.url.c_str());
  Curl().easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  Curl().easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  Curl().easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a threaded daemon
  Curl().easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  Curl().easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  Curl().easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, Millis(options_.connect_timeout));
  Curl().easy_setopt(easy, CURLOPT_TIMEOUT_MS, Millis(options_.request_timeout));
  Curl().easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  if (t->request.fresh_connection) Curl().easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  Curl().easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  Curl().easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
  if (!t->request.user.empty()) {
    Curl().easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    Curl().easy_setopt(easy, CURLOPT_USERNAME, t->request.user.c_str());
    Curl().easy_setopt(easy, CURLOPT_PASSWORD, t->request.password.c_str());
  }
  t->headers = Curl().slist_append(t->headers, "Accept: application/json");
  if (t->request.method == "POST") {
    t->headers =
        Curl().slist_append(t->headers, "Content-Type: application/x-www-form-urlencoded");
    // No "Expect: 100-continue" round trip before bodies over 1 KiB (TwiML).
    t->headers = Curl().slist_append(t->headers, "Expect:");
    Curl().easy_setopt(easy, CURLOPT_POST, 1L);
    Curl().easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.c_str());
    Curl().easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->request.body.size()));
  } else {
    Curl().easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  Curl().easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
  Curl().easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
  Curl().easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  Curl().easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  Curl().easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
  Curl().easy_setopt(easy, CURLOPT_PRIVATE, t.get());
  Curl().multi_add_handle(Multi(multi_), easy);
  active_.push_back(std::move(t));
}

void HttpTransport::Finish(Transfer* t, int code) {
  Curl().multi_remove_handle(Multi(multi_), t->easy);
  HttpResult result;
  const auto c = static_cast<CURLcode>(code);
  if (c == CURLE_OK) {
    Curl().easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->response.status);
    result.response = std::move(t->response);
  } else {
    result.error = t->error[0] != '\0' ? t->error : Curl().easy_strerror(c);
    // Zero when libcurl never got as far as sending the request.
    curl_off_t sending_at = 0;
    Curl().easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &sending_at);
    switch (c) {
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        result.failure = TransportFailure::kNotSent;
        break;
      case CURLE_OPERATION_TIMEDOUT:
        // A timeout before the request went out (DNS, TCP, TLS) cannot have
        // delivered it; after that, Twilio may have processed it.
        result.failure =
            sending_at == 0 ? TransportFailure::kNotSent : TransportFailure::kTimeout;
        break;
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        result.failure = TransportFailure::kTls;
        break;
      default:
        result.failure = t->too_large ? TransportFailure::kTooLarge : TransportFailure::kIo;
        if (t->too_large) result.error = "the response is larger than the limit";
        break;
    }
  }
  HttpCallback done = std::move(t->done);
  for (auto it = active_.begin(); it != active_.end(); ++it) {
    if (it->get() == t) {
      active_.erase(it);  // frees the easy handle; its connection stays pooled
      break;
    }
  }
  std::move(done)(std::move(result));
}

void HttpTransport::Run() {
  pthread_setname_np(pthread_self(), "twilio-http");
  while (true) {
    std::deque<std::pair<HttpRequest, HttpCallback>> incoming;
    std::vector<absl::AnyInvocable<void() &&>> probes;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      incoming.swap(queue_);
      probes.swap(probes_);
    }
    for (auto& alive : probes) std::move(alive)();
    for (auto& [request, done] : incoming) {
      auto t = std::make_unique<Transfer>();
      t->request = std::move(request);
      t->done = std::move(done);
      Start(std::move(t));
    }
    int running = 0;
    Curl().multi_perform(Multi(multi_), &running);
    int left = 0;
    while (CURLMsg* msg = Curl().multi_info_read(Multi(multi_), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      Curl().easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      Finish(t, msg->data.result);
    }
    Curl().multi_poll(Multi(multi_), nullptr, 0, 1000, nullptr);
  }
  // Stopping: everything not finished completes as kShutdown.
  std::vector<std::unique_ptr<Transfer>> active;
  active.swap(active_);
  std::deque<std::pair<HttpRequest, HttpCallback>> queued;
  std::vector<absl::AnyInvocable<void() &&>> probes;
  {
    absl::MutexLock lock(&mu_);
    queued.swap(queue_);
    probes.swap(probes_);
  }
  // A probe queued just before Stop() is answered, never dropped: the
  // watchdog would otherwise take the stopping adapter for a hung one.
  for (auto& alive : probes) std::move(alive)();
  for (auto& t : active) {
    Curl().multi_remove_handle(Multi(multi_), t->easy);
    HttpResult result;
    result.failure = TransportFailure::kShutdown;
    result.error = "the HTTP transport stopped";
    std::move(t->done)(std::move(result));
  }
  for (auto& [request, done] : queued) {
    HttpResult result;
    result.failure = TransportFailure::kShutdown;
    result.error = "the HTTP transport stopped";
    std::move(done)(std::move(result));
  }
}

}  // namespace voipd::adapters::twilio
