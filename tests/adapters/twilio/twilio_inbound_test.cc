// Inbound calls and re-adoption in the twilio adapter: the /voice/incoming
// webhook against a fake core (signature required, duplicate deliveries,
// the TwiML answer, a refusal by the core), the caller's conference events
// and status callbacks, the readopt decision, and the liveness probe the
// watchdog sends (which needs the same assembled adapter). Requests are signed with
// the adapter's own ComputeSignature, the code path the signature vectors
// (tests/fixtures/twilio) check against Twilio's library.
#include "adapters/twilio/twilio_adapter.h"

#include <pthread.h>

#include <utility>  // before asio (toolchain notes)
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/twilio/call_progress.h"
#include "adapters/twilio/twilio_config.h"
#include "adapters/twilio/twilio_form.h"
#include "adapters/twilio/twilio_signature.h"
#include "adapters/twilio/twilio_twiml.h"
#include "voip/config/v1/twilio.pb.h"

namespace voipd::adapters::twilio {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kWait = std::chrono::seconds(10);
constexpr char kAccountSid[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kToken[] = "0123456789abcdef0123456789abcdef";
constexpr char kPublicUrl[] = "https://voipd.example.test/twilio";
constexpr char kCallSid[] = "CA00000000000000000000000000000001";

class FakeSecrets final : public SecretReader {
 public:
  absl::StatusOr<std::string> ReadSecretFile(absl::string_view path) const override {
    if (path == "account_sid") return std::string(kAccountSid);
    if (path == "auth_token") return std::string(kToken);
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
};

class FakeHost final : public CallHost {
 public:
  absl::StatusOr<voip::v1::CallSession> AcceptInbound(absl::string_view system,
                                                       InboundCall call) override {
    std::lock_guard<std::mutex> lock(mu);
    accepted.push_back(call);
    if (!refuse.ok()) return refuse;
    voip::v1::CallSession session;
    session.set_session_id(absl::StrCat("in-", accepted.size()));
    session.set_system_name(std::string(system));
    session.set_direction(voip::v1::CALL_DIRECTION_INBOUND);
    session.set_provider_call_id(call.provider_call_id);
    return session;
  }
  void PlaceCall(absl::string_view, PlaceCallRequest, SessionCallback done) override {
    std::move(done)(absl::UnimplementedError("not in this test"));
  }
  absl::StatusOr<std::unique_ptr<CallWatch>> WatchSystem(
      absl::string_view, std::function<void(const voip::v1::CallEvent&)>) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::StatusOr<ApiCaller> Authenticate(absl::string_view) const override {
    return absl::UnimplementedError("not in this test");
  }
  bool AuthenticationRequired() const override { return false; }
  absl::StatusOr<ApiCaller> Reauthenticate(const ApiCaller& caller) const override {
    return caller;  // no token table here
  }
  std::unique_ptr<CallWatch> WatchTokens(std::function<void()>) override { return nullptr; }

  size_t Count() {
    std::lock_guard<std::mutex> lock(mu);
    return accepted.size();
  }

  std::mutex mu;
  std::vector<InboundCall> accepted;
  absl::Status refuse = absl::OkStatus();
};

class FakeSink final : public CallEventSink {
 public:
  void OnProviderEvent(ProviderEvent event) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  bool Wait(const std::string& session, ProviderEventKind kind) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return CountLocked(session, kind) > 0; });
  }
  size_t Count(const std::string& session, ProviderEventKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    return CountLocked(session, kind);
  }
  size_t Total() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }

 private:
  size_t CountLocked(const std::string& session, ProviderEventKind kind) {
    size_t n = 0;
    for (const auto& e : events_) n += e.session_id == session && e.kind == kind;
    return n;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ProviderEvent> events_;
};

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

class TwilioInboundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (adapter_) adapter_->Shutdown();
    adapter_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  void Start(bool inbound_enabled, const std::string& greeting = "") {
    voip::config::v1::TwilioAdapterConfig config;
    config.set_account_sid_file("account_sid");
    config.set_auth_token_file("auth_token");
    // Nothing listens there: these tests never reach the REST API.
    config.set_base_url("http://127.0.0.1:9");
    config.set_default_from("+15005550006");
    config.mutable_webhook()->set_listen("127.0.0.1:8089");
    config.mutable_webhook()->set_public_url(kPublicUrl);
    config.set_callback_timeout("1h");  // no fetch after silence during a test
    config.mutable_inbound()->set_enabled(inbound_enabled);
    config.mutable_inbound()->set_greeting(greeting);
    ASSERT_TRUE(ValidateTwilioConfig(config).ok());
    TwilioSettings settings = SettingsFromConfig(config);
    settings.webhook_listen = "127.0.0.1:0";
    AdapterContext context;
    context.system_name = "twilio";
    context.events = &sink_;
    context.io = &io_;
    context.secrets = &secrets_;
    context.host = &host_;
    auto adapter = TwilioAdapter::Create(settings, context);
    ASSERT_TRUE(adapter.ok()) << adapter.status();
    adapter_ = *adapter;
  }

  // POSTs a form to the webhook listener; signed for public_url + target
  // with `token` unless `sign` is false.
  Reply Post(const std::string& target, const FormParams& params, bool sign = true,
             const std::string& token = kToken) {
    const std::string address = adapter_->webhook_address();
    const size_t colon = address.rfind(':');
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(asio::ip::make_address(address.substr(0, colon)),
                                 static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))));
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "voipd.example.test");
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    if (sign) {
      req.set("X-Twilio-Signature",
              ComputeSignature(token, absl::StrCat(kPublicUrl, target), params));
    }
    req.body() = EncodeForm(params);
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return Reply{res.result_int(), std::string(res[http::field::content_type]), res.body()};
  }

  static FormParams Incoming(const std::string& sid = kCallSid) {
    return {{"AccountSid", kAccountSid}, {"CallSid", sid},          {"From", "+12015550100"},
            {"To", "+15005550006"},      {"CallStatus", "ringing"}, {"Direction", "inbound"},
            {"ApiVersion", "2010-04-01"}};
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  FakeSecrets secrets_;
  FakeHost host_;
  FakeSink sink_;
  std::shared_ptr<TwilioAdapter> adapter_;
};

// The strand runs on the io_context the watchdog keepalive runs on; the
// REST client's HTTP thread is the adapter's own, so the probe goes there.
TEST_F(TwilioInboundTest, CheckAliveAnswersFromTheHttpThread) {
  Start(/*inbound_enabled=*/false);
  std::mutex mu;
  std::condition_variable cv;
  std::string thread;
  adapter_->CheckAlive([&] {
    char name[16] = {0};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    std::lock_guard<std::mutex> lock(mu);
    thread = name;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kWait, [&] { return !thread.empty(); }));
  EXPECT_EQ(thread, "twilio-http");
}

TEST_F(TwilioInboundTest, SignedCallIsAcceptedAndAnsweredWithConferenceTwiml) {
  Start(true, "Please hold & wait");
  Reply r = Post("/voice/incoming", Incoming());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.content_type, "application/xml");
  ASSERT_EQ(host_.Count(), 1u);
  EXPECT_EQ(host_.accepted[0].provider_call_id, kCallSid);
  EXPECT_EQ(host_.accepted[0].from, "+12015550100");
  EXPECT_EQ(host_.accepted[0].to, "+15005550006");
  EXPECT_TRUE(absl::StrContains(r.body, "<Response><Say>Please hold &amp; wait</Say><Dial>"))
      << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, ">voipd-in-1</Conference>")) << r.body;
  EXPECT_TRUE(absl::StrContains(
      r.body, "statusCallback=\"https://voipd.example.test/twilio/conference?session=in-1\""))
      << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "statusCallbackEvent=\"join leave\"")) << r.body;
  // The core announces initiating and ringing itself: nothing from the adapter.
  EXPECT_EQ(sink_.Total(), 0u);
}

TEST_F(TwilioInboundTest, UnsignedOrForgedCallIsRefusedWithoutEffect) {
  Start(true);
  EXPECT_EQ(Post("/voice/incoming", Incoming(), /*sign=*/false).status, 403u);
  EXPECT_EQ(Post("/voice/incoming", Incoming(), true, "another-token").status, 403u);
  EXPECT_EQ(host_.Count(), 0u);
  // The same request, correctly signed, is then taken: the refusals left
  // no trace that would make it a "duplicate".
  EXPECT_EQ(Post("/voice/incoming", Incoming()).status, 200u);
  EXPECT_EQ(host_.Count(), 1u);
}

TEST_F(TwilioInboundTest, DuplicateDeliveryGetsTheSameAnswerAndOneSession) {
  Start(true);
  Reply first = Post("/voice/incoming", Incoming());
  Reply second = Post("/voice/incoming", Incoming());
  ASSERT_EQ(first.status, 200u);
  ASSERT_EQ(second.status, 200u);
  EXPECT_EQ(first.body, second.body);
  EXPECT_EQ(host_.Count(), 1u);
  // Another call is another session.
  Reply other = Post("/voice/incoming", Incoming("CA00000000000000000000000000000002"));
  EXPECT_TRUE(absl::StrContains(other.body, ">voipd-in-2</Conference>")) << other.body;
  EXPECT_EQ(host_.Count(), 2u);
}

TEST_F(TwilioInboundTest, RefusedByTheCoreIsRejected) {
  Start(true);
  host_.refuse = absl::UnavailableError("voipd is shutting down");
  Reply r = Post("/voice/incoming", Incoming());
  ASSERT_EQ(r.status, 200u);
  EXPECT_TRUE(absl::StrContains(r.body, "<Response><Reject/></Response>")) << r.body;
  EXPECT_FALSE(absl::StrContains(r.body, "Conference")) << r.body;
  // A duplicate of a refused call is refused again without asking the core.
  host_.refuse = absl::OkStatus();
  Reply again = Post("/voice/incoming", Incoming());
  EXPECT_TRUE(absl::StrContains(again.body, "<Reject/>")) << again.body;
  EXPECT_EQ(host_.Count(), 1u);
}

TEST_F(TwilioInboundTest, DisabledInboundIsNotFound) {
  Start(false);
  EXPECT_EQ(Post("/voice/incoming", Incoming()).status, 404u);
  EXPECT_EQ(host_.Count(), 0u);
}

TEST_F(TwilioInboundTest, MalformedCallSidIsBadRequest) {
  Start(true);
  EXPECT_EQ(Post("/voice/incoming", Incoming("CA-not-a-sid")).status, 400u);
  EXPECT_EQ(host_.Count(), 0u);
}

TEST_F(TwilioInboundTest, JoinAnswersAndStatusCallbackEndsOnce) {
  Start(true);
  ASSERT_EQ(Post("/voice/incoming", Incoming()).status, 200u);
  const FormParams join = {{"AccountSid", kAccountSid},
                           {"ConferenceSid", "CF00000000000000000000000000000001"},
                           {"CallSid", kCallSid},
                           {"StatusCallbackEvent", "participant-join"}};
  ASSERT_EQ(Post("/conference?session=in-1", join).status, 204u);
  ASSERT_TRUE(sink_.Wait("in-1", ProviderEventKind::kAnswered));
  // The number's status callback names no session: found by CallSid.
  const FormParams completed = {{"AccountSid", kAccountSid}, {"CallSid", kCallSid},
                                {"CallStatus", "completed"}, {"Direction", "inbound"}};
  ASSERT_EQ(Post("/status", completed).status, 204u);
  ASSERT_TRUE(sink_.Wait("in-1", ProviderEventKind::kEnded));
  ASSERT_EQ(Post("/status", completed).status, 204u);
  ASSERT_EQ(Post("/conference?session=in-1", join).status, 204u);
  // A duplicate delivery of the ended call's webhook is hung up, not re-created.
  Reply late = Post("/voice/incoming", Incoming());
  EXPECT_TRUE(absl::StrContains(late.body, "<Hangup/>")) << late.body;
  // Every request above was answered after the adapter applied it (same
  // strand), so nothing more is on its way.
  EXPECT_EQ(sink_.Count("in-1", ProviderEventKind::kEnded), 1u);
  EXPECT_EQ(sink_.Count("in-1", ProviderEventKind::kAnswered), 1u);
  EXPECT_EQ(host_.Count(), 1u);
}

// ---------------------------------------------------------------- readopt

TEST(TwilioReadoptTest, LiveCallsAreTakenOver) {
  ReadoptDecision d = DecideReadopt("s", voip::v1::CALL_STATUS_CONNECTED, "in-progress");
  EXPECT_TRUE(d.alive);
  EXPECT_FALSE(d.event.has_value());  // nothing changed while voipd was down
  EXPECT_EQ(d.progress.phase(), CallPhase::kConnected);

  d = DecideReadopt("s", voip::v1::CALL_STATUS_ON_HOLD, "in-progress");
  EXPECT_TRUE(d.alive);
  EXPECT_FALSE(d.event.has_value());

  d = DecideReadopt("s", voip::v1::CALL_STATUS_RINGING, "ringing");
  EXPECT_TRUE(d.alive);
  EXPECT_FALSE(d.event.has_value());
  EXPECT_EQ(d.progress.phase(), CallPhase::kRinging);

  d = DecideReadopt("s", voip::v1::CALL_STATUS_INITIATING, "queued");
  EXPECT_TRUE(d.alive);
  EXPECT_FALSE(d.event.has_value());
}

TEST(TwilioReadoptTest, AnsweredWhileDownReportsAnswered) {
  for (auto stored : {voip::v1::CALL_STATUS_INITIATING, voip::v1::CALL_STATUS_RINGING}) {
    ReadoptDecision d = DecideReadopt("s", stored, "in-progress");
    ASSERT_TRUE(d.alive);
    ASSERT_TRUE(d.event.has_value());
    EXPECT_EQ(d.event->kind, ProviderEventKind::kAnswered);
    EXPECT_EQ(d.event->session_id, "s");
    // The tracker continues from there: a later completed ends it once.
    StatusReport completed;
    completed.call_status = "completed";
    auto end = d.progress.Apply("s", completed, false);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->kind, ProviderEventKind::kEnded);
    EXPECT_FALSE(d.progress.Apply("s", completed, false).has_value());
  }
  ReadoptDecision d = DecideReadopt("s", voip::v1::CALL_STATUS_INITIATING, "ringing");
  ASSERT_TRUE(d.event.has_value());
  EXPECT_EQ(d.event->kind, ProviderEventKind::kRinging);
}

TEST(TwilioReadoptTest, FinishedOrUnknownCallsAreNotTakenOver) {
  for (const char* status : {"completed", "busy", "failed", "no-answer", "canceled", "bogus", ""}) {
    EXPECT_FALSE(DecideReadopt("s", voip::v1::CALL_STATUS_CONNECTED, status).alive) << status;
    EXPECT_FALSE(DecideReadopt("s", voip::v1::CALL_STATUS_RINGING, status).alive) << status;
  }
  // A stored terminal status is never revived.
  EXPECT_FALSE(DecideReadopt("s", voip::v1::CALL_STATUS_DISCONNECTED, "in-progress").alive);
}

TEST(TwilioTwimlTest, InboundAndRefusalTwiml) {
  const std::string t = InboundTwiml("", "voipd-x", "");
  EXPECT_EQ(t,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial><Conference "
            "startConferenceOnEnter=\"true\" endConferenceOnExit=\"true\" beep=\"false\">"
            "voipd-x</Conference></Dial></Response>");
  EXPECT_EQ(RejectTwiml(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Reject/></Response>");
  EXPECT_EQ(HangupTwiml(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>");
}

}  // namespace
}  // namespace voipd::adapters::twilio
