// AmiCallTracker::Resync: after a reconnect, what the PBX still has of our
// calls (CoreShowChannels) replaces what the lost events would have said.
#include <map>

#include "absl/strings/numbers.h"
#include "adapters/asterisk_ami/ami_call_tracker.h"

namespace voipd::adapters::asterisk_ami {
namespace {

constexpr int kStateRinging = 5;  // AST_STATE_RINGING
constexpr int kStateUp = 6;       // AST_STATE_UP

}  // namespace

void AmiCallTracker::Resync(const std::vector<AmiMessage>& channels,
                            const std::vector<std::string>& sessions) {
  std::map<std::string, const AmiMessage*> snapshot;
  for (const AmiMessage& m : channels) {
    const std::string uid(m.Get("Uniqueid"));
    if (!uid.empty()) snapshot[uid] = &m;
  }
  for (const std::string& session_id : sessions) {
    Call* call = FindBySession(session_id);
    if (call == nullptr) continue;
    for (const auto& [uid, m] : snapshot) {
      const bool known = call->legs.count(uid) > 0;
      if (!known && m->Get("Linkedid") != call->primary_id && uid != call->primary_id &&
          uid != call->peer_id) {
        continue;
      }
      Leg& leg = UpdateLeg(*call, uid, *m, "");
      leg.bridge_id = std::string(m->Get("BridgeId"));
      // A leg that appeared while we were away: in click-to-call, anything
      // besides the agent's own channels is the target side.
      if (!known && call->mode == CallMode::kClickToCall && uid != call->primary_id &&
          uid != call->peer_id) {
        call->target_ids.insert(uid);
      }
    }
    for (auto& [uid, leg] : call->legs) {
      if (snapshot.count(uid) == 0) leg.hung_up = true;
    }
    auto primary = call->legs.find(call->primary_id);
    if (snapshot.count(call->primary_id) == 0 || primary == call->legs.end() ||
        primary->second.hung_up) {
      // It ended while we could not see it: report it rather than leave it
      // dangling, with whatever is known.
      call->lost = true;
      Finalize(session_id);
      continue;
    }
    const Leg& agent = primary->second;
    if (call->mode == CallMode::kDirect) {
      if (agent.state == kStateUp) MarkAnswered(*call);
      if (agent.state == kStateRinging) MarkRinging(*call);
    } else {
      // Prefer the leg bridged with the agent (a Local target has two
      // halves up), then any target leg that is up.
      std::string answered;
      bool any_live = false;
      for (int pass = 0; pass < 2 && answered.empty(); ++pass) {
        for (const std::string& id : call->target_ids) {
          auto leg = call->legs.find(id);
          if (leg == call->legs.end() || leg->second.hung_up) continue;
          any_live = true;
          const bool bridged_with_agent =
              !leg->second.bridge_id.empty() && leg->second.bridge_id == agent.bridge_id;
          if (pass == 0 ? bridged_with_agent : leg->second.state == kStateUp) {
            answered = id;
            break;
          }
        }
      }
      if (!answered.empty()) {
        if (HeldPartyChannel(session_id).empty()) call->answered_target_id = answered;
        MarkAnswered(*call);
      } else if (any_live) {
        MarkRinging(*call);
      }
    }
    if (call->end_requested) sink_->HangupChannels(session_id, LegsToHangup(session_id));
  }
}

}  // namespace voipd::adapters::asterisk_ami

namespace voipd::adapters::asterisk_ami {

bool AmiCallTracker::Adopt(const Adoption& adoption, const std::vector<AmiMessage>& channels) {
  if (adoption.session_id.empty() || adoption.primary_id.empty() ||
      IsTracked(adoption.session_id)) {
    return false;
  }
  bool present = false;
  for (const AmiMessage& m : channels) {
    if (m.Get("Uniqueid") == adoption.primary_id) present = true;
  }
  // Gone (or never created): nothing to take over, and no event either.
  if (!present) return false;
  Track(adoption.session_id, adoption.primary_id, adoption.peer_id);
  Call& call = calls_[adoption.session_id];
  if (adoption.inbound) {
    call.mode = CallMode::kDirect;
    call.inbound = true;
  }
  // What the core already knows is not reported again.
  call.ringing = adoption.ringing || adoption.answered;
  call.answered = adoption.answered;
  // Legs, names, bridges and a missed answer: as after a reconnect.
  Resync(channels, {adoption.session_id});
  return IsTracked(adoption.session_id);
}

}  // namespace voipd::adapters::asterisk_ami
