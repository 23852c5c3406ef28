// The webrtc adapter with fake core services (token table, call placement,
// event sink) and scripted pages: WebSocket clients over loopback that send
// what the softphone page sends. Covers what a real browser cannot be made
// to do on cue: refusing or never confirming a hold, a third page meddling.
#include "adapters/webrtc/webrtc_adapter.h"

#include <utility>  // before asio (toolchain notes)
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "adapters/api/voip_error.h"
#include "gtest/gtest.h"

namespace voipd::adapters::webrtc {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using json = nlohmann::json;
using tcp = asio::ip::tcp;

constexpr auto kWait = std::chrono::seconds(10);

class FakeHost final : public CallHost {
 public:
  absl::StatusOr<voip::v1::CallSession> AcceptInbound(absl::string_view, InboundCall) override {
    return absl::UnimplementedError("");
  }
  // Plays the core: a new session id, then the adapter's StartCall.
  void PlaceCall(absl::string_view, PlaceCallRequest request, SessionCallback done) override {
    DialRequest dial;
    dial.session_id = "placed-" + std::to_string(++placed_);
    dial.target_kind = TargetKind::kIdentity;
    dial.target = request.to;
    dial.from = request.from;
    last_labels = request.labels;
    last_token = request.token;
    adapter->StartCall(dial, [id = dial.session_id, done = std::move(done)](
                                 absl::StatusOr<DialResult> r) mutable {
      if (!r.ok()) {
        std::move(done)(r.status());
        return;
      }
      voip::v1::CallSession session;
      session.set_session_id(id);
      std::move(done)(session);
    });
  }
  absl::StatusOr<std::unique_ptr<CallWatch>> WatchSystem(
      absl::string_view, std::function<void(const voip::v1::CallEvent&)>) override {
    return std::unique_ptr<CallWatch>(new CallWatch());
  }
  absl::StatusOr<ApiCaller> Authenticate(absl::string_view token) const override {
    absl::StatusOr<ApiCaller> caller = Lookup(token);
    if (during_authenticate) std::exchange(during_authenticate, nullptr)();
    return caller;
  }
  absl::StatusOr<ApiCaller> Lookup(absl::string_view token) const {
    std::lock_guard<std::mutex> lock(tokens_mu_);
    ApiCaller caller;
    if (revoked_.count(std::string(token)) != 0) {
      return UnauthenticatedError("invalid bearer token");
    } else if (token == "rw-token") {
      caller.name = "agents";
      caller.can_read = true;
      caller.can_write = !writers_read_only_;
      caller.labels = {{"tenant", "acme"}};
    } else if (token == "rw2-token") {
      caller.name = "agents-2";
      caller.can_read = caller.can_write = true;
    } else if (token == "ro-token") {
      caller.name = "viewers";
      caller.can_read = true;
    } else {
      return UnauthenticatedError("invalid bearer token");
    }
    caller.token_sha256 = std::string(token);  // the fake's stand-in for a digest
    return caller;
  }
  bool AuthenticationRequired() const override { return true; }
  absl::StatusOr<ApiCaller> Reauthenticate(const ApiCaller& caller) const override {
    absl::StatusOr<ApiCaller> now = Lookup(caller.token_sha256.value_or(""));
    if (!now.ok()) {
      return UnauthenticatedError("tokens were reloaded: token '" + caller.name +
                                  "' is no longer accepted");
    }
    return now;
  }
  std::unique_ptr<CallWatch> WatchTokens(std::function<void()> on_change) override {
    on_tokens_ = std::move(on_change);
    return std::make_unique<CallWatch>();
  }
  // Plays a reload of the token table: `revoke` no longer authenticates, and
  // rw-token keeps or loses calls:write.
  void Reload(std::set<std::string> revoke, bool writers_read_only = false) {
    {
      std::lock_guard<std::mutex> lock(tokens_mu_);
      revoked_ = std::move(revoke);
      writers_read_only_ = writers_read_only;
    }
    on_tokens_();
  }
  Adapter* adapter = nullptr;
  std::map<std::string, std::string> last_labels;
  std::string last_token;  // whose limits the core applies
  // Runs once inside the next Authenticate, after the token was looked up:
  // a reload racing a page's registration.
  mutable std::function<void()> during_authenticate;

 private:
  int placed_ = 0;
  mutable std::mutex tokens_mu_;
  std::set<std::string> revoked_;
  bool writers_read_only_ = false;
  std::function<void()> on_tokens_;
};

class FakeSink final : public CallEventSink {
 public:
  void OnProviderEvent(ProviderEvent event) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  // The first event of `session` of that kind, or nullopt after kWait.
  std::optional<ProviderEvent> Wait(const std::string& session, ProviderEventKind kind) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<ProviderEvent> hit;
    cv_.wait_for(lock, kWait, [&] {
      for (const auto& e : events_) {
        if (e.session_id == session && e.kind == kind) hit = e;
      }
      return hit.has_value();
    });
    return hit;
  }
  size_t Count(const std::string& session, ProviderEventKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& e : events_) n += e.session_id == session && e.kind == kind;
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ProviderEvent> events_;
};

// A scripted page: async reads on its own io thread (so pings are
// answered), writes posted to the same strand.
class Page {
 public:
  explicit Page(const std::string& address) : ws_(asio::make_strand(io_)) {
    const size_t colon = address.rfind(':');
    beast::get_lowest_layer(ws_).connect(
        tcp::endpoint(asio::ip::make_address(address.substr(0, colon)),
                      static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))));
    ws_.handshake(address, "/ws");
    Read();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Page() {
    asio::post(ws_.get_executor(), [this] {
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(ws_).socket().close(ec);
    });
    thread_.join();
  }
  void Send(const json& message) {
    asio::post(ws_.get_executor(), [this, text = message.dump()] {
      out_.push_back(text);
      if (out_.size() == 1) Write();
    });
  }
  // The first message received (in order, from `from_index`) for which
  // pred holds; a null json after kWait.
  json Wait(const std::function<bool(const json&)>& pred) {
    std::unique_lock<std::mutex> lock(mu_);
    json hit;
    cv_.wait_for(lock, kWait, [&] {
      for (const auto& m : got_) {
        if (pred(m)) {
          hit = m;
          return true;
        }
      }
      return false;
    });
    return hit;
  }
  json WaitType(const std::string& type) {
    return Wait([&](const json& m) { return m.value("type", "") == type; });
  }
  // The n-th (from 1) error answering a message of type `in_reply_to`.
  json WaitError(const std::string& in_reply_to, size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    json hit;
    cv_.wait_for(lock, kWait, [&] {
      size_t seen = 0;
      for (const auto& m : got_) {
        if (m.value("type", "") == "error" && m.value("in_reply_to", "") == in_reply_to &&
            ++seen == n) {
          hit = m;
          return true;
        }
      }
      return false;
    });
    return hit;
  }
  // Whether voipd closed the socket within kWait.
  bool WaitClosed() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return closed_; });
  }
  void Register(const std::string& identity, const std::string& token = "rw-token") {
    Send({{"type", "register"}, {"token", token}, {"identity", identity}});
    ASSERT_EQ(WaitType("registered").value("identity", ""), identity);
  }

 private:
  void Read() {
    ws_.async_read(buf_, [this](beast::error_code ec, size_t) {
      if (ec) {
        std::lock_guard<std::mutex> lock(mu_);
        closed_ = true;
        cv_.notify_all();
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        got_.push_back(json::parse(beast::buffers_to_string(buf_.data())));
        cv_.notify_all();
      }
      buf_.consume(buf_.size());
      Read();
    });
  }
  void Write() {
    ws_.async_write(asio::buffer(out_.front()), [this](beast::error_code ec, size_t) {
      if (ec) return;
      out_.pop_front();
      if (!out_.empty()) Write();
    });
  }

  asio::io_context io_;
  websocket::stream<beast::tcp_stream> ws_;
  std::thread thread_;
  beast::flat_buffer buf_;
  std::deque<std::string> out_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> got_;
  bool closed_ = false;
};

// The `type` message for call `id` that `page` received.
json WaitFor(Page& page, const std::string& type, const std::string& id) {
  return page.Wait([&](const json& m) {
    return m.value("type", "") == type && m.value("session_id", "") == id;
  });
}

class WebRtcAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
    voip::config::v1::WebRtcAdapterConfig config;
    config.set_listen("127.0.0.1:0");
    config.set_web_root(std::filesystem::temp_directory_path().string());
    config.set_heartbeat_timeout_ms(3000);
    config.set_command_timeout_seconds(0.5);
    config.set_connect_timeout_seconds(5);  // short for one test, long for a loaded CI
    (*config.mutable_numbers())["+12015550123"] = "bob";
    AdapterContext context;
    context.system_name = "webrtc";
    context.events = &sink_;
    context.io = &io_;
    context.host = &host_;
    auto adapter = WebRtcAdapter::Create(config, context);
    ASSERT_TRUE(adapter.ok()) << adapter.status();
    adapter_ = *adapter;
    host_.adapter = adapter_.get();
  }
  void TearDown() override {
    adapter_->Shutdown();
    adapter_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  absl::StatusOr<DialResult> Start(const std::string& id, const std::string& from,
                                   const std::string& to, absl::Duration ring = absl::ZeroDuration(),
                                   TargetKind kind = TargetKind::kIdentity) {
    DialRequest dial;
    dial.session_id = id;
    dial.target_kind = kind;
    dial.target = to;
    dial.from = from;
    dial.ring_timeout = ring;
    std::promise<absl::StatusOr<DialResult>> p;
    adapter_->StartCall(dial, [&p](absl::StatusOr<DialResult> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  absl::Status Toggle(const std::string& id, bool hold_not_mute, bool on) {
    std::promise<absl::Status> p;
    auto done = [&p](absl::Status s) { p.set_value(std::move(s)); };
    CallRef ref{id, ""};
    if (hold_not_mute) {
      adapter_->Hold(ref, on, done);
    } else {
      adapter_->Mute(ref, on, done);
    }
    auto f = p.get_future();
    if (f.wait_for(kWait) != std::future_status::ready) return absl::DeadlineExceededError("test");
    return f.get();
  }
  // alice calls bob; both pages connected. Each wait is for this call's
  // message: a page keeps every message it received, earlier calls' too.
  void Connect(Page& alice, Page& bob, const std::string& id) {
    ASSERT_TRUE(Start(id, "alice", "bob").ok());
    ASSERT_EQ(WaitFor(alice, "outgoing", id).value("to", ""), "bob");
    ASSERT_EQ(WaitFor(bob, "incoming", id).value("from", ""), "alice");
    bob.Send({{"type", "ringing"}, {"session_id", id}});
    ASSERT_TRUE(sink_.Wait(id, ProviderEventKind::kRinging));
    bob.Send({{"type", "accept"}, {"session_id", id}});
    ASSERT_FALSE(WaitFor(alice, "start", id).is_null());
    alice.Send({{"type", "sdp"}, {"session_id", id},
                {"description", {{"type", "offer"}, {"sdp", "v=0\r\n"}}}});
    EXPECT_EQ(WaitFor(bob, "sdp", id)["description"]["type"], "offer");
    bob.Send({{"type", "ice"}, {"session_id", id}, {"candidate", nullptr}});
    EXPECT_TRUE(WaitFor(alice, "ice", id)["candidate"].is_null());
    alice.Send({{"type", "state"}, {"session_id", id}, {"connection_state", "connected"}});
    bob.Send({{"type", "state"}, {"session_id", id}, {"connection_state", "connected"}});
    ASSERT_TRUE(sink_.Wait(id, ProviderEventKind::kAnswered));
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  FakeHost host_;
  FakeSink sink_;
  std::shared_ptr<WebRtcAdapter> adapter_;
};

TEST_F(WebRtcAdapterTest, HoldAndMuteChangeOnlyOnConfirmation) {
  Page alice(adapter_->local_address());
  Page bob(adapter_->local_address());
  alice.Register("alice");
  bob.Register("bob");
  Connect(alice, bob, "s1");

  // The page refuses: PROVIDER_ERROR, and no kHeld.
  auto hold = std::async(std::launch::async, [&] { return Toggle("s1", true, true); });
  json cmd = alice.WaitType("hold");
  ASSERT_TRUE(cmd.contains("op"));
  alice.Send({{"type", "held"}, {"session_id", "s1"}, {"held", true}, {"op", cmd["op"]},
              {"error", "renegotiation failed"}});
  absl::Status s = hold.get();
  EXPECT_EQ(GetErrorCode(s), voip::v1::PROVIDER_ERROR) << s;
  EXPECT_EQ(sink_.Count("s1", ProviderEventKind::kHeld), 0u);

  // The page never answers: PROVIDER_ERROR after command_timeout_seconds.
  s = Toggle("s1", false, true);
  EXPECT_EQ(GetErrorCode(s), voip::v1::PROVIDER_ERROR) << s;
  EXPECT_EQ(sink_.Count("s1", ProviderEventKind::kMuted), 0u);

  // Confirmed: kMuted, then OK.
  auto mute = std::async(std::launch::async, [&] { return Toggle("s1", false, true); });
  // Ops are numbered per adapter: 1 = the refused hold, 2 = the unanswered mute.
  json mute_cmd = alice.Wait([](const json& m) { return m.value("type", "") == "mute" &&
                                                        m.value("op", 0) >= 3; });
  alice.Send({{"type", "muted"}, {"session_id", "s1"}, {"muted", true}, {"op", mute_cmd["op"]}});
  EXPECT_TRUE(mute.get().ok());
  EXPECT_EQ(sink_.Count("s1", ProviderEventKind::kMuted), 1u);

  // A page-side hold by bob (no op) is reported too.
  bob.Send({{"type", "held"}, {"session_id", "s1"}, {"held", true}});
  EXPECT_TRUE(sink_.Wait("s1", ProviderEventKind::kHeld));
}

// A party whose token lost calls:write may still confirm a Hold or Mute the
// core sent it (the RPC's token authorized that), but not change the call
// itself: not without an op, not with an op that is not waiting on it, and
// not with one whose RPC already timed out.
TEST_F(WebRtcAdapterTest, AReadOnlyPartyCanOnlyConfirmWhatTheCoreAsked) {
  Page alice(adapter_->local_address());
  Page bob(adapter_->local_address());
  alice.Register("alice");
  bob.Register("bob");
  Connect(alice, bob, "s4");
  host_.Reload({}, /*writers_read_only=*/true);
  ASSERT_FALSE(alice.Wait([](const json& m) {
                      return m.value("type", "") == "registered" && !m.value("can_write", true);
                    }).is_null());

  alice.Send({{"type", "held"}, {"session_id", "s4"}, {"held", true}});
  EXPECT_EQ(alice.WaitError("held", 1).value("code", ""), "PERMISSION_DENIED_SCOPE");
  alice.Send({{"type", "held"}, {"session_id", "s4"}, {"held", true}, {"op", 999}});
  EXPECT_EQ(alice.WaitError("held", 2).value("code", ""), "PERMISSION_DENIED_SCOPE");

  // A gRPC Mute the page answers too late: the RPC failed, and the late
  // report is the page's own change, which it may not make.
  absl::Status late = Toggle("s4", false, true);
  EXPECT_EQ(GetErrorCode(late), voip::v1::PROVIDER_ERROR) << late;
  json mute_cmd = alice.WaitType("mute");
  alice.Send({{"type", "muted"}, {"session_id", "s4"}, {"muted", true}, {"op", mute_cmd["op"]}});
  EXPECT_EQ(alice.WaitError("muted", 1).value("code", ""), "PERMISSION_DENIED_SCOPE");

  // A gRPC Hold confirmed in time: OK, and the call is held.
  auto hold = std::async(std::launch::async, [&] { return Toggle("s4", true, true); });
  json cmd = alice.WaitType("hold");
  alice.Send({{"type", "held"}, {"session_id", "s4"}, {"held", true}, {"op", cmd["op"]}});
  EXPECT_TRUE(hold.get().ok());
  EXPECT_EQ(sink_.Count("s4", ProviderEventKind::kHeld), 1u);
  EXPECT_EQ(sink_.Count("s4", ProviderEventKind::kMuted), 0u);
}

TEST_F(WebRtcAdapterTest, OtherPagesCannotTouchTheCall) {
  Page alice(adapter_->local_address());
  Page bob(adapter_->local_address());
  Page carol(adapter_->local_address());
  alice.Register("alice");
  bob.Register("bob");
  carol.Register("carol");
  Connect(alice, bob, "s2");
  carol.Send({{"type", "hangup"}, {"session_id", "s2"}});
  json err = carol.WaitType("error");
  EXPECT_EQ(err.value("code", ""), "SESSION_NOT_FOUND");
  carol.Send({{"type", "sdp"}, {"session_id", "s2"},
              {"description", {{"type", "offer"}, {"sdp", "v=0\r\n"}}}});
  // Refused, not relayed: carol is not a party.
  EXPECT_EQ(carol.WaitError("sdp", 1).value("code", ""), "SESSION_NOT_FOUND");
  EXPECT_EQ(sink_.Count("s2", ProviderEventKind::kEnded), 0u);

  std::promise<absl::Status> ended;
  adapter_->EndCall({"s2", ""}, [&](absl::Status s) { ended.set_value(s); });
  EXPECT_TRUE(ended.get_future().get().ok());
  auto event = sink_.Wait("s2", ProviderEventKind::kEnded);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(event->source, voip::v1::HANGUP_SOURCE_LOCAL);
  EXPECT_EQ(alice.WaitType("ended").value("session_id", ""), "s2");
  EXPECT_EQ(bob.WaitType("ended").value("session_id", ""), "s2");
}

TEST_F(WebRtcAdapterTest, StartCallOutcomes) {
  Page alice(adapter_->local_address());
  Page bob(adapter_->local_address());
  Page viewer(adapter_->local_address());
  alice.Register("alice");
  bob.Register("bob");
  viewer.Register("vera", "ro-token");

  for (const char* from : {"", "ghost", "+12015550100"}) {
    auto r = Start(std::string("bad-") + from, from, "bob");
    ASSERT_FALSE(r.ok()) << from;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(GetVoipError(r.status())->field(), "from") << from;
  }
  auto unmapped = Start("num", "alice", "+12015550999", absl::ZeroDuration(), TargetKind::kE164);
  EXPECT_EQ(GetErrorCode(unmapped.status()), voip::v1::INVALID_NUMBER);

  // A number mapped to bob rings bob; nobody answers before ring_timeout.
  ASSERT_TRUE(Start("ring", "alice", "+12015550123", absl::Milliseconds(300), TargetKind::kE164)
                  .ok());
  EXPECT_EQ(bob.WaitType("incoming").value("session_id", ""), "ring");
  auto timeout = sink_.Wait("ring", ProviderEventKind::kEnded);
  ASSERT_TRUE(timeout);
  EXPECT_EQ(timeout->outcome, EndOutcome::kUnavailable);

  // Not registered, and a read-only page is not callable: unavailable.
  for (const char* to : {"nobody", "vera"}) {
    ASSERT_TRUE(Start(std::string("u-") + to, "alice", to).ok());
    auto e = sink_.Wait(std::string("u-") + to, ProviderEventKind::kEnded);
    ASSERT_TRUE(e) << to;
    EXPECT_EQ(e->outcome, EndOutcome::kUnavailable) << to;
  }

  // Rejected: busy.
  ASSERT_TRUE(Start("rej", "alice", "bob").ok());
  bob.Wait([](const json& m) { return m.value("session_id", "") == "rej"; });
  bob.Send({{"type", "reject"}, {"session_id", "rej"}});
  auto rejected = sink_.Wait("rej", ProviderEventKind::kEnded);
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->outcome, EndOutcome::kBusy);

  // The read-only page cannot dial; alice's dial pad goes through the core
  // with her identity and her token's labels.
  viewer.Send({{"type", "call"}, {"to", "bob"}, {"request_id", "r1"}});
  EXPECT_EQ(viewer.WaitType("error").value("code", ""), "PERMISSION_DENIED_SCOPE");
  alice.Send({{"type", "call"}, {"to", "bob"}, {"request_id", "r2"}});
  json result = alice.WaitType("call_result");
  EXPECT_EQ(result.value("request_id", ""), "r2");
  EXPECT_EQ(bob.Wait([&](const json& m) {
                  return m.value("type", "") == "incoming" &&
                         m.value("session_id", "") == result.value("session_id", "");
                }).value("from", ""),
            "alice");
  EXPECT_EQ(host_.last_labels, (std::map<std::string, std::string>{{"tenant", "acme"}}));
  EXPECT_EQ(host_.last_token, "agents");  // her token's limits apply, as to its StartCalls
}

// CONNECTED only when both pages report `connected`: a page reporting
// failed/closed before that ends the call FAILED (connect_failed), after it
// DISCONNECTED (connection_lost); nobody connecting within connect_timeout
// ends it FAILED (connect_timeout).
TEST_F(WebRtcAdapterTest, MediaThatNeverConnectsOrIsLostEndsTheCall) {
  Page alice(adapter_->local_address());
  Page bob(adapter_->local_address());
  alice.Register("alice");
  bob.Register("bob");
  auto answer = [&](const std::string& id) {
    ASSERT_TRUE(Start(id, "alice", "bob").ok());
    ASSERT_FALSE(WaitFor(bob, "incoming", id).is_null());
    bob.Send({{"type", "accept"}, {"session_id", id}});
    ASSERT_FALSE(WaitFor(alice, "start", id).is_null());
  };

  answer("f1");
  alice.Send({{"type", "state"}, {"session_id", "f1"}, {"connection_state", "connected"}});
  bob.Send({{"type", "state"}, {"session_id", "f1"}, {"connection_state", "failed"}});
  auto failed = sink_.Wait("f1", ProviderEventKind::kEnded);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->outcome, EndOutcome::kFailed);
  EXPECT_EQ(failed->source, voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_EQ(sink_.Count("f1", ProviderEventKind::kAnswered), 0u) << "one side is not connected";
  EXPECT_EQ(WaitFor(alice, "ended", "f1").value("reason", ""), "connect_failed");

  Connect(alice, bob, "f2");
  bob.Send({{"type", "state"}, {"session_id", "f2"}, {"connection_state", "closed"}});
  auto lost = sink_.Wait("f2", ProviderEventKind::kEnded);
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(WaitFor(alice, "ended", "f2").value("reason", ""), "connection_lost");

  answer("f3");  // answered, but no page ever reports its connection
  auto timed_out = sink_.Wait("f3", ProviderEventKind::kEnded);
  ASSERT_TRUE(timed_out);
  EXPECT_EQ(timed_out->outcome, EndOutcome::kFailed);
  EXPECT_EQ(sink_.Count("f3", ProviderEventKind::kAnswered), 0u);
  EXPECT_EQ(WaitFor(bob, "ended", "f3").value("reason", ""), "connect_timeout");
}

// Rules of who may ring whom and how a ringing call ends without an answer.
TEST_F(WebRtcAdapterTest, RingingRules) {
  Page alice(adapter_->local_address());
  Page bob(adapter_->local_address());
  alice.Register("alice");
  bob.Register("bob");

  // An agent cannot call itself.
  auto self = Start("self", "alice", "alice");
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.status().code(), absl::StatusCode::kInvalidArgument) << self.status();

  // A ringing page that hangs up declines: BUSY, as a reject.
  ASSERT_TRUE(Start("decline", "alice", "bob").ok());
  ASSERT_FALSE(WaitFor(bob, "incoming", "decline").is_null());
  bob.Send({{"type", "hangup"}, {"session_id", "decline"}});
  auto declined = sink_.Wait("decline", ProviderEventKind::kEnded);
  ASSERT_TRUE(declined);
  EXPECT_EQ(declined->outcome, EndOutcome::kBusy);

  // Every ringing page closes before anyone answers: UNAVAILABLE.
  {
    Page carl(adapter_->local_address());
    Page carl_tab(adapter_->local_address());
    carl.Register("carl");
    carl_tab.Register("carl");
    ASSERT_TRUE(Start("gone", "alice", "carl").ok());
    ASSERT_FALSE(WaitFor(carl, "incoming", "gone").is_null());
    ASSERT_FALSE(WaitFor(carl_tab, "incoming", "gone").is_null());
  }  // both of carl's pages close
  auto gone = sink_.Wait("gone", ProviderEventKind::kEnded);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->outcome, EndOutcome::kUnavailable);
}

TEST_F(WebRtcAdapterTest, ClosedPageEndsItsCall) {
  Page alice(adapter_->local_address());
  alice.Register("alice");
  {
    Page bob(adapter_->local_address());
    bob.Register("bob");
    Connect(alice, bob, "s3");
  }  // bob's socket closes
  auto event = sink_.Wait("s3", ProviderEventKind::kEnded);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(event->source, voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(alice.WaitType("ended").value("reason", ""), "page_closed");
}

TEST_F(WebRtcAdapterTest, AReloadThatRevokesAPagesTokenClosesThePageAndEndsItsCall) {
  // A page is a session opened with a token, like a gRPC stream: revoking
  // the token (a leaked one) must cut it, not wait for the page to leave.
  Page alice(adapter_->local_address());
  Page bob(adapter_->local_address());
  alice.Register("alice");
  bob.Register("bob", "rw2-token");
  Connect(alice, bob, "s4");

  host_.Reload({"rw2-token"});
  json error = bob.WaitType("error");
  EXPECT_EQ(error.value("code", ""), "AUTHENTICATION_FAILED");
  EXPECT_EQ(error.value("in_reply_to", ""), "register");
  EXPECT_EQ(error.value("message", ""),
            "tokens were reloaded: token 'agents-2' is no longer accepted");
  EXPECT_TRUE(bob.WaitClosed());
  auto event = sink_.Wait("s4", ProviderEventKind::kEnded);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(alice.WaitType("ended").value("reason", ""), "page_closed");

  // alice's token was kept: her page stays open and registered, and may
  // dial (bob is gone, so the call itself then ends unanswered).
  alice.Send({{"type", "call"}, {"to", "bob"}, {"request_id", "after"}});
  EXPECT_EQ(alice.Wait([](const json& m) {
                  return m.value("request_id", "") == "after";
                }).value("type", ""),
            "call_result");
}

TEST_F(WebRtcAdapterTest, AReloadDuringARegistrationIsNotMissed) {
  // The token is valid when looked up, and revoked by a reload before the
  // page is registered: that reload's recheck did not see the page yet.
  host_.during_authenticate = [this] { host_.Reload({"rw2-token"}); };
  Page bob(adapter_->local_address());
  bob.Send({{"type", "register"}, {"token", "rw2-token"}, {"identity", "bob"}});
  json error = bob.WaitType("error");
  EXPECT_EQ(error.value("code", ""), "AUTHENTICATION_FAILED");
  EXPECT_EQ(error.value("in_reply_to", ""), "register");
}

TEST_F(WebRtcAdapterTest, AReloadThatTakesCallsWriteMakesThePageReadOnly) {
  Page alice(adapter_->local_address());
  alice.Register("alice");
  host_.Reload({}, /*writers_read_only=*/true);
  // The page is told (its "registered" line now says read only) and its
  // dial pad is refused from here on; the page stays registered.
  EXPECT_FALSE(alice.Wait([](const json& m) {
                      return m.value("type", "") == "registered" && !m.value("can_write", true);
                    }).is_null());
  alice.Send({{"type", "call"}, {"to", "bob"}, {"request_id", "r1"}});
  EXPECT_EQ(alice.WaitType("error").value("code", ""), "PERMISSION_DENIED_SCOPE");
}

}  // namespace
}  // namespace voipd::adapters::webrtc
