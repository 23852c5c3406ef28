// CoreCallHost: what adapters may ask of the core (inbound calls, calls their
// own endpoints place, token checks), against the real controller, registry,
// bus, authorizer and a TestAdapter.
#include "daemon/core/core_call_host.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "adapters/api/voip_error.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/call_state_machine.h"
#include "daemon/core/event_bus.h"
#include "daemon/core/idempotency_cache.h"
#include "daemon/security/scopes.h"
#include "daemon/security/token_hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/adapters/test_adapter.h"

namespace voipd {
namespace {

class CoreCallHostTest : public ::testing::Test {
 protected:
  CoreCallHostTest()
      : bus_(1000, 1000), registry_(&bus_, RegistryLimits{}), idempotency_(absl::Hours(1), 100),
        limiter_([this](const std::string& id) {
          absl::StatusOr<voip::v1::CallSession> s = registry_.Snapshot(id);
          return s.ok() && !IsTerminal(s->status());
        }),
        admission_(&limiter_, &metrics_),
        host_(&authorizer_, &admission_, &bus_) {
    adapters::Capabilities caps;
    caps.accepts_identity = true;
    test::TestAdapterOptions options;
    options.capabilities = caps;
    agents_ = std::make_shared<test::TestAdapter>("agents", &registry_, options);
    std::map<std::string, SystemEntry> entries;
    entries["agents"] = SystemEntry{"agents", "test", agents_, "test/agents"};
    controller_ = std::make_unique<CallController>(
        &registry_, &idempotency_, io_.io(),
        std::make_shared<const SystemTable>(entries, "agents", "US", std::vector<RouteRule>{}),
        ControllerLimits{absl::Milliseconds(200)});
  }
  ~CoreCallHostTest() override { io_.Stop(); }

  absl::StatusOr<voip::v1::CallSession> Place(adapters::PlaceCallRequest request) {
    absl::Notification done;
    absl::StatusOr<voip::v1::CallSession> result = absl::UnknownError("not called");
    host_.PlaceCall("agents", std::move(request), [&](absl::StatusOr<voip::v1::CallSession> r) {
      result = std::move(r);
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(test::kWaitTimeout));
    return result;
  }

  test::IoThread io_;
  EventBus bus_;
  CallRegistry registry_;
  IdempotencyCache idempotency_;
  Authorizer authorizer_;
  Metrics metrics_;
  CallLimiter limiter_;
  CallAdmission admission_;
  CoreCallHost host_;
  std::shared_ptr<test::TestAdapter> agents_;
  std::unique_ptr<CallController> controller_;
};

TEST_F(CoreCallHostTest, BeforeAttachEverythingIsRefusedAsNotRunning) {
  absl::StatusOr<voip::v1::CallSession> inbound =
      host_.AcceptInbound("agents", adapters::InboundCall{"p", "bob", "alice", {}});
  ASSERT_FALSE(inbound.ok());
  EXPECT_EQ(GetVoipError(inbound.status())->error_code(), voip::v1::DAEMON_SHUTDOWN);
  absl::StatusOr<voip::v1::CallSession> placed = Place({"bob", "alice", "", {}});
  ASSERT_FALSE(placed.ok());
  EXPECT_EQ(GetVoipError(placed.status())->error_code(), voip::v1::DAEMON_SHUTDOWN);
}

TEST_F(CoreCallHostTest, PlaceCallTakesTheStartCallPathOnTheAdaptersSystem) {
  host_.Attach(controller_.get());
  absl::StatusOr<voip::v1::CallSession> placed =
      Place({"bob", "alice", "req-1", {{"crm", "42"}}});
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(placed->system_name(), "agents");
  EXPECT_EQ(placed->direction(), voip::v1::CALL_DIRECTION_OUTBOUND);
  EXPECT_EQ(placed->from(), "bob");
  EXPECT_EQ(agents_->last_dial().target_kind, adapters::TargetKind::kIdentity);
  EXPECT_EQ(agents_->last_dial().labels.at("crm"), "42");
  // request_id is an idempotency key here too: a retry gives the same call.
  absl::StatusOr<voip::v1::CallSession> again =
      Place({"bob", "alice", "req-1", {{"crm", "42"}}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->session_id(), placed->session_id());
  // Bad input fails as StartCall would, naming the field.
  absl::StatusOr<voip::v1::CallSession> bad = Place({"bob", "", "", {}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(GetVoipError(bad.status())->field(), "to.number");
}

// A page's call is its token's StartCall: the token's limits and request_id
// namespace hold whichever door the call came in by.
TEST_F(CoreCallHostTest, PlaceCallIsHeldToTheTokensLimitsAndRequestIdNamespace) {
  host_.Attach(controller_.get());
  TokenSpec agent;
  agent.name = "agent";
  agent.max_concurrent_calls = 1;
  limiter_.SetLimits({agent});
  absl::StatusOr<voip::v1::CallSession> first = Place({"bob", "alice", "same-id", {}, "agent"});
  ASSERT_TRUE(first.ok()) << first.status();

  absl::StatusOr<voip::v1::CallSession> second = Place({"bob", "carol", "", {}, "agent"});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetVoipError(second.status())->error_code(), voip::v1::RATE_LIMITED);
  EXPECT_THAT(metrics_.Render(), ::testing::HasSubstr("token=\"agent\""));
  EXPECT_EQ(agents_->start_calls(), 1);

  // Another token's "same-id" is its own key: a new call, not agent's.
  absl::StatusOr<voip::v1::CallSession> other = Place({"bob", "alice", "same-id", {}, "other"});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->session_id(), first->session_id());
}

TEST_F(CoreCallHostTest, AcceptInboundAfterDetachIsRefused) {
  host_.Attach(controller_.get());
  ASSERT_TRUE(host_.AcceptInbound("agents", adapters::InboundCall{"p", "bob", "alice", {}}).ok());
  host_.Detach();
  EXPECT_FALSE(host_.AcceptInbound("agents", adapters::InboundCall{"q", "bob", "alice", {}}).ok());
}

TEST_F(CoreCallHostTest, WatchSystemSeesThatSystemsEventsInOrderUntilDestroyed) {
  host_.Attach(controller_.get());
  absl::Mutex mu;
  std::vector<voip::v1::CallStatus> seen;
  absl::StatusOr<std::unique_ptr<adapters::CallWatch>> watch =
      host_.WatchSystem("agents", [&](const voip::v1::CallEvent& event) {
        absl::MutexLock lock(&mu);
        seen.push_back(event.session().status());
      });
  ASSERT_TRUE(watch.ok()) << watch.status();
  // Counted apart from clients' streams (voipd_active_subscribers).
  EXPECT_EQ(host_.system_watches(), 1u);
  EXPECT_EQ(bus_.subscriber_count(), 1u);
  absl::StatusOr<voip::v1::CallSession> in =
      host_.AcceptInbound("agents", adapters::InboundCall{"p", "bob", "alice", {}});
  ASSERT_TRUE(in.ok()) << in.status();
  {
    absl::MutexLock lock(&mu);
    auto two = [&] { return seen.size() >= 2; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&two), test::kWaitTimeout));
    EXPECT_EQ(seen[0], voip::v1::CALL_STATUS_INITIATING);
    EXPECT_EQ(seen[1], voip::v1::CALL_STATUS_RINGING);
  }
  watch->reset();
  EXPECT_EQ(host_.system_watches(), 0u);
  ASSERT_TRUE(host_.AcceptInbound("agents", adapters::InboundCall{"q", "bob", "alice", {}}).ok());
  absl::SleepFor(absl::Milliseconds(50));  // nothing may arrive after the reset
  absl::MutexLock lock(&mu);
  EXPECT_EQ(seen.size(), 2u);
}

TEST_F(CoreCallHostTest, AuthenticateUsesTheApiTokenTable) {
  // No tokens configured: anonymous with every scope (listener policy keeps
  // that to loopback).
  absl::StatusOr<adapters::ApiCaller> anonymous = host_.Authenticate("anything");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_FALSE(host_.AuthenticationRequired());
  EXPECT_TRUE(anonymous->can_read && anonymous->can_write);

  TokenSpec reader{"dashboard", Sha256("read-token"), kScopeCallsRead, {{"tenant", "a"}}};
  TokenSpec writer{"crm", Sha256("write-token"), kScopeCallsRead | kScopeCallsWrite, {}};
  authorizer_.SetTokens({reader, writer});
  EXPECT_TRUE(host_.AuthenticationRequired());
  absl::StatusOr<adapters::ApiCaller> r = host_.Authenticate("read-token");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "dashboard");
  EXPECT_TRUE(r->can_read);
  EXPECT_FALSE(r->can_write);
  EXPECT_EQ(r->labels.at("tenant"), "a");
  absl::StatusOr<adapters::ApiCaller> w = host_.Authenticate("write-token");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->can_write);
  absl::StatusOr<adapters::ApiCaller> wrong = host_.Authenticate("nope");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(host_.Authenticate("").ok());
}

TEST_F(CoreCallHostTest, ReauthenticateFollowsTheTableAndNeverCarriesTheToken) {
  TokenSpec crm{"crm", Sha256("crm-token"), kScopeCallsRead | kScopeCallsWrite, {}};
  authorizer_.SetTokens({crm});
  absl::StatusOr<adapters::ApiCaller> caller = host_.Authenticate("crm-token");
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->token_sha256, Sha256("crm-token"));

  // Same token, fewer scopes and a tenant: the new rights.
  crm.scopes = kScopeCallsRead;
  crm.labels = {{"tenant", "acme"}};
  authorizer_.SetTokens({crm});
  absl::StatusOr<adapters::ApiCaller> now = host_.Reauthenticate(*caller);
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_TRUE(now->can_read);
  EXPECT_FALSE(now->can_write);
  EXPECT_EQ(now->labels.at("tenant"), "acme");
  EXPECT_EQ(now->token_sha256, caller->token_sha256);

  // Rotated: the old token's caller is refused, by name.
  crm.sha256 = Sha256("crm-token-2");
  authorizer_.SetTokens({crm});
  absl::Status rotated = host_.Reauthenticate(*caller).status();
  EXPECT_EQ(rotated.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(rotated.message(), "tokens were reloaded: token 'crm' is no longer accepted");

  // An anonymous caller (no tokens then) once tokens are required.
  authorizer_.SetTokens({});
  absl::StatusOr<adapters::ApiCaller> anonymous = host_.Authenticate("");
  ASSERT_TRUE(anonymous.ok());
  authorizer_.SetTokens({crm});
  EXPECT_EQ(host_.Reauthenticate(*anonymous).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(CoreCallHostTest, TokensChangedRunsEachLiveWatchOnce) {
  int a = 0;
  int b = 0;
  std::unique_ptr<adapters::CallWatch> watch_a = host_.WatchTokens([&a] { ++a; });
  std::unique_ptr<adapters::CallWatch> watch_b = host_.WatchTokens([&b] { ++b; });
  host_.TokensChanged();
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  watch_a.reset();  // that adapter stopped
  host_.TokensChanged();
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  // A callback may drop its own watch while it runs.
  std::unique_ptr<adapters::CallWatch> self_dropping;
  self_dropping = host_.WatchTokens([&self_dropping] { self_dropping.reset(); });
  host_.TokensChanged();
  EXPECT_EQ(self_dropping, nullptr);
  EXPECT_EQ(b, 3);
}

}  // namespace
}  // namespace voipd
