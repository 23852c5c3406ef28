// The webrtc adapter's listener over loopback: static files, the /ws
// upgrade, the heartbeat that detects a silent page, frame limits, and the
// adapter's refusal of a public listener when the daemon has no tokens.
#include "adapters/webrtc/web_server.h"

#include <utility>  // before asio (toolchain notes)
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "absl/synchronization/mutex.h"
#include "adapters/api/voip_error.h"
#include "adapters/webrtc/webrtc_adapter.h"
#include "gtest/gtest.h"

namespace voipd::adapters::webrtc {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
namespace fs = std::filesystem;

constexpr auto kDeadline = std::chrono::seconds(10);

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("voipd-webrtc-server-" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::ofstream(root_ / "index.html") << "<!doctype html><title>t</title>";
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    work_.reset();
    io_.stop();
    thread_.join();
    fs::remove_all(root_);
  }

  void Start(absl::Duration heartbeat = absl::Seconds(3)) {
    WebServerOptions options;
    options.listen = "127.0.0.1:0";
    options.web_root = root_.string();
    options.heartbeat_timeout = heartbeat;
    options.max_frame_bytes = 128 * 1024;
    WebServerHandlers handlers;
    handlers.on_open = [this](PageConnectionPtr conn) {
      absl::MutexLock lock(&mu_);
      conns_.push_back(conn);
    };
    handlers.on_message = [this](uint64_t id, std::string text) {
      absl::MutexLock lock(&mu_);
      messages_.push_back(std::move(text));
      // Echo, so the client sees the connection is alive.
      for (auto& c : conns_) {
        if (c->id() == id) c->Send("echo:" + std::to_string(messages_.back().size()));
      }
    };
    handlers.on_closed = [this](uint64_t id) {
      absl::MutexLock lock(&mu_);
      closed_.push_back(id);
    };
    auto server = WebServer::Start(&io_, std::move(options), std::move(handlers));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
    port_ = server_->local_address().substr(server_->local_address().rfind(':') + 1);
  }

  http::response<http::string_body> Get(const std::string& target) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(kDeadline);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                 static_cast<uint16_t>(std::stoi(port_))));
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "127.0.0.1:" + port_);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return res;
  }

  bool WaitClosed(size_t n) {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < until) {
      {
        absl::MutexLock lock(&mu_);
        if (closed_.size() >= n) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  fs::path root_;
  std::shared_ptr<WebServer> server_;
  std::string port_;
  absl::Mutex mu_;
  std::vector<PageConnectionPtr> conns_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> messages_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> closed_ ABSL_GUARDED_BY(mu_);
};

struct WsClient {
  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  void Connect(const std::string& port, const std::string& origin = "") {
    beast::get_lowest_layer(ws).expires_after(kDeadline);
    beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                      static_cast<uint16_t>(std::stoi(port))));
    beast::get_lowest_layer(ws).expires_never();
    if (!origin.empty()) {
      ws.set_option(websocket::stream_base::decorator(
          [origin](websocket::request_type& req) { req.set(http::field::origin, origin); }));
    }
    ws.handshake("127.0.0.1:" + port, "/ws");
  }
};

TEST_F(WebServerTest, ServesThePageAndRefusesOthers) {
  Start();
  auto index = Get("/");
  EXPECT_EQ(index.result(), http::status::ok);
  EXPECT_EQ(index[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_NE(index["Content-Security-Policy"].find("default-src 'self'"), beast::string_view::npos);
  EXPECT_EQ(index.body(), "<!doctype html><title>t</title>");
  EXPECT_EQ(Get("/../etc/passwd").result(), http::status::not_found);
  EXPECT_EQ(Get("/missing.js").result(), http::status::not_found);
}

TEST_F(WebServerTest, WebSocketMessagesBothWays) {
  Start();
  WsClient client;
  client.Connect(port_);
  client.ws.write(asio::buffer(std::string("hello")));
  beast::flat_buffer buffer;
  client.ws.read(buffer);
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "echo:5");
  client.ws.close(websocket::close_code::normal);
  EXPECT_TRUE(WaitClosed(1));
}

TEST_F(WebServerTest, ForeignOriginIsRefused) {
  Start();
  WsClient client;
  EXPECT_THROW(client.Connect(port_, "http://evil.example"), boost::system::system_error);
  WsClient same;
  same.Connect(port_, "http://127.0.0.1:" + port_);  // the page's own origin
}

TEST_F(WebServerTest, SilentPageIsClosedByTheHeartbeat) {
  Start(absl::Milliseconds(600));
  WsClient client;
  client.Connect(port_);
  // The client never reads, so it never answers the server's pings: the
  // server must give up on it by itself.
  EXPECT_TRUE(WaitClosed(1));
}

TEST_F(WebServerTest, AnsweringPageStaysOpenAcrossHeartbeats) {
  Start(absl::Milliseconds(600));
  WsClient client;
  client.Connect(port_);
  // Reading answers pings; several heartbeat periods pass with no data.
  beast::get_lowest_layer(client.ws).expires_never();
  auto reader = std::async(std::launch::async, [&] {
    beast::flat_buffer buffer;
    beast::error_code ec;
    client.ws.read(buffer, ec);
    return ec;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(closed_.empty());
    ASSERT_EQ(conns_.size(), 1u);
    conns_[0]->Send("still-here");
  }
  EXPECT_FALSE(reader.get());
}

TEST_F(WebServerTest, OversizedFrameClosesOnlyThatConnection) {
  Start();
  WsClient big;
  big.Connect(port_);
  beast::error_code ec;
  big.ws.write(asio::buffer(std::string(200 * 1024, 'x')), ec);
  EXPECT_TRUE(WaitClosed(1));
  WsClient ok;
  ok.Connect(port_);
  ok.ws.write(asio::buffer(std::string(70 * 1024, 'y')));  // reaches the handler
  beast::flat_buffer buffer;
  ok.ws.read(buffer);
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "echo:71680");
}

// A CallHost whose token table is empty: every token is "anonymous".
class OpenHost final : public CallHost {
 public:
  absl::StatusOr<voip::v1::CallSession> AcceptInbound(absl::string_view, InboundCall) override {
    return absl::UnimplementedError("");
  }
  void PlaceCall(absl::string_view, PlaceCallRequest, SessionCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  absl::StatusOr<std::unique_ptr<CallWatch>> WatchSystem(
      absl::string_view, std::function<void(const voip::v1::CallEvent&)>) override {
    return std::unique_ptr<CallWatch>(new CallWatch());
  }
  absl::StatusOr<ApiCaller> Authenticate(absl::string_view) const override {
    ApiCaller caller;
    caller.name = "anonymous";
    caller.can_read = caller.can_write = true;
    return caller;
  }
  bool AuthenticationRequired() const override { return false; }
  absl::StatusOr<ApiCaller> Reauthenticate(const ApiCaller& caller) const override {
    return caller;  // no token table here
  }
  std::unique_ptr<CallWatch> WatchTokens(std::function<void()>) override { return nullptr; }
};

TEST_F(WebServerTest, PublicListenerNeedsTokens) {
  OpenHost host;
  AdapterContext context;
  context.system_name = "webrtc";
  context.io = &io_;
  context.host = &host;
  voip::config::v1::WebRtcAdapterConfig config;
  config.set_listen("0.0.0.0:0");
  config.set_web_root(root_.string());
  auto adapter = WebRtcAdapter::Create(config, context);
  ASSERT_FALSE(adapter.ok());
  EXPECT_EQ(GetErrorCode(adapter.status()), voip::v1::CONFIGURATION_ERROR);
  EXPECT_EQ(GetVoipError(adapter.status())->field(), "listen");
  config.set_listen("127.0.0.1:0");
  EXPECT_TRUE(WebRtcAdapter::Create(config, context).ok());
}

}  // namespace
}  // namespace voipd::adapters::webrtc
