#include "adapters/twilio/webhook_server.h"

#include <utility>  // before asio (toolchain notes)
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/tcp_listener.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters::twilio {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct WebhookServer::Impl {
  explicit Impl(asio::io_context* io_in) : io(io_in), acceptor(asio::make_strand(*io_in)) {}
  asio::io_context* io;
  tcp::acceptor acceptor;
};

// One connection: read a request, let the handler answer, write, repeat
// while the client keeps the connection alive.
class WebhookServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<WebhookServer> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  // From any thread.
  void Close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options_.max_body_bytes);
    parser_->header_limit(server_->options_.max_header_bytes);
    stream_.expires_after(absl::ToChronoNanoseconds(server_->options_.read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->OnRead(ec);
                     });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      stream_.close();
      return;
    }
    if (ec) {
      // Refused before any handler sees it: nothing can change.
      WebhookResponse r;
      r.status = ec == http::error::body_limit     ? 413
                 : ec == http::error::header_limit ? 431
                                                   : 400;
      r.body = ec == http::error::body_limit     ? "request body too large\n"
               : ec == http::error::header_limit ? "request header fields too large\n"
                                                 : "malformed request\n";
      Write(std::move(r), /*keep_alive=*/false, 11);
      return;
    }
    auto& req = parser_->get();
    WebhookRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.content_type = std::string(req[http::field::content_type]);
    auto sig = req.find("X-Twilio-Signature");
    request.has_signature = sig != req.end();
    if (request.has_signature) request.signature = std::string(sig->value());
    request.body = std::move(req.body());
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    // The handler may answer later from another thread; the write goes
    // back through this connection's strand.
    stream_.expires_never();
    server_->handler_(std::move(request),
                      [self = shared_from_this(), keep_alive, version](WebhookResponse r) mutable {
                        asio::post(self->stream_.get_executor(),
                                   [self, r = std::move(r), keep_alive, version]() mutable {
                                     self->Write(std::move(r), keep_alive, version);
                                   });
                      });
  }

  void Write(WebhookResponse r, bool keep_alive, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "voipd");
    if (!r.body.empty()) res->set(http::field::content_type, r.content_type);
    res->keep_alive(keep_alive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(absl::ToChronoNanoseconds(server_->options_.read_timeout));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          self->stream_.close();
                          return;
                        }
                        self->Read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<WebhookServer> server_;
};

WebhookServer::WebhookServer(WebhookServerOptions options, WebhookHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

WebhookServer::~WebhookServer() = default;

absl::StatusOr<std::shared_ptr<WebhookServer>> WebhookServer::Start(
    asio::io_context* io, WebhookServerOptions options, WebhookHandler handler) {
  std::shared_ptr<WebhookServer> server(new WebhookServer(std::move(options), std::move(handler)));
  server->impl_ = std::make_unique<Impl>(io);
  if (absl::Status s = ListenOn(server->impl_->acceptor, server->options_.listen,
                                "webhook.listen", &server->local_address_);
      !s.ok()) {
    return s;
  }
  server->Accept();
  return server;
}

void WebhookServer::Accept() {
  impl_->acceptor.async_accept(
      asio::make_strand(*impl_->io),
      [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->impl_->acceptor.is_open()) return;
        if (!ec) {
          auto session = std::make_shared<Session>(std::move(socket), self);
          bool accepted = false;
          {
            absl::MutexLock lock(&self->mu_);
            for (auto it = self->sessions_.begin(); it != self->sessions_.end();) {
              it = it->expired() ? self->sessions_.erase(it) : std::next(it);
            }
            if (!self->stopped_ && self->sessions_.size() < self->options_.max_connections) {
              self->sessions_.insert(session);
              accepted = true;
            }
          }
          // Over the limit the socket closes with `session`: a flood of
          // idle connections cannot exhaust descriptors or memory.
          if (accepted) session->Run();
        }
        self->Accept();
      });
}

void WebhookServer::Stop() {
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    sessions.swap(sessions_);
  }
  asio::post(impl_->acceptor.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->impl_->acceptor.close(ec);
  });
  for (auto& weak : sessions) {
    if (auto s = weak.lock()) s->Close();
  }
}

}  // namespace voipd::adapters::twilio
