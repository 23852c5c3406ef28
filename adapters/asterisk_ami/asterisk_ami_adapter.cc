#include "adapters/asterisk_ami/asterisk_ami_adapter.h"

#include <utility>  // before asio: GCC 12 + Boost 1.74 (toolchain notes)

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "adapters/api/logger.h"
#include "adapters/api/voip_error.h"
#include "adapters/asterisk_ami/ami_originate.h"

namespace voipd::adapters::asterisk_ami {
namespace {

std::chrono::nanoseconds Chrono(double seconds) {
  return absl::ToChronoNanoseconds(absl::Seconds(seconds));
}

AmiConnectionOptions ConnectionOptions(const Config& c, const std::string& system_name) {
  AmiConnectionOptions o;
  o.system_name = system_name;
  o.host = c.host();
  o.port = static_cast<uint16_t>(c.port());
  o.tls = c.tls().enabled();
  o.tls_ca_file = c.tls().ca_file();
  o.tls_server_name = c.tls().server_name();
  o.username = c.username();
  o.secret_file = c.secret_file();
  o.md5_auth = c.auth() == "md5";
  o.events = c.events();
  o.connect_timeout = absl::Seconds(c.connect_timeout_seconds());
  o.keepalive_interval = absl::Seconds(c.keepalive_interval_seconds());
  o.keepalive_timeout = absl::Seconds(c.keepalive_timeout_seconds());
  o.action_timeout = absl::Seconds(c.action_timeout_seconds());
  o.reconnect_min = absl::Seconds(c.reconnect_min_seconds());
  o.reconnect_max = absl::Seconds(c.reconnect_max_seconds());
  o.max_message_bytes = c.max_message_bytes();
  return o;
}

// "No such channel": the leg is already gone, which is what a hangup wants.
bool IsNoSuchChannel(const AmiMessage& response) {
  return absl::StrContains(absl::AsciiStrToLower(response.Get("Message")), "no such channel");
}

voip::v1::ProviderCause ErrorCause(const AmiMessage& response) {
  voip::v1::ProviderCause cause;
  cause.set_provider_status(std::string(response.Get("Response")));
  cause.set_text(std::string(response.Get("Message")));
  return cause;
}

}  // namespace

AsteriskAmiAdapter::AsteriskAmiAdapter(const Config& config, const AdapterContext& context)
    : config_(config),
      context_(context),
      mode_(config.has_direct() ? CallMode::kDirect : CallMode::kClickToCall),
      strand_(boost::asio::make_strand(context.io->get_executor())),
      tracker_(mode_, this) {
  tracker_.SetInboundContexts(
      std::set<std::string>(config.inbound().contexts().begin(), config.inbound().contexts().end()),
      config.channel_id_prefix());
}

AsteriskAmiAdapter::~AsteriskAmiAdapter() {
  // Normally Shutdown() ran; if not, the connection still must not outlive
  // us with a socket open. It holds no reference back to this object.
  if (connection_) boost::asio::post(strand_, [connection = connection_] { connection->Stop(); });
}

void AsteriskAmiAdapter::Start() {
  connection_ = std::make_shared<AmiConnection>(
      strand_, ConnectionOptions(config_, context_.system_name), context_.secrets,
      std::weak_ptr<AmiConnection::Listener>(weak_from_this()));
  boost::asio::post(strand_, [connection = connection_] { connection->Start(); });
}

template <typename Fn>
void AsteriskAmiAdapter::Post(Fn&& fn) {
  boost::asio::post(
      strand_, [self = shared_from_this(), fn = std::forward<Fn>(fn)]() mutable { fn(*self); });
}

Capabilities AsteriskAmiAdapter::capabilities() const {
  Capabilities caps;
  caps.can_end = true;
  caps.can_hold = config_.has_hold();
  caps.can_mute = !config_.mute_direction().empty();
  caps.accepts_sip_uri = config_.accept_sip_uri();
  caps.accepts_extension = config_.accept_extension();
  return caps;
}

Health AsteriskAmiAdapter::health() const {
  if (!connection_) return Health{Health::State::kUnhealthy, "not started"};
  return connection_->health();
}

void AsteriskAmiAdapter::StartCall(const DialRequest& request, DialCallback done) {
  Post([request, done = std::move(done)](AsteriskAmiAdapter& self) mutable {
    self.DoStartCall(request, std::move(done));
  });
}

void AsteriskAmiAdapter::EndCall(const CallRef& call, DoneCallback done) {
  Post([call, done = std::move(done)](AsteriskAmiAdapter& self) mutable {
    self.DoEndCall(call, std::move(done));
  });
}

void AsteriskAmiAdapter::Hold(const CallRef& call, bool hold, DoneCallback done) {
  Post([call, hold, done = std::move(done)](AsteriskAmiAdapter& self) mutable {
    self.DoHold(call, hold, std::move(done));
  });
}

void AsteriskAmiAdapter::Mute(const CallRef& call, bool mute, DoneCallback done) {
  Post([call, mute, done = std::move(done)](AsteriskAmiAdapter& self) mutable {
    self.DoMute(call, mute, std::move(done));
  });
}

void AsteriskAmiAdapter::DoStartCall(const DialRequest& request, DialCallback done) {
  const std::string& system = context_.system_name;
  if (shut_down_) {
    std::move(done)(NetworkError(system, "the asterisk-ami adapter is shutting down"));
    return;
  }
  absl::StatusOr<OriginatePlan> plan = BuildOriginate(config_, request);
  if (!plan.ok()) {
    std::move(done)(plan.status());
    return;
  }
  if (!connection_->ready()) {
    std::move(done)(connection_->NotReadyError());
    return;
  }
  const std::string session_id = request.session_id;
  tracker_.Track(session_id, plan->primary_id, plan->peer_id);
  DialResult result{plan->primary_id, plan->from};
  // Asterisk enforces the ring timeout (Originate Timeout, the dialplan's
  // Dial); this only catches a dialplan that does not, a little later.
  const absl::Duration ring_deadline = plan->ring_deadline + absl::Seconds(5);
  const std::string action_id = connection_->Send(
      std::move(plan->action),
      [self = shared_from_this(), session_id, result = std::move(result), ring_deadline,
       done = std::move(done)](absl::StatusOr<AmiReply> reply) mutable {
        if (!reply.ok()) {
          // The connection went before the reply: Asterisk may have queued
          // the call anyway. StartCall fails, so the call must not survive:
          // hang it up when we are back.
          self->tracker_.Untrack(session_id);
          self->orphan_ids_.insert(result.provider_call_id);
          std::move(done)(reply.status());
          return;
        }
        if (!reply->response.IsSuccess()) {
          self->tracker_.Untrack(session_id);
          std::move(done)(ProviderError(
              self->context_.system_name,
              absl::StrCat("Asterisk refused the Originate: ", reply->response.Get("Message")),
              ErrorCause(reply->response)));
          return;
        }
        if (self->tracker_.IsTracked(session_id) && !self->tracker_.IsAnswered(session_id)) {
          self->ArmRingDeadline(session_id, ring_deadline);
        }
        std::move(done)(std::move(result));
      });
  tracker_.SetOriginateActionId(session_id, action_id);
}

void AsteriskAmiAdapter::DoEndCall(const CallRef& call, DoneCallback done) {
  const std::string& id = call.session_id;
  if (!tracker_.IsTracked(id)) {
    std::move(done)(absl::OkStatus());  // already over at the PBX
    return;
  }
  tracker_.RequestEnd(id);
  const std::vector<std::string> legs = tracker_.LegsToHangup(id);
  if (!connection_->ready() || legs.empty()) {
    // Not connected: the legs are hung up at the resynchronisation after
    // the reconnect (the core ends the call locally if that takes longer
    // than its end_call_timeout).
    std::move(done)(absl::OkStatus());
    return;
  }
  for (size_t i = 0; i < legs.size(); ++i) {
    AmiMessage hangup = AmiMessage::Action("Hangup");
    // Cause 16 explicitly: without it a fresh channel reports 0 (peer
    // README, files 03/14/15/21).
    hangup.Add("Channel", legs[i]).Add("Cause", "16");
    if (i > 0) {
      connection_->Send(std::move(hangup), [](absl::StatusOr<AmiReply>) {});
      continue;
    }
    // The originated leg's reply decides; the others are best effort.
    connection_->Send(std::move(hangup), [self = shared_from_this(), done = std::move(done)](
                                             absl::StatusOr<AmiReply> reply) mutable {
      if (reply.ok() && !reply->response.IsSuccess() && !IsNoSuchChannel(reply->response)) {
        std::move(done)(ProviderError(
            self->context_.system_name,
            absl::StrCat("Asterisk refused the Hangup: ", reply->response.Get("Message")),
            ErrorCause(reply->response)));
        return;
      }
      std::move(done)(absl::OkStatus());
    });
  }
}

void AsteriskAmiAdapter::DoHold(const CallRef& call, bool hold, DoneCallback done) {
  const std::string& id = call.session_id;
  const std::string& system = context_.system_name;
  if (!config_.has_hold()) {
    std::move(done)(UnsupportedOperationError(system, "Hold"));
    return;
  }
  if (tracker_.IsInbound(id)) {
    // Redirecting the caller's channel to music on hold would take it out
    // of whatever its dialplan bridged it with (a Dial() ends and hangs the
    // callee up), and there is no place to resume it to.
    std::move(done)(UnsupportedOperationError(system, "Hold of an inbound call"));
    return;
  }
  const std::string held = tracker_.HeldPartyChannel(id);
  if (!tracker_.IsAnswered(id) || held.empty()) {
    std::move(done)(InvalidStateError(id, "session_id: the call is not connected at the PBX"));
    return;
  }
  if (holds_.count(id)) {
    std::move(done)(InvalidStateError(id, "session_id: a hold change is already in progress"));
    return;
  }
  if (!connection_->ready()) {
    std::move(done)(connection_->NotReadyError());
    return;
  }
  const auto& h = config_.hold();
  const std::string agent = tracker_.PrimaryChannel(id);
  AmiMessage action;
  if (hold) {
    action = AmiMessage::Action("Redirect");
    action.Add("Channel", held).Add("Context", h.context()).Add("Exten", h.exten());
    action.Add("Priority", absl::StrCat(h.priority()));
    if (mode_ == CallMode::kClickToCall) {
      // Both leave the bridge at once; alone, the agent's Dial() would
      // return and its dialplan would hang the agent up.
      action.Add("ExtraChannel", agent).Add("ExtraContext", h.agent_context());
      action.Add("ExtraExten", h.agent_exten())
          .Add("ExtraPriority", absl::StrCat(h.agent_priority()));
    }
  } else if (mode_ == CallMode::kClickToCall) {
    action = AmiMessage::Action("Bridge");
    action.Add("Channel1", agent).Add("Channel2", held).Add("Tone", "no");
  } else {
    action = AmiMessage::Action("Redirect");
    action.Add("Channel", held).Add("Context", h.resume_context());
    action.Add("Exten", h.resume_exten()).Add("Priority", absl::StrCat(h.resume_priority()));
  }
  tracker_.ExpectHold(id, hold);
  PendingHold& pending = holds_[id];
  pending.hold = hold;
  pending.done = std::move(done);
  pending.timer = std::make_unique<boost::asio::steady_timer>(strand_);
  pending.timer->expires_after(Chrono(h.confirm_timeout_seconds()));
  std::weak_ptr<AsteriskAmiAdapter> weak = weak_from_this();
  pending.timer->async_wait(
      [weak, id, hold, seconds = h.confirm_timeout_seconds()](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        self->FinishHold(
            id, ProviderError(self->context_.system_name,
                              absl::StrCat("Asterisk did not confirm the ",
                                           hold ? "hold" : "resume", " (no MusicOnHold",
                                           hold ? "Start" : "Stop", " within ", seconds, " s)")));
      });
  const std::string what(action.Get("Action"));
  connection_->Send(
      std::move(action), [self = shared_from_this(), id, what](absl::StatusOr<AmiReply> reply) {
        if (!reply.ok()) {
          self->FinishHold(id, reply.status());
        } else if (!reply->response.IsSuccess()) {
          self->FinishHold(id, ProviderError(self->context_.system_name,
                                             absl::StrCat("Asterisk refused the ", what, ": ",
                                                          reply->response.Get("Message")),
                                             ErrorCause(reply->response)));
        }
        // Success: the MusicOnHold event confirms (it may even have come first).
      });
}

void AsteriskAmiAdapter::FinishHold(const std::string& session_id, absl::Status status) {
  auto it = holds_.find(session_id);
  if (it == holds_.end()) return;
  PendingHold pending = std::move(it->second);
  holds_.erase(it);
  pending.timer->cancel();
  if (!status.ok()) tracker_.ExpectHold(session_id, std::nullopt);
  std::move(pending.done)(std::move(status));
}

void AsteriskAmiAdapter::HoldConfirmed(const std::string& session_id, bool held) {
  FinishHold(session_id, absl::OkStatus());
}

void AsteriskAmiAdapter::DoMute(const CallRef& call, bool mute, DoneCallback done) {
  const std::string& id = call.session_id;
  if (config_.mute_direction().empty()) {
    std::move(done)(UnsupportedOperationError(context_.system_name, "Mute"));
    return;
  }
  if (!tracker_.IsAnswered(id)) {
    std::move(done)(InvalidStateError(id, "session_id: the call is not connected at the PBX"));
    return;
  }
  if (!connection_->ready()) {
    std::move(done)(connection_->NotReadyError());
    return;
  }
  AmiMessage action = AmiMessage::Action("MuteAudio");
  action.Add("Channel", tracker_.PrimaryChannel(id))
      .Add("Direction", config_.mute_direction())
      .Add("State", mute ? "on" : "off");
  connection_->Send(
      std::move(action), [self = shared_from_this(), id, mute,
                          done = std::move(done)](absl::StatusOr<AmiReply> reply) mutable {
        if (!reply.ok()) {
          std::move(done)(reply.status());
          return;
        }
        if (!reply->response.IsSuccess()) {
          std::move(done)(ProviderError(
              self->context_.system_name,
              absl::StrCat("Asterisk refused the MuteAudio: ", reply->response.Get("Message")),
              ErrorCause(reply->response)));
          return;
        }
        // MuteAudio emits no event (peer README): its Success is the
        // confirmation.
        if (self->tracker_.IsTracked(id)) {
          ProviderEvent event;
          event.session_id = id;
          event.kind = mute ? ProviderEventKind::kMuted : ProviderEventKind::kUnmuted;
          self->Emit(std::move(event));
        }
        std::move(done)(absl::OkStatus());
      });
}

void AsteriskAmiAdapter::Readopt(const voip::v1::CallSession& session,
                                 absl::AnyInvocable<void(absl::StatusOr<bool>) &&> done) {
  PendingReadopt readopt;
  readopt.adoption.session_id = session.session_id();
  readopt.adoption.inbound = session.direction() == voip::v1::CALL_DIRECTION_INBOUND;
  // Outbound: provider_call_id is the ChannelId voipd assigned
  // (<channel_id_prefix><session_id>), its Local ;2 half has "-peer" added.
  // Inbound: the channel's Uniqueid.
  readopt.adoption.primary_id =
      !session.provider_call_id().empty()
          ? session.provider_call_id()
          : (readopt.adoption.inbound
                 ? std::string()
                 : absl::StrCat(config_.channel_id_prefix(), session.session_id()));
  if (!readopt.adoption.inbound && !readopt.adoption.primary_id.empty()) {
    readopt.adoption.peer_id = absl::StrCat(readopt.adoption.primary_id, "-peer");
  }
  const voip::v1::CallStatus status = session.status();
  readopt.adoption.answered = status == voip::v1::CALL_STATUS_CONNECTED ||
                              status == voip::v1::CALL_STATUS_ON_HOLD ||
                              session.has_answered_at();
  readopt.adoption.ringing = status != voip::v1::CALL_STATUS_INITIATING;
  readopt.done = std::move(done);
  Post([readopt = std::move(readopt)](AsteriskAmiAdapter& self) mutable {
    self.DoReadopt(std::move(readopt));
  });
}

void AsteriskAmiAdapter::DoReadopt(PendingReadopt readopt) {
  if (shut_down_ || readopt.adoption.primary_id.empty()) {
    std::move(readopt.done)(false);
    return;
  }
  if (!connection_->ready()) {
    // Answered from the CoreShowChannels after the login; the core's
    // deadline bounds the wait.
    readopts_.push_back(std::move(readopt));
    return;
  }
  std::vector<PendingReadopt> one;
  one.push_back(std::move(readopt));
  connection_->Send(
      AmiMessage::Action("CoreShowChannels"),
      [self = shared_from_this(), one = std::move(one)](absl::StatusOr<AmiReply> reply) mutable {
        self->FinishReadopts(std::move(one), reply);
      },
      /*list=*/true);
}

void AsteriskAmiAdapter::FinishReadopts(std::vector<PendingReadopt> readopts,
                                        const absl::StatusOr<AmiReply>& reply) {
  if (readopts.empty()) return;
  if (shut_down_) {
    for (PendingReadopt& r : readopts) std::move(r.done)(false);
    return;
  }
  if (!reply.ok() || !reply->response.IsSuccess()) {
    // Dropped again (or refused): try at the next login.
    for (PendingReadopt& r : readopts) readopts_.push_back(std::move(r));
    return;
  }
  const Logger& log = LoggerOr(context_.logger);
  for (PendingReadopt& r : readopts) {
    const bool adopted = tracker_.Adopt(r.adoption, reply->list);
    log.Info("asterisk-ami",
             adopted ? absl::StrCat("re-adopted after the restart: channel ",
                                    r.adoption.primary_id, " still exists")
                     : absl::StrCat("not re-adopted after the restart: channel ",
                                    r.adoption.primary_id, " is gone"),
             LogContext{context_.system_name, r.adoption.session_id});
    std::move(r.done)(adopted);
  }
}

std::optional<std::string> AsteriskAmiAdapter::AcceptInbound(const InboundCall& call) {
  const Logger& log = LoggerOr(context_.logger);
  if (shut_down_ || context_.host == nullptr) return std::nullopt;
  absl::StatusOr<voip::v1::CallSession> session =
      context_.host->AcceptInbound(context_.system_name, call);
  if (!session.ok()) {
    // The call goes on at the PBX as its dialplan says; voipd stays out.
    log.Warn("asterisk-ami",
             absl::StrCat("inbound call on channel ", call.provider_call_id, " from '", call.from,
                          "' to '", call.to, "' not reported: ", session.status().message()),
             LogContext{context_.system_name, {}});
    return std::nullopt;
  }
  log.Info("asterisk-ami",
           absl::StrCat("inbound call on channel ", call.provider_call_id, " from '", call.from,
                        "' to '", call.to, "'"),
           LogContext{context_.system_name, session->session_id()});
  return session->session_id();
}

void AsteriskAmiAdapter::OnAmiReady() {
  // Every (re)login: what happened to our calls while we could not see?
  // Only the calls known now: one originated after this request is not in
  // its reply, which would look as if it had vanished. The same reply
  // answers the Readopt requests that waited for this login.
  AmiMessage list = AmiMessage::Action("CoreShowChannels");
  std::vector<PendingReadopt> readopts = std::move(readopts_);
  readopts_.clear();
  connection_->Send(
      std::move(list),
      [self = shared_from_this(), sessions = tracker_.Sessions(),
       readopts = std::move(readopts)](absl::StatusOr<AmiReply> reply) mutable {
        self->FinishReadopts(std::move(readopts), reply);
        if (!reply.ok() || !reply->response.IsSuccess()) return;  // dropped again: next login
        self->tracker_.Resync(reply->list, sessions);
        for (const AmiMessage& channel : reply->list) {
          if (self->orphan_ids_.count(std::string(channel.Get("Uniqueid"))) ||
              self->orphan_ids_.count(std::string(channel.Get("Linkedid")))) {
            AmiMessage hangup = AmiMessage::Action("Hangup");
            hangup.Add("Channel", channel.Get("Channel")).Add("Cause", "16");
            self->connection_->Send(std::move(hangup), [](absl::StatusOr<AmiReply>) {});
          }
        }
        self->orphan_ids_.clear();
      },
      /*list=*/true);
}

void AsteriskAmiAdapter::OnAmiDown(const absl::Status& why) {
  std::vector<std::string> ids;
  for (const auto& [id, pending] : holds_) ids.push_back(id);
  for (const std::string& id : ids) {
    FinishHold(id, NetworkError(context_.system_name,
                                absl::StrCat("AMI connection lost: ", why.message())));
  }
}

void AsteriskAmiAdapter::OnAmiEvent(const AmiMessage& event) { tracker_.OnEvent(event); }

void AsteriskAmiAdapter::Emit(ProviderEvent event) {
  const ProviderEventKind kind = event.kind;
  const std::string session_id = event.session_id;
  if (context_.events != nullptr) context_.events->OnProviderEvent(std::move(event));
  if (kind == ProviderEventKind::kAnswered) CancelTimer(ring_timers_, session_id);
  if (kind != ProviderEventKind::kEnded) return;
  // A hold change waiting for its MusicOnHold event will not get it now.
  FinishHold(session_id, InvalidStateError(session_id, "session_id: the call ended"));
  CancelTimer(settle_timers_, session_id);
  CancelTimer(ring_timers_, session_id);
}

void AsteriskAmiAdapter::CancelTimer(
    std::map<std::string, std::unique_ptr<boost::asio::steady_timer>>& timers,
    const std::string& session_id) {
  if (auto it = timers.find(session_id); it != timers.end()) {
    it->second->cancel();
    timers.erase(it);
  }
}

void AsteriskAmiAdapter::ArmRingDeadline(const std::string& session_id, absl::Duration deadline) {
  auto timer = std::make_unique<boost::asio::steady_timer>(strand_);
  timer->expires_after(absl::ToChronoNanoseconds(deadline));
  std::weak_ptr<AsteriskAmiAdapter> weak = weak_from_this();
  timer->async_wait([weak, session_id](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->ring_timers_.erase(session_id);
    self->tracker_.ExpireRinging(session_id);
  });
  ring_timers_[session_id] = std::move(timer);
}

void AsteriskAmiAdapter::SettleLater(const std::string& session_id) {
  if (settle_timers_.count(session_id)) return;
  auto timer = std::make_unique<boost::asio::steady_timer>(strand_);
  timer->expires_after(Chrono(config_.end_settle_seconds()));
  std::weak_ptr<AsteriskAmiAdapter> weak = weak_from_this();
  timer->async_wait([weak, session_id](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->settle_timers_.erase(session_id);
    self->tracker_.FinishEnding(session_id);
  });
  settle_timers_[session_id] = std::move(timer);
}

void AsteriskAmiAdapter::HangupChannels(const std::string& session_id,
                                        const std::vector<std::string>& channels) {
  if (!connection_->ready()) return;  // resync after the reconnect handles it
  for (const std::string& channel : channels) {
    AmiMessage hangup = AmiMessage::Action("Hangup");
    hangup.Add("Channel", channel).Add("Cause", "16");
    connection_->Send(std::move(hangup), [](absl::StatusOr<AmiReply>) {});
  }
}

void AsteriskAmiAdapter::Shutdown() {
  auto stopped = std::make_shared<absl::Notification>();
  auto stop = [self = shared_from_this(), stopped] {
    self->shut_down_ = true;
    std::vector<std::string> ids;
    for (const auto& [id, pending] : self->holds_) ids.push_back(id);
    for (const std::string& id : ids) {
      self->FinishHold(id,
                       NetworkError(self->context_.system_name, "the adapter is shutting down"));
    }
    std::vector<PendingReadopt> readopts = std::move(self->readopts_);
    self->readopts_.clear();
    for (PendingReadopt& r : readopts) std::move(r.done)(false);
    for (auto* timers : {&self->settle_timers_, &self->ring_timers_}) {
      for (auto& [id, timer] : *timers) timer->cancel();
      timers->clear();
    }
    if (self->connection_) self->connection_->Stop();
    stopped->Notify();
  };
  if (strand_.running_in_this_thread()) {
    stop();
    return;
  }
  boost::asio::post(strand_, std::move(stop));
  // The daemon stops the io_context right after Shutdown(): wait (bounded)
  // so that pending callbacks really are invoked and the socket closed.
  stopped->WaitForNotificationWithTimeout(absl::Seconds(2));
}

}  // namespace voipd::adapters::asterisk_ami
