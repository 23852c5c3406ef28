#include "daemon/observability/metrics_http_server.h"

#include <pthread.h>

#include <utility>  // before asio (toolchain notes)

#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "adapters/api/tcp_listener.h"
#include "absl/strings/str_cat.h"

namespace voipd {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// One request per connection: Prometheus scrapes are infrequent and small.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const MetricsHttpServer::Render* render)
      : stream_(std::move(socket)), render_(render) {}

  void Start() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](boost::beast::error_code ec, size_t) {
                       if (!ec) self->Reply();
                     });
  }

 private:
  void Reply() {
    const bool ok = request_.method() == http::verb::get &&
                    (request_.target() == "/metrics" || request_.target() == "/");
    response_.version(request_.version());
    response_.keep_alive(false);
    response_.result(ok ? http::status::ok : http::status::not_found);
    response_.set(http::field::content_type,
                  ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain");
    response_.body() = ok ? (*render_)() : "not found: try GET /metrics\n";
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      [self = shared_from_this()](boost::beast::error_code, size_t) {
                        boost::beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                      });
  }

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  http::response<http::string_body> response_;
  const MetricsHttpServer::Render* render_;
};

}  // namespace

struct MetricsHttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  Render render;
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), &render)->Start();
      Accept();
    });
  }
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, Render render) {
  // The config loader has checked `listen` the same way (ParseIpListen).
  absl::StatusOr<tcp::endpoint> parsed = adapters::ParseIpListen(listen, "metrics.listen");
  if (!parsed.ok()) return absl::InvalidArgumentError(parsed.status().message());
  const tcp::endpoint endpoint = *parsed;
  boost::system::error_code ec;
  auto impl = std::make_unique<Impl>();
  impl->render = std::move(render);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("metrics.listen: cannot listen on ", listen, ": ", ec.message()));
  }
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    pthread_setname_np(pthread_self(), "voipd-metrics");
    raw->io.run();
  });
  return std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(std::move(impl)));
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsHttpServer::~MetricsHttpServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string MetricsHttpServer::address() const {
  boost::system::error_code ec;
  const tcp::endpoint ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "";
  const std::string host = ep.address().to_string();
  return ep.address().is_v6() ? absl::StrCat("[", host, "]:", ep.port())
                              : absl::StrCat(host, ":", ep.port());
}

}  // namespace voipd
