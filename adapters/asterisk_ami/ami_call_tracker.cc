#include "adapters/asterisk_ami/ami_call_tracker.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace voipd::adapters::asterisk_ami {
namespace {

constexpr int kStateRinging = 5;  // AST_STATE_RINGING
constexpr int kStateUp = 6;       // AST_STATE_UP

int ToInt(absl::string_view s, int fallback = -1) {
  int v;
  return absl::SimpleAtoi(s, &v) ? v : fallback;
}

// A failed OriginateResponse says `Uniqueid: <unknown>` unless ChannelId was
// given (peer README, file 22).
bool IsRealId(absl::string_view id) { return !id.empty() && id != "<unknown>"; }

}  // namespace

void AmiCallTracker::Track(const std::string& session_id, const std::string& primary_id,
                           const std::string& peer_id) {
  Call call;
  call.session_id = session_id;
  call.mode = mode_;
  call.primary_id = primary_id;
  call.peer_id = peer_id;
  by_uniqueid_[primary_id] = session_id;
  if (!peer_id.empty()) by_uniqueid_[peer_id] = session_id;
  calls_[session_id] = std::move(call);
}

void AmiCallTracker::SetOriginateActionId(const std::string& session_id,
                                          const std::string& action_id) {
  Call* call = FindBySession(session_id);
  if (call == nullptr || action_id.empty()) return;
  call->originate_action_id = action_id;
  by_action_id_[action_id] = session_id;
}

void AmiCallTracker::Untrack(const std::string& session_id) {
  if (const Call* call = FindBySession(session_id)) Forget(*call);
}

std::vector<std::string> AmiCallTracker::Sessions() const {
  std::vector<std::string> out;
  for (const auto& [id, call] : calls_) out.push_back(id);
  return out;
}

AmiCallTracker::Call* AmiCallTracker::FindBySession(const std::string& session_id) {
  auto it = calls_.find(session_id);
  return it == calls_.end() ? nullptr : &it->second;
}

const AmiCallTracker::Call* AmiCallTracker::FindBySession(const std::string& session_id) const {
  auto it = calls_.find(session_id);
  return it == calls_.end() ? nullptr : &it->second;
}

AmiCallTracker::Call* AmiCallTracker::Find(const std::string& uniqueid,
                                           const std::string& linkedid) {
  if (!uniqueid.empty()) {
    auto it = by_uniqueid_.find(uniqueid);
    if (it != by_uniqueid_.end()) return FindBySession(it->second);
  }
  if (!linkedid.empty()) {
    // Every leg of our call is linked to the channel we originated.
    auto it = by_uniqueid_.find(linkedid);
    if (it != by_uniqueid_.end()) {
      Call* call = FindBySession(it->second);
      if (call != nullptr && call->primary_id == linkedid) return call;
    }
  }
  return nullptr;
}

AmiCallTracker::Leg& AmiCallTracker::UpdateLeg(Call& call, const std::string& uniqueid,
                                               const AmiMessage& event, absl::string_view prefix) {
  Leg& leg = call.legs[uniqueid];
  by_uniqueid_[uniqueid] = call.session_id;
  const absl::string_view name = event.Get(absl::StrCat(prefix, "Channel"));
  if (!name.empty()) leg.name = std::string(name);
  const int state = ToInt(event.Get(absl::StrCat(prefix, "ChannelState")));
  if (state >= 0 && !leg.hung_up) leg.state = state;
  return leg;
}

void AmiCallTracker::OnEvent(const AmiMessage& event) {
  const std::string name = absl::AsciiStrToLower(event.Get("Event"));
  if (name == "originateresponse") return OnOriginateResponse(event);
  if (name == "dialbegin") return OnDial(event, /*begin=*/true);
  if (name == "dialend") return OnDial(event, /*begin=*/false);
  if (name == "hangup") return OnHangup(event);
  if (name == "musiconholdstart") return OnMusicOnHold(event, /*start=*/true);
  if (name == "musiconholdstop") return OnMusicOnHold(event, /*start=*/false);

  if (name == "newchannel" && !inbound_contexts_.empty()) MaybeAcceptInbound(event);
  const std::string uid(event.Get("Uniqueid"));
  if (uid.empty()) return;
  Call* call = Find(uid, std::string(event.Get("Linkedid")));
  if (call == nullptr) return;
  const bool is_new = call->legs.count(uid) == 0;
  Leg& leg = UpdateLeg(*call, uid, event, "");
  if (name == "newstate" || name == "newchannel") {
    OnNewstate(*call, uid, leg.state);
  } else if (name == "bridgeenter") {
    leg.bridge_id = std::string(event.Get("BridgeUniqueid"));
    if (call->mode == CallMode::kClickToCall && call->target_ids.count(uid)) {
      call->answered_target_id = uid;
      MarkAnswered(*call);
    }
  } else if (name == "bridgeleave") {
    leg.bridge_id.clear();
  }
  // EndCall came before the originated channel existed: hang it up now.
  if (is_new && call->end_requested && uid == call->primary_id) {
    sink_->HangupChannels(call->session_id, {Address(*call, uid)});
  }
}

void AmiCallTracker::SetInboundContexts(std::set<std::string> contexts,
                                        std::string own_prefix) {
  inbound_contexts_ = std::move(contexts);
  own_prefix_ = std::move(own_prefix);
}

bool AmiCallTracker::IsInbound(const std::string& session_id) const {
  const Call* call = FindBySession(session_id);
  return call != nullptr && call->inbound;
}

void AmiCallTracker::MaybeAcceptInbound(const AmiMessage& event) {
  const std::string uid(event.Get("Uniqueid"));
  const std::string linkedid(event.Get("Linkedid"));
  if (uid.empty() || inbound_contexts_.count(std::string(event.Get("Context"))) == 0) return;
  // A leg created for another call (a Local ;2 half, a Dial()ed phone) is
  // linked to that call's first channel: only a call's own first channel
  // is a new call.
  if (!linkedid.empty() && linkedid != uid) return;
  // voipd's own Originates (their ChannelId/OtherChannelId).
  if (!own_prefix_.empty() && absl::StartsWith(uid, own_prefix_)) return;
  if (Find(uid, linkedid) != nullptr) return;
  InboundCall inbound;
  inbound.provider_call_id = uid;
  const absl::string_view from = event.Get("CallerIDNum");
  if (from != "<unknown>") inbound.from = std::string(from);
  inbound.to = std::string(event.Get("Exten"));
  std::optional<std::string> session_id = sink_->AcceptInbound(inbound);
  if (!session_id || session_id->empty() || IsTracked(*session_id)) return;
  Track(*session_id, uid, "");
  Call& call = calls_[*session_id];
  call.mode = CallMode::kDirect;
  call.inbound = true;
  call.ringing = true;  // the core announces it ringing itself
}

void AmiCallTracker::OnNewstate(Call& call, const std::string& uniqueid, int state) {
  const bool watched = call.mode == CallMode::kDirect ? uniqueid == call.primary_id
                                                  : call.target_ids.count(uniqueid) > 0;
  if (!watched) return;
  if (state == kStateRinging) MarkRinging(call);
  if (state == kStateUp) {
    if (call.mode == CallMode::kClickToCall) call.answered_target_id = uniqueid;
    MarkAnswered(call);
  }
}

void AmiCallTracker::OnDial(const AmiMessage& event, bool begin) {
  const std::string uid(event.Get("Uniqueid"));
  const std::string dest(event.Get("DestUniqueid"));
  const std::string status = absl::AsciiStrToUpper(event.Get("DialStatus"));
  if (uid.empty()) {
    // Originate's own Dial of the channel it creates: only Dest* fields.
    Call* call = Find(dest, std::string(event.Get("DestLinkedid")));
    if (call == nullptr) return;
    UpdateLeg(*call, dest, event, "Dest");
    if (dest != call->primary_id) return;
    if (begin) {
      // Ringing the target in direct mode; in click-to-call it is the
      // agent's phone that rings, which is not the call's ringing.
      if (call->mode == CallMode::kDirect) MarkRinging(*call);
      return;
    }
    if (status == "ANSWER") {
      if (call->mode == CallMode::kDirect) MarkAnswered(*call);
      return;
    }
    if (auto failure = MapDialStatus(status); failure && !call->originate_failure) {
      call->originate_failure = failure;
      call->originate_status = status;
    }
    return;
  }
  Call* call = Find(uid, std::string(event.Get("Linkedid")));
  if (call == nullptr) return;
  UpdateLeg(*call, uid, event, "");
  if (dest.empty()) return;
  const bool new_leg = call->legs.count(dest) == 0;
  UpdateLeg(*call, dest, event, "Dest");
  if (call->mode != CallMode::kClickToCall) return;
  if (begin) {
    call->target_ids.insert(dest);
    MarkRinging(*call);
    if (call->end_requested && new_leg) {
      sink_->HangupChannels(call->session_id, {Address(*call, dest)});
    }
    return;
  }
  if (call->target_ids.count(dest) == 0) return;
  if (status == "ANSWER") {
    call->answered_target_id = dest;
    MarkAnswered(*call);
    return;
  }
  if (call->answered) return;  // a forked Dial's other branches
  if (auto failure = MapDialStatus(status)) {
    call->target_failure = failure;
    call->target_status = status;
  }
}

void AmiCallTracker::OnHangup(const AmiMessage& event) {
  const std::string uid(event.Get("Uniqueid"));
  Call* call = Find(uid, std::string(event.Get("Linkedid")));
  if (call == nullptr) return;
  Leg& leg = UpdateLeg(*call, uid, event, "");
  leg.hung_up = true;
  call->causes.emplace_back(ToInt(event.Get("Cause")), std::string(event.Get("Cause-txt")));
  const std::string session_id = call->session_id;
  if (uid == call->primary_id) {
    Trigger(*call);
  } else if (call->mode == CallMode::kClickToCall && call->target_ids.count(uid)) {
    bool target_left = false;
    for (const std::string& id : call->target_ids) {
      auto it = call->legs.find(id);
      if (it != call->legs.end() && !it->second.hung_up) target_left = true;
    }
    // The far end is gone (hung up, or its Dial failed): the call is over
    // even if the agent's channel goes on in the dialplan for a while.
    if (!target_left) Trigger(*call);
  }
  call = FindBySession(session_id);
  if (call != nullptr && call->ending && AllLegsDown(*call)) Finalize(session_id);
}

void AmiCallTracker::OnOriginateResponse(const AmiMessage& event) {
  auto it = by_action_id_.find(std::string(event.Get("ActionID")));
  if (it == by_action_id_.end()) return;
  Call* call = FindBySession(it->second);
  if (call == nullptr) return;
  const std::string uid(event.Get("Uniqueid"));
  if (IsRealId(uid) && uid != call->primary_id) {
    // A PBX that ignored ChannelId: follow the id it chose instead.
    by_uniqueid_[uid] = call->session_id;
  }
  if (event.IsSuccess()) {
    if (IsRealId(uid)) UpdateLeg(*call, uid, event, "");
    // Reason 4: the originated channel answered. In direct mode that is the
    // target; in click-to-call only the agent, so nothing to report.
    if (call->mode == CallMode::kDirect) MarkAnswered(*call);
    return;
  }
  const int reason = ToInt(event.Get("Reason"), 0);
  if (!call->originate_failure) {
    auto mapped = MapOriginateReason(reason);
    call->originate_failure =
        mapped ? *mapped
               : MappedOutcome{EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM,
                               voip::v1::PROVIDER_ERROR, "originate failed"};
    call->originate_status = absl::StrCat("Reason ", reason);
  }
  Trigger(*call);
}

void AmiCallTracker::OnMusicOnHold(const AmiMessage& event, bool start) {
  Call* call = Find(std::string(event.Get("Uniqueid")), std::string(event.Get("Linkedid")));
  // Only a requested change counts: MusicOnHoldStop also comes when a held
  // channel is hung up (file 16), which is no resume.
  if (call == nullptr || !call->pending_hold || *call->pending_hold != start) return;
  call->pending_hold.reset();
  ProviderEvent out;
  out.session_id = call->session_id;
  out.kind = start ? ProviderEventKind::kHeld : ProviderEventKind::kResumed;
  sink_->Emit(std::move(out));
  sink_->HoldConfirmed(call->session_id, start);
}

void AmiCallTracker::MarkRinging(Call& call) {
  if (call.ringing || call.answered || call.ending) return;
  call.ringing = true;
  ProviderEvent out;
  out.session_id = call.session_id;
  out.kind = ProviderEventKind::kRinging;
  out.provider_call_id = call.primary_id;
  sink_->Emit(std::move(out));
}

void AmiCallTracker::MarkAnswered(Call& call) {
  if (call.answered || call.ending) return;
  call.answered = true;
  ProviderEvent out;
  out.session_id = call.session_id;
  out.kind = ProviderEventKind::kAnswered;
  out.provider_call_id = call.primary_id;
  sink_->Emit(std::move(out));
}

bool AmiCallTracker::AllLegsDown(const Call& call) const {
  for (const auto& [id, leg] : call.legs) {
    if (!leg.hung_up) return false;
  }
  return true;
}

void AmiCallTracker::Trigger(Call& call) {
  const bool first = !call.ending;
  call.ending = true;
  if (AllLegsDown(call)) {
    Finalize(call.session_id);
  } else if (first) {
    sink_->SettleLater(call.session_id);
  }
}

void AmiCallTracker::FinishEnding(const std::string& session_id) {
  const Call* call = FindBySession(session_id);
  if (call != nullptr && call->ending) Finalize(session_id);
}

void AmiCallTracker::Finalize(std::string session_id) {
  auto it = calls_.find(session_id);
  if (it == calls_.end()) return;
  const Call call = std::move(it->second);
  Forget(call);

  // Asterisk reports the useful cause on one leg only (17 on the Local ;2
  // of a busy callee, 0 on the others): prefer a specific cause, then 16.
  int q850 = 0;
  std::string cause_text;
  bool chosen = false;
  for (const auto& [cause, text] : call.causes) {
    if (cause > 0 && cause != 16) {
      q850 = cause;
      cause_text = text;
      chosen = true;
      break;
    }
  }
  if (!chosen) {
    for (const auto& [cause, text] : call.causes) {
      if (cause == 16) {
        q850 = cause;
        cause_text = text;
        break;
      }
    }
  }

  ProviderEvent out;
  out.session_id = session_id;
  out.kind = ProviderEventKind::kEnded;
  std::string status;
  if (call.end_requested) {
    out.outcome = EndOutcome::kDisconnected;
    out.source = voip::v1::HANGUP_SOURCE_LOCAL;
    out.message = "ended by request";
  } else if (call.answered) {
    out.outcome = EndOutcome::kDisconnected;
    out.source = voip::v1::HANGUP_SOURCE_REMOTE;
    out.message = call.lost ? "the call ended while the AMI connection was down" : "hung up";
  } else {
    MappedOutcome mapped;
    if (call.ring_expired) {
      // Our own hangup makes Dial() report CANCEL: the truth is no answer.
      mapped = MappedOutcome{EndOutcome::kUnavailable,
                             voip::v1::HANGUP_SOURCE_SYSTEM,
                             {},
                             "no answer within the ring timeout"};
    } else if (call.mode == CallMode::kClickToCall && call.target_failure) {
      mapped = *call.target_failure;
      status = call.target_status;
    } else if (call.originate_failure) {
      mapped = *call.originate_failure;
      status = call.originate_status;
    } else if (call.lost) {
      mapped = MappedOutcome{EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM,
                             voip::v1::NETWORK_ERROR,
                             "the call ended while the AMI connection was down; outcome unknown"};
    } else {
      mapped = MapUnansweredCause(q850);
    }
    out.outcome = mapped.outcome;
    out.source = mapped.source;
    out.error_code = mapped.error_code;
    out.message = mapped.description;
  }
  if (!status.empty()) absl::StrAppend(&out.message, " (", status, ")");
  if (q850 != 0) absl::StrAppend(&out.message, "; Q.850 ", q850, " ", cause_text);
  out.cause.set_q850_cause(q850);
  out.cause.set_provider_status(status);
  out.cause.set_text(cause_text);
  sink_->Emit(std::move(out));

  // No leg may outlive the call (e.g. the agent's channel still in the
  // dialplan after the target's Dial failed).
  std::vector<std::string> leftovers;
  auto add_if_up = [&](const std::string& id) {
    auto leg = call.legs.find(id);
    if (leg != call.legs.end() && !leg->second.hung_up) leftovers.push_back(Address(call, id));
  };
  add_if_up(call.primary_id);
  for (const std::string& id : call.target_ids) add_if_up(id);
  if (!leftovers.empty()) sink_->HangupChannels(session_id, leftovers);
}

void AmiCallTracker::Forget(const Call& call) {
  const std::string session_id = call.session_id;
  for (auto it = by_uniqueid_.begin(); it != by_uniqueid_.end();) {
    it = it->second == session_id ? by_uniqueid_.erase(it) : std::next(it);
  }
  if (!call.originate_action_id.empty()) by_action_id_.erase(call.originate_action_id);
  calls_.erase(session_id);
}

std::string AmiCallTracker::Address(const Call& call, const std::string& uniqueid) const {
  auto it = call.legs.find(uniqueid);
  // Asterisk finds a channel by name or by Uniqueid, so the id we assigned
  // works before the first event has told us the name.
  return it != call.legs.end() && !it->second.name.empty() ? it->second.name : uniqueid;
}

void AmiCallTracker::RequestEnd(const std::string& session_id) {
  if (Call* call = FindBySession(session_id)) call->end_requested = true;
}

void AmiCallTracker::ExpireRinging(const std::string& session_id) {
  Call* call = FindBySession(session_id);
  if (call == nullptr || call->answered || call->ending) return;
  call->ring_expired = true;
  sink_->HangupChannels(session_id, LegsToHangup(session_id));
  Trigger(*call);  // may finish at once when no leg is known to be up
}

std::vector<std::string> AmiCallTracker::LegsToHangup(const std::string& session_id) const {
  std::vector<std::string> out;
  const Call* call = FindBySession(session_id);
  if (call == nullptr) return out;
  auto up = [&](const std::string& id) {
    auto it = call->legs.find(id);
    return it == call->legs.end() || !it->second.hung_up;
  };
  if (up(call->primary_id)) out.push_back(Address(*call, call->primary_id));
  for (const std::string& id : call->target_ids) {
    if (up(id)) out.push_back(Address(*call, id));
  }
  return out;
}

std::string AmiCallTracker::PrimaryChannel(const std::string& session_id) const {
  const Call* call = FindBySession(session_id);
  return call == nullptr ? "" : Address(*call, call->primary_id);
}

std::string AmiCallTracker::HeldPartyChannel(const std::string& session_id) const {
  const Call* call = FindBySession(session_id);
  if (call == nullptr) return "";
  if (call->mode == CallMode::kDirect) return Address(*call, call->primary_id);
  if (call->answered_target_id.empty()) return "";
  auto it = call->legs.find(call->answered_target_id);
  if (it == call->legs.end() || it->second.hung_up) return "";
  return Address(*call, call->answered_target_id);
}

bool AmiCallTracker::IsAnswered(const std::string& session_id) const {
  const Call* call = FindBySession(session_id);
  return call != nullptr && call->answered;
}

void AmiCallTracker::ExpectHold(const std::string& session_id, std::optional<bool> hold) {
  if (Call* call = FindBySession(session_id)) call->pending_hold = hold;
}

}  // namespace voipd::adapters::asterisk_ami
