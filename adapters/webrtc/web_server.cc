#include "adapters/webrtc/web_server.h"

#include <utility>  // before asio (toolchain notes)
#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/api/tcp_listener.h"
#include "adapters/api/voip_error.h"
#include "adapters/webrtc/static_files.h"

namespace voipd::adapters::webrtc {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr uint32_t kMaxHeaderBytes = 8192;
constexpr uint32_t kMaxRequestBody = 4096;  // the page only GETs
constexpr uintmax_t kMaxFileBytes = 4 << 20;
constexpr auto kHttpIdle = std::chrono::seconds(30);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

class Closable {
 public:
  virtual ~Closable() = default;
  virtual void CloseNow() = 0;
};

class ServerImpl final : public WebServer, public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(asio::io_context* io_in, WebServerOptions options_in, WebServerHandlers handlers_in)
      : io(io_in),
        options(std::move(options_in)),
        handlers(std::move(handlers_in)),
        acceptor(asio::make_strand(*io_in)) {}

  std::string local_address() const override { return local; }
  void Stop() override;
  void Accept();
  // False when stopped or (with enforce_limit) at max_connections.
  bool Track(const std::shared_ptr<Closable>& c, bool enforce_limit);
  bool OriginAllowed(beast::string_view origin, beast::string_view host) const;

  asio::io_context* io;
  const WebServerOptions options;
  const WebServerHandlers handlers;
  std::filesystem::path root;
  tcp::acceptor acceptor;
  std::optional<ssl::context> tls;
  std::string local;
  std::atomic<uint64_t> next_id{1};

 private:
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::weak_ptr<Closable>, std::owner_less<std::weak_ptr<Closable>>> conns_
      ABSL_GUARDED_BY(mu_);
};

template <class Stream>
void HardClose(Stream& stream) {
  beast::error_code ec;
  auto& socket = beast::get_lowest_layer(stream).socket();
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

// One signaling WebSocket.
template <class Stream>
class WsSession final : public PageConnection,
                        public Closable,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream stream, std::shared_ptr<ServerImpl> server)
      : ws_(std::move(stream)), server_(std::move(server)), id_(server_->next_id++) {}

  uint64_t id() const override { return id_; }

  void Accept(http::request<http::string_body> req) {
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket's own timeouts rule
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = std::chrono::seconds(5);
    timeout.idle_timeout = absl::ToChronoMilliseconds(server_->options.heartbeat_timeout);
    timeout.keep_alive_pings = true;  // ping at half the idle time; no pong = gone
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "voipd"); }));
    ws_.read_message_max(server_->options.max_frame_bytes);
    ws_.async_accept(req, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) {
        self->Finish();
        return;
      }
      self->opened_ = true;
      if (self->server_->handlers.on_open) self->server_->handlers.on_open(self);
      self->Read();
    });
  }

  void Send(std::string text) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), text = std::move(text)]() mutable {
      if (self->finished_) return;
      self->out_.push_back(std::move(text));
      if (self->out_.size() == 1) self->Write();
    });
  }

  void Close() override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
      if (self->out_.empty()) {
        HardClose(self->ws_);
      } else {
        self->close_when_written_ = true;  // Write closes after the last frame
      }
    });
  }
  void CloseNow() override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] { HardClose(self->ws_); });
  }

 private:
  void Read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->Finish();
        return;
      }
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (self->server_->handlers.on_message) {
        self->server_->handlers.on_message(self->id_, std::move(text));
      }
      self->Read();
    });
  }

  void Write() {
    ws_.text(true);
    ws_.async_write(asio::buffer(out_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) {
                        self->out_.clear();  // the read side sees the error and finishes
                        return;
                      }
                      self->out_.pop_front();
                      if (!self->out_.empty()) {
                        self->Write();
                      } else if (self->close_when_written_) {
                        HardClose(self->ws_);
                      }
                    });
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    out_.clear();
    HardClose(ws_);
    if (opened_ && server_->handlers.on_closed) server_->handlers.on_closed(id_);
  }

  websocket::stream<Stream> ws_;
  std::shared_ptr<ServerImpl> server_;
  const uint64_t id_;
  beast::flat_buffer buffer_;
  std::deque<std::string> out_;  // on the strand
  bool opened_ = false;
  bool finished_ = false;
  bool close_when_written_ = false;  // on the strand
};

// One HTTP connection: static files, or the upgrade to /ws.
template <class Stream>
class HttpSession final : public Closable, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream stream, std::shared_ptr<ServerImpl> server)
      : stream_(std::move(stream)), server_(std::move(server)) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        beast::get_lowest_layer(self->stream_).expires_after(kHandshakeTimeout);
        self->stream_.async_handshake(ssl::stream_base::server,
                                      [self](beast::error_code ec) {
                                        if (ec) {
                                          HardClose(self->stream_);
                                          return;
                                        }
                                        self->Read();
                                      });
      } else {
        self->Read();
      }
    });
  }

  void CloseNow() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { HardClose(self->stream_); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxRequestBody);
    beast::get_lowest_layer(stream_).expires_after(kHttpIdle);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->OnRead(ec);
                     });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      HardClose(stream_);
      return;
    }
    if (ec) {
      Respond(Simple(ec == http::error::header_limit ? http::status::request_header_fields_too_large
                     : ec == http::error::body_limit ? http::status::payload_too_large
                                                     : http::status::bad_request,
                     11, "malformed request\n"),
              false);
      return;
    }
    http::request<http::string_body> req = parser_->release();
    const beast::string_view target = req.target();
    const beast::string_view path = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req)) {
      if (path != "/ws") {
        Respond(Simple(http::status::not_found, req.version(), "not found\n"), false);
        return;
      }
      if (!server_->OriginAllowed(req[http::field::origin], req[http::field::host])) {
        Respond(Simple(http::status::forbidden, req.version(), "origin not allowed\n"), false);
        return;
      }
      auto ws = std::make_shared<WsSession<Stream>>(std::move(stream_), server_);
      if (!server_->Track(ws, /*enforce_limit=*/false)) return;  // stopped
      ws->Accept(std::move(req));
      return;
    }
    Respond(Serve(req), req.keep_alive());
  }

  static http::response<http::string_body> Simple(http::status status, unsigned version,
                                                  std::string body) {
    http::response<http::string_body> res(status, version);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    return res;
  }

  http::response<http::string_body> Serve(const http::request<http::string_body>& req) {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      auto res = Simple(http::status::method_not_allowed, req.version(), "method not allowed\n");
      res.set(http::field::allow, "GET, HEAD");
      return res;
    }
    absl::StatusOr<StaticFile> file = ResolveStaticFile(
        server_->root, absl::string_view(req.target().data(), req.target().size()));
    std::string body;
    if (file.ok()) {
      std::error_code size_ec;
      const uintmax_t size = std::filesystem::file_size(file->path, size_ec);
      std::ifstream in(file->path, std::ios::binary);
      if (size_ec || size > kMaxFileBytes || !in) {
        file = absl::NotFoundError("unreadable");
      } else {
        std::ostringstream data;
        data << in.rdbuf();
        body = std::move(data).str();
      }
    }
    if (!file.ok()) return Simple(http::status::not_found, req.version(), "not found\n");
    http::response<http::string_body> res(http::status::ok, req.version());
    res.set(http::field::content_type, file->content_type);
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Frame-Options", "DENY");
    res.set("Referrer-Policy", "no-referrer");
    res.set("Content-Security-Policy",
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    if (req.method() == http::verb::head) {
      res.content_length(body.size());
    } else {
      res.body() = std::move(body);
    }
    return res;
  }

  void Respond(http::response<http::string_body> res, bool keep_alive) {
    res.set(http::field::server, "voipd");
    res.keep_alive(keep_alive);
    if (res.body().size() > 0 || !res.has_content_length()) res.prepare_payload();
    auto shared = std::make_shared<http::response<http::string_body>>(std::move(res));
    beast::get_lowest_layer(stream_).expires_after(kHttpIdle);
    http::async_write(stream_, *shared,
                      [self = this->shared_from_this(), shared, keep_alive](beast::error_code ec,
                                                                            size_t) {
                        if (ec || !keep_alive) {
                          HardClose(self->stream_);
                          return;
                        }
                        self->Read();
                      });
  }

  Stream stream_;
  std::shared_ptr<ServerImpl> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

bool ServerImpl::Track(const std::shared_ptr<Closable>& c, bool enforce_limit) {
  absl::MutexLock lock(&mu_);
  for (auto it = conns_.begin(); it != conns_.end();) {
    it = it->expired() ? conns_.erase(it) : std::next(it);
  }
  if (stopped_) return false;
  if (enforce_limit && conns_.size() >= options.max_connections) return false;
  conns_.insert(c);
  return true;
}

bool ServerImpl::OriginAllowed(beast::string_view origin, beast::string_view host) const {
  if (origin.empty()) return true;  // not a browser; the token still decides
  for (const std::string& allowed : options.allowed_origins) {
    if (origin == allowed) return true;
  }
  // The page's own origin: "http(s)://" + the Host the browser connected to.
  const size_t scheme_end = origin.find("://");
  if (scheme_end == beast::string_view::npos || host.empty()) return false;
  const beast::string_view scheme = origin.substr(0, scheme_end);
  const bool scheme_ok = tls ? scheme == "https" : scheme == "http";
  return scheme_ok && origin.substr(scheme_end + 3) == host;
}

void ServerImpl::Accept() {
  acceptor.async_accept(
      asio::make_strand(*io), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
        if (!ec) {
          if (self->tls) {
            auto s = std::make_shared<HttpSession<TlsStream>>(
                TlsStream(PlainStream(std::move(socket)), *self->tls), self);
            if (self->Track(s, true)) s->Run();
          } else {
            auto s = std::make_shared<HttpSession<PlainStream>>(PlainStream(std::move(socket)),
                                                                self);
            // Over the limit the socket closes with `s`.
            if (self->Track(s, true)) s->Run();
          }
        }
        self->Accept();
      });
}

void ServerImpl::Stop() {
  std::set<std::weak_ptr<Closable>, std::owner_less<std::weak_ptr<Closable>>> conns;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    conns.swap(conns_);
  }
  asio::post(acceptor.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor.close(ec);
  });
  for (auto& weak : conns) {
    if (auto c = weak.lock()) c->CloseNow();
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<WebServer>> WebServer::Start(asio::io_context* io,
                                                            WebServerOptions options,
                                                            WebServerHandlers handlers) {
  std::error_code fs_ec;
  std::filesystem::path root = std::filesystem::canonical(options.web_root, fs_ec);
  if (fs_ec || !std::filesystem::is_directory(root)) {
    return ConfigurationError(
        absl::StrCat("web_root: '", options.web_root, "' is not a readable directory"), "web_root");
  }
  const bool use_tls = !options.tls_cert_pem.empty();
  beast::error_code ec;
  auto server = std::make_shared<ServerImpl>(io, std::move(options), std::move(handlers));
  server->root = std::move(root);
  if (use_tls) {
    server->tls.emplace(ssl::context::tls_server);
    server->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1);
    server->tls->use_certificate_chain(
        asio::buffer(server->options.tls_cert_pem.data(), server->options.tls_cert_pem.size()), ec);
    if (ec) return ConfigurationError("tls_cert_file: not a PEM certificate chain", "tls_cert_file");
    server->tls->use_private_key(
        asio::buffer(server->options.tls_key_pem.data(), server->options.tls_key_pem.size()),
        ssl::context::pem, ec);
    if (ec) {
      return ConfigurationError("tls_key_file: not a PEM private key for the certificate",
                                "tls_key_file");
    }
  }
  if (absl::Status s = ListenOn(server->acceptor, server->options.listen, "listen",
                                &server->local);
      !s.ok()) {
    return s;
  }
  server->Accept();
  return std::shared_ptr<WebServer>(server);
}

}  // namespace voipd::adapters::webrtc
