// The page side of the webrtc adapter: registration, the dial pad, the
// per-call messages each page sends, and the status feed to the pages.
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "adapters/webrtc/webrtc_adapter.h"
#include "adapters/webrtc/webrtc_log.h"

namespace voipd::adapters::webrtc {
namespace {

using json = nlohmann::json;

absl::Status NotRegistered() {
  return UnauthenticatedError("register first: {\"type\":\"register\",\"token\":...,\"identity\":...}");
}

absl::Status NeedsWrite() {
  return PermissionDeniedError("this page's token lacks calls:write", "calls:write");
}

}  // namespace

void WebRtcAdapter::OnPageOpen(PageConnectionPtr conn) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    conn->Close();
    return;
  }
  Page page;
  page.conn = conn;
  pages_.emplace(conn->id(), std::move(page));
}

void WebRtcAdapter::OnPageClosed(PageId id) {
  Outbox out;
  mu_.Lock();
  std::vector<std::pair<std::string, WebRtcCall::Gone>> affected;
  for (auto& [sid, call] : calls_) {
    const WebRtcCall::Gone gone = call.state.RemovePage(id);
    if (gone == WebRtcCall::Gone::kPartyGone || gone == WebRtcCall::Gone::kNoCalleeLeft) {
      affected.emplace_back(sid, gone);
    }
  }
  if (auto it = pages_.find(id); it != pages_.end() && it->second.registered) {
    LogWebRtcInfo(context_,
                  absl::StrCat("page ", id, " ('", it->second.identity, "') closed"));
  }
  pages_.erase(id);
  for (const auto& [sid, gone] : affected) {
    if (gone == WebRtcCall::Gone::kPartyGone) {
      EndLocked(sid, EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_REMOTE, "page_closed",
                "an agent's page closed or lost its connection", out);
    } else {
      EndLocked(sid, EndOutcome::kUnavailable, voip::v1::HANGUP_SOURCE_SYSTEM, "page_closed",
                "every ringing page of the agent closed", out);
    }
  }
  UnlockAndFlush(out);
}

void WebRtcAdapter::ReplyError(PageId id, const absl::Status& status, const char* in_reply_to,
                               const SignalingMessage* msg) {
  json reply = {{"type", "error"}, {"message", std::string(status.message())}};
  if (in_reply_to != nullptr) reply["in_reply_to"] = in_reply_to;
  const voip::v1::ErrorCode code = GetErrorCode(status);
  reply["code"] = code == voip::v1::ERROR_CODE_UNSPECIFIED
                      ? std::string(absl::StatusCodeToString(status.code()))
                      : voip::v1::ErrorCode_Name(code);
  if (auto detail = GetVoipError(status); detail && !detail->field().empty()) {
    reply["field"] = detail->field();
  }
  if (msg != nullptr && !msg->session_id.empty()) reply["session_id"] = msg->session_id;
  if (msg != nullptr && msg->type == MessageType::kCall) reply["request_id"] = msg->request_id;
  absl::MutexLock lock(&mu_);
  SendLocked(id, reply);
}

void WebRtcAdapter::OnPageMessage(PageId id, std::string text) {
  absl::StatusOr<SignalingMessage> msg = ParseSignalingMessage(text);
  if (!msg.ok()) {
    ReplyError(id, msg.status(), nullptr, nullptr);
    return;
  }
  switch (msg->type) {
    case MessageType::kRegister:
      HandleRegister(id, *msg);
      return;
    case MessageType::kCall:
      HandleDial(id, *msg);
      return;
    default:
      HandleCallMessage(id, *msg);
      return;
  }
}

void WebRtcAdapter::HandleRegister(PageId id, const SignalingMessage& msg) {
  uint64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    epoch = token_epoch_;
  }
  absl::StatusOr<ApiCaller> caller = AdmitCaller(
      context_.host != nullptr ? context_.host->Authenticate(msg.token)
                               : absl::StatusOr<ApiCaller>(UnauthenticatedError("no token table")),
      msg.identity, "");
  absl::ReleasableMutexLock lock(&mu_);
  // A reload while the token was checked did not see this page (RecheckPages
  // only sees registered ones): check it against the new table, in the same
  // critical section as the registration so that no reload falls between.
  if (caller.ok() && token_epoch_ != epoch) {
    caller = AdmitCaller(context_.host->Reauthenticate(*caller), msg.identity,
                         "tokens were reloaded: ");
  }
  if (!caller.ok()) {
    lock.Release();
    LogWebRtcInfo(context_,
                  absl::StrCat("page ", id, " refused as '", msg.identity, "': ",
                               voip::v1::ErrorCode_Name(GetErrorCode(caller.status()))));
    ReplyError(id, caller.status(), "register", &msg);
    return;
  }
  auto it = pages_.find(id);
  if (it == pages_.end()) return;
  if (it->second.registered) {
    // Re-registering could move a page's calls to another identity.
    lock.Release();
    ReplyError(id, InvalidArgumentError("identity", "identity: this page is already registered"),
               "register", &msg);
    return;
  }
  it->second.registered = true;
  it->second.identity = msg.identity;
  it->second.caller = *caller;
  LogWebRtcInfo(context_, absl::StrCat("page ", id, " registered as '", msg.identity,
                                                   "' (token '", caller->name, "')"));
  SendLocked(id, {{"type", "registered"},
                  {"identity", msg.identity},
                  {"can_write", caller->can_write}});
}

absl::StatusOr<ApiCaller> WebRtcAdapter::AdmitCaller(absl::StatusOr<ApiCaller> caller,
                                                     const std::string& identity,
                                                     absl::string_view why) const {
  if (caller.ok() && !caller->can_read) {
    caller = PermissionDeniedError(absl::StrCat(why, "registering needs calls:read"),
                                   "calls:read");
  }
  if (caller.ok() && !config_.identity_tokens().empty()) {
    auto bound = config_.identity_tokens().find(identity);
    if (bound == config_.identity_tokens().end() || bound->second != caller->name) {
      caller = MakeVoipError(
          voip::v1::PERMISSION_DENIED_SCOPE,
          absl::StrCat(why, "identity: this token may not register that identity"), "identity");
    }
  }
  return caller;
}

void WebRtcAdapter::RecheckPages() {
  if (context_.host == nullptr) return;
  struct Refused {
    PageId id;
    PageConnectionPtr conn;
    std::string identity;
    absl::Status status;
  };
  std::vector<Refused> refused;
  {
    absl::MutexLock lock(&mu_);
    ++token_epoch_;
    for (auto& [id, page] : pages_) {
      if (!page.registered) continue;
      absl::StatusOr<ApiCaller> now = AdmitCaller(context_.host->Reauthenticate(page.caller),
                                                  page.identity, "tokens were reloaded: ");
      if (!now.ok()) {
        refused.push_back({id, page.conn, page.identity, now.status()});
        continue;
      }
      const bool write_changed = now->can_write != page.caller.can_write;
      page.caller = *std::move(now);  // new scopes and labels apply from here on
      if (write_changed) {
        SendLocked(id, {{"type", "registered"},
                        {"identity", page.identity},
                        {"can_write", page.caller.can_write}});
      }
    }
  }
  for (const Refused& page : refused) {
    LogWebRtcInfo(context_, absl::StrCat("page ", page.id, " ('", page.identity,
                                         "') closed after the token reload: ",
                                         voip::v1::ErrorCode_Name(GetErrorCode(page.status))));
    ReplyError(page.id, page.status, "register", nullptr);
    page.conn->Close();  // after the error frame; OnPageClosed ends its calls
  }
}

void WebRtcAdapter::HandleDial(PageId id, const SignalingMessage& msg) {
  PlaceCallRequest request;
  {
    absl::ReleasableMutexLock lock(&mu_);
    auto it = pages_.find(id);
    if (it == pages_.end()) return;
    absl::Status denied = !it->second.registered        ? NotRegistered()
                          : !it->second.caller.can_write ? NeedsWrite()
                                                         : absl::OkStatus();
    if (!denied.ok()) {
      lock.Release();
      ReplyError(id, denied, "call", &msg);
      return;
    }
    request.from = it->second.identity;
    request.labels = it->second.caller.labels;  // the token's tenant
    request.token = it->second.caller.name;       // and its limits
  }
  request.to = msg.to;
  request.request_id = msg.request_id;
  // Not under mu_: the core calls StartCall on this adapter synchronously.
  std::weak_ptr<WebRtcAdapter> weak = weak_from_this();
  context_.host->PlaceCall(
      context_.system_name, std::move(request),
      [weak, id, msg](absl::StatusOr<voip::v1::CallSession> session) {
        auto self = weak.lock();
        if (!self) return;
        if (!session.ok()) {
          self->ReplyError(id, session.status(), "call", &msg);
          return;
        }
        absl::MutexLock lock(&self->mu_);
        self->SendLocked(id, {{"type", "call_result"},
                              {"request_id", msg.request_id},
                              {"session_id", session->session_id()}});
      });
}

void WebRtcAdapter::HandleCallMessage(PageId id, const SignalingMessage& msg) {
  Outbox out;
  mu_.Lock();
  auto page = pages_.find(id);
  if (page == pages_.end()) {
    mu_.Unlock();
    return;
  }
  absl::Status status = HandleCallMessageLocked(id, page->second, msg, out);
  UnlockAndFlush(out);
  if (!status.ok()) ReplyError(id, status, MessageTypeName(msg.type), &msg);
}

absl::Status WebRtcAdapter::HandleCallMessageLocked(PageId id, const Page& page,
                                                    const SignalingMessage& msg, Outbox& out) {
  if (!page.registered) return NotRegistered();
  auto it = calls_.find(msg.session_id);
  if (it == calls_.end() || !it->second.state.Involves(id)) {
    return SessionNotFoundError(msg.session_id);
  }
  Call& entry = it->second;
  WebRtcCall& call = entry.state;
  const std::string& sid = msg.session_id;
  // Everything that changes a call needs calls:write; relaying media
  // negotiation and reporting progress do not. A held/muted that answers a
  // gRPC Hold/Mute still waiting on this page was authorized by that RPC;
  // any other (no op, an unknown op, or one that already timed out) is the
  // page's own change.
  const bool toggle = msg.type == MessageType::kHeld || msg.type == MessageType::kMuted;
  const bool answers_command =
      toggle && PendingOpLocked(msg.op, id, sid, msg.type == MessageType::kHeld) != nullptr;
  const bool changes_call = msg.type == MessageType::kAccept || msg.type == MessageType::kReject ||
                            msg.type == MessageType::kHangup || (toggle && !answers_command);
  if (changes_call && !page.caller.can_write) return NeedsWrite();

  switch (msg.type) {
    case MessageType::kRinging: {
      absl::StatusOr<bool> first = call.OnRinging(id);
      if (!first.ok()) return first.status();
      if (*first) EmitLocked(out, sid, ProviderEventKind::kRinging);
      return absl::OkStatus();
    }
    case MessageType::kAccept: {
      absl::StatusOr<std::set<PageId>> others = call.OnAccept(id);
      if (!others.ok()) return others.status();
      for (PageId other : *others) {
        SendLocked(other, {{"type", "ended"}, {"session_id", sid}, {"reason", "answered_elsewhere"}});
      }
      // The caller's page creates the offer now that one page answered.
      SendLocked(call.caller_page(), {{"type", "start"}, {"session_id", sid}});
      ArmTimerLocked(entry, ConnectTimeout());
      return absl::OkStatus();
    }
    case MessageType::kReject:
      if (absl::Status s = call.OnReject(id); !s.ok()) return s;
      EndLocked(sid, EndOutcome::kBusy, voip::v1::HANGUP_SOURCE_REMOTE, "rejected",
                "the agent declined the call", out);
      return absl::OkStatus();
    case MessageType::kHangup:
      if (call.SideOf(id) == WebRtcCall::Side::kNone) {
        // A page still ringing that hangs up declines.
        if (absl::Status s = call.OnReject(id); !s.ok()) return s;
        EndLocked(sid, EndOutcome::kBusy, voip::v1::HANGUP_SOURCE_REMOTE, "rejected",
                  "the agent declined the call", out);
        return absl::OkStatus();
      }
      EndLocked(sid, EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_REMOTE, "hangup",
                call.SideOf(id) == WebRtcCall::Side::kCaller ? "the caller's page hung up"
                                                             : "the callee's page hung up",
                out);
      return absl::OkStatus();
    case MessageType::kSdp:
    case MessageType::kIce: {
      absl::StatusOr<PageId> target = call.RelayTarget(id);
      if (!target.ok()) return target.status();
      const bool sdp = msg.type == MessageType::kSdp;
      SendLocked(*target, {{"type", sdp ? "sdp" : "ice"},
                           {"session_id", sid},
                           {sdp ? "description" : "candidate", msg.payload}});
      return absl::OkStatus();
    }
    case MessageType::kState: {
      absl::StatusOr<WebRtcCall::Progress> progress = call.OnConnectionState(id, msg.connection_state);
      if (!progress.ok()) return progress.status();
      if (*progress == WebRtcCall::Progress::kConnected) {
        if (entry.timer) entry.timer_generation++;  // the connect timeout no longer applies
        EmitLocked(out, sid, ProviderEventKind::kAnswered);
      } else if (*progress == WebRtcCall::Progress::kLost) {
        if (call.phase() == WebRtcCall::Phase::kConnected) {
          EndLocked(sid, EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_REMOTE,
                    "connection_lost", "the media connection was lost", out);
        } else {
          EndLocked(sid, EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM, "connect_failed",
                    "the pages could not connect media", out);
        }
      }
      return absl::OkStatus();
    }
    case MessageType::kHeld:
    case MessageType::kMuted: {
      const bool hold = msg.type == MessageType::kHeld;
      if (call.phase() != WebRtcCall::Phase::kConnected || call.SideOf(id) == WebRtcCall::Side::kNone) {
        CompleteOpsLocked(id, sid, hold, msg.flag, msg.op, "the call is not connected", out);
        return InvalidStateError(sid, "session_id: the call is not connected");
      }
      if (msg.error.empty()) {
        // Confirmed by the page: only now does the call change.
        const bool changed = hold ? call.SetHeld(id, msg.flag) : call.SetMuted(id, msg.flag);
        if (changed) {
          EmitLocked(out, sid,
                     hold ? (msg.flag ? ProviderEventKind::kHeld : ProviderEventKind::kResumed)
                          : (msg.flag ? ProviderEventKind::kMuted : ProviderEventKind::kUnmuted));
        }
      }
      CompleteOpsLocked(id, sid, hold, msg.flag, msg.op, msg.error, out);
      return absl::OkStatus();
    }
    case MessageType::kRegister:
    case MessageType::kCall:
      break;
  }
  return absl::OkStatus();
}

void WebRtcAdapter::OnCoreEvent(const voip::v1::CallEvent& event) {
  const voip::v1::CallSession& session = event.session();
  const std::string caller = session.from();
  const std::string callee = CalleeFor(session.to_normalized());
  json status = {
      {"type", "status"},
      {"session_id", session.session_id()},
      {"status", voip::v1::CallStatus_Name(session.status())},
      {"previous_status", voip::v1::CallStatus_Name(event.previous_status())},
      {"event", voip::v1::CallEventType_Name(event.type())},
      {"sequence", event.sequence()},
      {"from", caller},
      {"to", callee.empty() ? session.to_normalized() : callee},
      {"on_hold", session.on_hold()},
      {"muted", session.muted()},
  };
  if (session.has_end_reason()) {
    status["end_reason"] = {
        {"source", voip::v1::HangupSource_Name(session.end_reason().source())},
        {"message", session.end_reason().message()}};
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [id, page] : pages_) {
    if (!page.registered) continue;
    // Only the agents of the call see it.
    if (page.identity == caller || (!callee.empty() && page.identity == callee)) {
      SendLocked(id, status);
    }
  }
}

}  // namespace voipd::adapters::webrtc
