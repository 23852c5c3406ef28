#include "adapters/webrtc/webrtc_adapter.h"

#include <utility>  // before asio (toolchain notes)
#include <random>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/tcp_listener.h"
#include "adapters/api/voip_error.h"
#include "adapters/webrtc/webrtc_log.h"

namespace voipd::adapters::webrtc {
namespace {

using json = nlohmann::json;
using Timer = boost::asio::steady_timer;

constexpr absl::Duration kDefaultRingTimeout = absl::Seconds(30);
constexpr absl::Duration kDefaultCommandTimeout = absl::Seconds(10);

absl::Duration SecondsOr(double seconds, absl::Duration fallback) {
  return seconds > 0 ? absl::Seconds(seconds) : fallback;
}


}  // namespace

WebRtcAdapter::WebRtcAdapter(const voip::config::v1::WebRtcAdapterConfig& config,
                             const AdapterContext& context)
    : config_(config), context_(context) {}

absl::StatusOr<std::shared_ptr<WebRtcAdapter>> WebRtcAdapter::Create(
    const voip::config::v1::WebRtcAdapterConfig& config, const AdapterContext& context) {
  if (!IsLocalAddress(config.listen())) {
    const bool open = context.host == nullptr || !context.host->AuthenticationRequired();
    if (open) {
      return ConfigurationError(
          absl::StrCat("listen: '", config.listen(),
                       "' is reachable from other hosts but voipd has no auth.tokens: any page "
                       "could register and place calls. Configure auth.tokens or listen on "
                       "loopback"),
          "listen");
    }
  }
  WebServerOptions options;
  options.listen = config.listen();
  options.web_root = config.web_root();
  options.heartbeat_timeout = absl::Milliseconds(config.heartbeat_timeout_ms());
  if (config.max_connections() > 0) options.max_connections = config.max_connections();
  options.allowed_origins.assign(config.allowed_origins().begin(), config.allowed_origins().end());
  if (!config.tls_cert_file().empty()) {
    if (context.secrets == nullptr) return ConfigurationError("tls_cert_file: no secret reader");
    absl::StatusOr<std::string> cert = context.secrets->ReadSecretFile(config.tls_cert_file());
    if (!cert.ok()) {
      return ConfigurationError(absl::StrCat("tls_cert_file: ", cert.status().message()),
                                "tls_cert_file");
    }
    absl::StatusOr<std::string> key = context.secrets->ReadSecretFile(config.tls_key_file());
    if (!key.ok()) {
      return ConfigurationError(absl::StrCat("tls_key_file: ", key.status().message()),
                                "tls_key_file");
    }
    options.tls_cert_pem = std::move(*cert);
    options.tls_key_pem = std::move(*key);
  }
  std::shared_ptr<WebRtcAdapter> adapter(new WebRtcAdapter(config, context));
  std::weak_ptr<WebRtcAdapter> weak = adapter;
  WebServerHandlers handlers;
  handlers.on_open = [weak](PageConnectionPtr conn) {
    if (auto self = weak.lock()) self->OnPageOpen(std::move(conn));
  };
  handlers.on_message = [weak](uint64_t id, std::string text) {
    if (auto self = weak.lock()) self->OnPageMessage(id, std::move(text));
  };
  handlers.on_closed = [weak](uint64_t id) {
    if (auto self = weak.lock()) self->OnPageClosed(id);
  };
  absl::StatusOr<std::shared_ptr<WebServer>> server =
      WebServer::Start(context.io, std::move(options), std::move(handlers));
  if (!server.ok()) return server.status();
  adapter->server_ = std::move(*server);
  LogWebRtcInfo(context,
                absl::StrCat("softphone at ", config.tls_cert_file().empty() ? "http" : "https",
                             "://", adapter->server_->local_address(), "/ (web_root ",
                             config.web_root(), ")"));
  if (context.host != nullptr) {
    absl::StatusOr<std::unique_ptr<CallWatch>> watch = context.host->WatchSystem(
        context.system_name, [weak](const voip::v1::CallEvent& event) {
          if (auto self = weak.lock()) self->OnCoreEvent(event);
        });
    if (!watch.ok()) {
      adapter->server_->Stop();
      return watch.status();
    }
    adapter->watch_ = std::move(*watch);
    adapter->token_watch_ = context.host->WatchTokens([weak] {
      if (auto self = weak.lock()) self->RecheckPages();
    });
  }
  return adapter;
}

WebRtcAdapter::~WebRtcAdapter() {
  token_watch_.reset();
  watch_.reset();
  if (server_) server_->Stop();
}

std::string WebRtcAdapter::local_address() const { return server_->local_address(); }

absl::Duration WebRtcAdapter::ConnectTimeout() const {
  return SecondsOr(config_.connect_timeout_seconds(), absl::Seconds(20));
}

Capabilities WebRtcAdapter::capabilities() const {
  Capabilities caps;
  caps.can_end = caps.can_hold = caps.can_mute = true;
  caps.accepts_identity = true;
  return caps;
}

Health WebRtcAdapter::health() const {
  Health health;
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    health.state = Health::State::kUnhealthy;
    health.message = "shut down";
    return health;
  }
  // No page registered is normal (nobody on shift), not a fault: calls then
  // end UNAVAILABLE, which is the truth.
  size_t agents = 0;
  for (const auto& [id, page] : pages_) agents += page.registered;
  health.message = absl::StrCat(agents, " agent page(s) registered");
  return health;
}

std::string WebRtcAdapter::CalleeFor(const std::string& target) const {
  auto it = config_.numbers().find(target);
  if (it != config_.numbers().end()) return it->second;
  return IsValidIdentity(target) ? target : "";
}

bool WebRtcAdapter::PageBusyLocked(PageId id) const {
  for (const auto& [sid, call] : calls_) {
    if (call.state.Involves(id)) return true;
  }
  return false;
}

void WebRtcAdapter::SendLocked(PageId id, const json& message) {
  auto it = pages_.find(id);
  if (it == pages_.end()) return;
  // Page-supplied text (SDP, error strings) may not be valid UTF-8.
  it->second.conn->Send(message.dump(-1, ' ', false, json::error_handler_t::replace));
}

void WebRtcAdapter::EmitLocked(Outbox& out, const std::string& session_id,
                               ProviderEventKind kind) {
  ProviderEvent event;
  event.session_id = session_id;
  event.kind = kind;
  out.events.push_back(std::move(event));
}

void WebRtcAdapter::UnlockAndFlush(Outbox& out) {
  emit_mu_.Lock();
  mu_.Unlock();
  for (ProviderEvent& event : out.events) context_.events->OnProviderEvent(std::move(event));
  emit_mu_.Unlock();
  for (auto& [done, status] : out.dones) std::move(done)(std::move(status));
}

void WebRtcAdapter::EndLocked(const std::string& session_id, EndOutcome outcome,
                              voip::v1::HangupSource source, const std::string& reason,
                              const std::string& message, Outbox& out) {
  auto it = calls_.find(session_id);
  if (it == calls_.end()) return;  // already ended: exactly one kEnded per call
  WebRtcCall& call = it->second.state;
  const json ended = {{"type", "ended"}, {"session_id", session_id}, {"reason", reason}};
  SendLocked(call.caller_page(), ended);
  if (call.callee_page() != 0) SendLocked(call.callee_page(), ended);
  for (PageId ringing : call.ringing_pages()) SendLocked(ringing, ended);
  if (it->second.timer) std::static_pointer_cast<Timer>(it->second.timer)->cancel();
  calls_.erase(it);
  for (auto op = ops_.begin(); op != ops_.end();) {
    if (op->second.session_id != session_id) {
      ++op;
      continue;
    }
    if (op->second.timer) std::static_pointer_cast<Timer>(op->second.timer)->cancel();
    out.dones.emplace_back(std::move(op->second.done),
                           InvalidStateError(session_id, "session_id: the call ended"));
    op = ops_.erase(op);
  }
  ProviderEvent event;
  event.session_id = session_id;
  event.kind = ProviderEventKind::kEnded;
  event.outcome = outcome;
  event.source = source;
  event.message = message;
  event.cause.set_provider_status(reason);
  out.events.push_back(std::move(event));
}

void WebRtcAdapter::ArmTimerLocked(Call& call, absl::Duration after) {
  auto timer = std::make_shared<Timer>(*context_.io);
  if (call.timer) std::static_pointer_cast<Timer>(call.timer)->cancel();
  call.timer = timer;
  const uint64_t generation = ++call.timer_generation;
  timer->expires_after(absl::ToChronoNanoseconds(after));
  std::weak_ptr<WebRtcAdapter> weak = weak_from_this();
  timer->async_wait([weak, id = call.state.session_id(), generation](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->OnCallTimer(id, generation);
  });
}

void WebRtcAdapter::OnCallTimer(const std::string& session_id, uint64_t generation) {
  Outbox out;
  mu_.Lock();
  auto it = calls_.find(session_id);
  if (it != calls_.end() && it->second.timer_generation == generation) {
    switch (it->second.state.phase()) {
      case WebRtcCall::Phase::kAlerting:
        EndLocked(session_id, EndOutcome::kUnavailable, voip::v1::HANGUP_SOURCE_SYSTEM,
                  "no_answer", "no answer before the ring timeout", out);
        break;
      case WebRtcCall::Phase::kAccepted:
        EndLocked(session_id, EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM,
                  "connect_timeout", "the pages could not connect media in time", out);
        break;
      case WebRtcCall::Phase::kConnected:
        break;
    }
  }
  UnlockAndFlush(out);
}

void WebRtcAdapter::StartCall(const DialRequest& request, DialCallback done) {
  std::string callee;
  if (request.target_kind == TargetKind::kIdentity || request.target_kind == TargetKind::kE164) {
    callee = CalleeFor(request.target);
  }
  if (callee.empty()) {
    std::move(done)(InvalidNumberError(
        "to.number", absl::StrCat("to.number: '", request.target,
                                  "' is neither an agent identity nor a number in `numbers`")));
    return;
  }
  if (request.from.empty()) {
    std::move(done)(InvalidArgumentError(
        "from", "from: the calling agent's identity is required (webrtc calls are placed from "
                "an agent's page)"));
    return;
  }
  if (!IsValidIdentity(request.from)) {
    std::move(done)(InvalidArgumentError(
        "from", absl::StrCat("from: '", request.from, "' is not an agent identity")));
    return;
  }
  if (request.from == callee) {
    std::move(done)(InvalidArgumentError("to.number", "to.number: an agent cannot call itself"));
    return;
  }
  Outbox out;
  mu_.Lock();
  if (shut_down_) {
    mu_.Unlock();
    std::move(done)(NetworkError(context_.system_name, "webrtc: the adapter is shutting down"));
    return;
  }
  // The caller's page: the oldest registered page of that agent that may
  // place calls and is not in a call.
  PageId caller_page = 0;
  bool caller_registered = false;
  std::set<PageId> callee_pages;
  bool callee_registered = false;
  for (const auto& [id, page] : pages_) {
    if (!page.registered || !page.caller.can_write) continue;
    if (page.identity == request.from) {
      caller_registered = true;
      if (caller_page == 0 && !PageBusyLocked(id)) caller_page = id;
    } else if (page.identity == callee) {
      callee_registered = true;
      if (!PageBusyLocked(id)) callee_pages.insert(id);
    }
  }
  if (caller_page == 0) {
    mu_.Unlock();
    std::move(done)(InvalidArgumentError(
        "from", absl::StrCat("from: agent '", request.from, "' ",
                             caller_registered ? "is already in a call"
                                               : "has no registered page that may place calls")));
    return;
  }
  const std::string id = request.session_id;
  DialResult result;
  result.from = request.from;
  result.provider_call_id = absl::StrCat("webrtc-", next_call_++);
  auto [it, inserted] = calls_.emplace(
      id, Call(WebRtcCall(id, request.from, caller_page, callee, callee_pages)));
  SendLocked(caller_page, {{"type", "outgoing"}, {"session_id", id}, {"to", callee}});
  const absl::Duration ring_timeout =
      request.ring_timeout > absl::ZeroDuration()
          ? request.ring_timeout
          : SecondsOr(config_.default_ring_timeout_seconds(), kDefaultRingTimeout);
  for (PageId page : callee_pages) {
    SendLocked(page, {{"type", "incoming"}, {"session_id", id}, {"from", request.from}});
  }
  ArmTimerLocked(it->second, ring_timeout);
  mu_.Unlock();
  std::move(done)(std::move(result));
  if (!callee_pages.empty()) return;
  // Nobody to ring: the call exists (the caller's page shows it) and ends at
  // once, after StartCall returned.
  mu_.Lock();
  if (callee_registered) {
    EndLocked(id, EndOutcome::kBusy, voip::v1::HANGUP_SOURCE_REMOTE, "busy",
              absl::StrCat("agent '", callee, "' is already in a call"), out);
  } else {
    EndLocked(id, EndOutcome::kUnavailable, voip::v1::HANGUP_SOURCE_SYSTEM, "not_registered",
              absl::StrCat("agent '", callee, "' has no registered page"), out);
  }
  UnlockAndFlush(out);
}

void WebRtcAdapter::EndCall(const CallRef& call, DoneCallback done) {
  Outbox out;
  mu_.Lock();
  EndLocked(call.session_id, EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_LOCAL, "ended",
            "ended by request", out);
  out.dones.emplace_back(std::move(done), absl::OkStatus());
  UnlockAndFlush(out);
}

void WebRtcAdapter::Hold(const CallRef& call, bool hold, DoneCallback done) {
  StartToggle(call, /*hold_not_mute=*/true, hold, std::move(done));
}

void WebRtcAdapter::Mute(const CallRef& call, bool mute, DoneCallback done) {
  StartToggle(call, /*hold_not_mute=*/false, mute, std::move(done));
}

void WebRtcAdapter::StartToggle(const CallRef& ref, bool hold_not_mute, bool on,
                                DoneCallback done) {
  Outbox out;
  mu_.Lock();
  auto it = calls_.find(ref.session_id);
  if (it == calls_.end() || it->second.state.phase() != WebRtcCall::Phase::kConnected) {
    out.dones.emplace_back(std::move(done),
                           InvalidStateError(ref.session_id, it == calls_.end()
                                                                 ? "session_id: the call ended"
                                                                 : "session_id: not connected"));
    UnlockAndFlush(out);
    return;
  }
  const WebRtcCall& call = it->second.state;
  if ((hold_not_mute ? call.held() : call.muted()) == on) {
    out.dones.emplace_back(std::move(done), absl::OkStatus());
    UnlockAndFlush(out);
    return;
  }
  const PageId target = call.CommandTarget(hold_not_mute, on);
  const uint64_t op = next_op_++;
  auto timer = std::make_shared<Timer>(*context_.io);
  timer->expires_after(absl::ToChronoNanoseconds(
      SecondsOr(config_.command_timeout_seconds(), kDefaultCommandTimeout)));
  std::weak_ptr<WebRtcAdapter> weak = weak_from_this();
  timer->async_wait([weak, op](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->OnToggleTimeout(op);
  });
  PendingOp pending;
  pending.session_id = ref.session_id;
  pending.hold_not_mute = hold_not_mute;
  pending.on = on;
  pending.page = target;
  pending.done = std::move(done);
  pending.timer = timer;
  ops_.emplace(op, std::move(pending));
  SendLocked(target, hold_not_mute
                         ? json{{"type", "hold"}, {"session_id", ref.session_id}, {"hold", on},
                                {"op", op}}
                         : json{{"type", "mute"}, {"session_id", ref.session_id}, {"mute", on},
                                {"op", op}});
  UnlockAndFlush(out);
}

void WebRtcAdapter::OnToggleTimeout(uint64_t op) {
  Outbox out;
  mu_.Lock();
  auto it = ops_.find(op);
  if (it != ops_.end()) {
    out.dones.emplace_back(
        std::move(it->second.done),
        ProviderError(context_.system_name,
                      absl::StrCat("webrtc: the agent's page did not confirm ",
                                   it->second.hold_not_mute ? "hold" : "mute", " in time")));
    ops_.erase(it);
  }
  UnlockAndFlush(out);
}

WebRtcAdapter::PendingOp* WebRtcAdapter::PendingOpLocked(std::optional<uint64_t> op, PageId page,
                                                         const std::string& session_id,
                                                         bool hold_not_mute) {
  if (!op) return nullptr;
  auto it = ops_.find(*op);
  if (it == ops_.end() || it->second.page != page || it->second.session_id != session_id ||
      it->second.hold_not_mute != hold_not_mute) {
    return nullptr;
  }
  return &it->second;
}

void WebRtcAdapter::CompleteOpsLocked(PageId page, const std::string& session_id,
                                      bool hold_not_mute, bool on, std::optional<uint64_t> op,
                                      const std::string& error, Outbox& out) {
  // Late (timed out) or not this page's command: nothing to answer; the
  // report counted as the page's own change (it needed calls:write).
  if (PendingOpLocked(op, page, session_id, hold_not_mute) == nullptr) return;
  auto it = ops_.find(*op);
  if (it->second.timer) std::static_pointer_cast<Timer>(it->second.timer)->cancel();
  absl::Status status =
      !error.empty()
          ? ProviderError(context_.system_name, absl::StrCat("webrtc: the agent's page could not ",
                                                             hold_not_mute ? "hold" : "mute", ": ",
                                                             error))
      : it->second.on != on
          ? ProviderError(context_.system_name, "webrtc: the page reported the opposite change")
          : absl::OkStatus();
  out.dones.emplace_back(std::move(it->second.done), std::move(status));
  ops_.erase(it);
}

void WebRtcAdapter::Shutdown() {
  Outbox out;
  std::shared_ptr<WebServer> server;
  std::unique_ptr<CallWatch> watch;
  mu_.Lock();
  shut_down_ = true;
  for (auto& [id, call] : calls_) {
    if (call.timer) std::static_pointer_cast<Timer>(call.timer)->cancel();
  }
  for (auto& [op, pending] : ops_) {
    if (pending.timer) std::static_pointer_cast<Timer>(pending.timer)->cancel();
    out.dones.emplace_back(std::move(pending.done),
                           NetworkError(context_.system_name, "webrtc: shutting down"));
  }
  ops_.clear();
  server = server_;
  watch = std::move(watch_);
  UnlockAndFlush(out);
  watch.reset();
  if (server) server->Stop();
}

}  // namespace voipd::adapters::webrtc
