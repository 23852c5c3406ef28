// Follows voipd's calls through the AMI event stream and turns what Asterisk
// says into ProviderEvents. Pure logic: no I/O and no clock, so it runs on
// recorded transcripts in unit tests. The adapter feeds it events and does
// what the Sink asks (hang up channels, arm the settle timer).
//
// A call is identified by the ChannelId voipd assigned to the originated
// channel (`primary_id`). Asterisk uses that Uniqueid as the `Linkedid` of
// every leg the call later grows, so each event is matched by Uniqueid first,
// then by Linkedid. OriginateResponse is matched by ActionID, because a failed
// one may carry `Uniqueid: <unknown>`.
//
// Click-to-call: the originated channel is the agent; the target is the leg
// that channel Dial()s (DialBegin with our Uniqueid as caller). Ringing and
// answer are the target's, never the agent's. Direct: the originated channel
// is the target.
//
// Inbound: a Newchannel in one of the configured inbound contexts (a call
// arriving at the PBX) is reported through Sink::AcceptInbound and then
// followed like a direct-mode call whose primary channel is that channel
// (its Uniqueid is the call's provider_call_id, and the Linkedid of every leg
// its dialplan later creates).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/api/call_host.h"
#include "adapters/api/provider_event.h"
#include "adapters/asterisk_ami/ami_message.h"
#include "adapters/asterisk_ami/ami_status_map.h"

namespace voipd::adapters::asterisk_ami {

enum class CallMode { kClickToCall, kDirect };

class AmiCallTracker {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void Emit(ProviderEvent event) = 0;
    // The call's end is known but some legs have not reported their Hangup
    // (which carries the informative cause): call FinishEnding() soon.
    virtual void SettleLater(const std::string& session_id) = 0;
    // Channels (names, or Uniqueids when the name is unknown) to hang up:
    // legs left over after a call ended, or new legs of a call being ended.
    virtual void HangupChannels(const std::string& session_id,
                                const std::vector<std::string>& channels) = 0;
    // A requested hold (true) or resume (false) was confirmed; the matching
    // kHeld/kResumed was emitted just before.
    virtual void HoldConfirmed(const std::string& session_id, bool held) = 0;
    // A call arrived at the PBX (inbound): report it to the core. The
    // session id to follow it under, or nullopt when the core refused it
    // (the channel is then left alone: nothing is sent to the PBX).
    virtual std::optional<std::string> AcceptInbound(const InboundCall& call) {
      return std::nullopt;
    }
  };

  // A call of the previous run to take over again (Adapter::Readopt).
  struct Adoption {
    std::string session_id;
    std::string primary_id;  // the stored provider_call_id
    std::string peer_id;     // outbound: the OtherChannelId; inbound: empty
    bool inbound = false;
    bool ringing = false;   // the core already reported it ringing
    bool answered = false;  // ... or connected
  };

  AmiCallTracker(CallMode mode, Sink* sink) : mode_(mode), sink_(sink) {}

  // Starts following a call whose Originate is about to be sent.
  void Track(const std::string& session_id, const std::string& primary_id,
             const std::string& peer_id);
  void SetOriginateActionId(const std::string& session_id, const std::string& action_id);
  // The Originate was refused or never answered: no call, no event.
  void Untrack(const std::string& session_id);
  bool IsTracked(const std::string& session_id) const { return calls_.count(session_id) > 0; }
  std::vector<std::string> Sessions() const;

  void OnEvent(const AmiMessage& event);
  // After a reconnect: the CoreShowChannel items of a CoreShowChannels
  // reply, for the calls tracked when it was asked for (a call originated
  // after the request cannot be in it). Calls whose originated channel is
  // gone get their terminal event; the others catch up (ringing, answered)
  // with what the PBX reports.
  void Resync(const std::vector<AmiMessage>& channels, const std::vector<std::string>& sessions);
  // Re-adoption after voipd restarted: `channels` are the CoreShowChannel
  // items of a CoreShowChannels reply. False, tracking nothing and emitting
  // nothing, when the call's primary channel is not among them (the core
  // then ends it with DAEMON_RESTART). Otherwise the call is tracked again
  // as if it had been followed all along, and catches up like after a
  // reconnect (kAnswered when it is up but was not answered before).
  bool Adopt(const Adoption& adoption, const std::vector<AmiMessage>& channels);

  // Inbound calls: a Newchannel whose Context is one of `contexts`, of a
  // channel that is its own Linkedid (not a leg of another call), not
  // voipd's own (Uniqueid starting with `own_prefix`, or a leg of a tracked
  // call), is offered to Sink::AcceptInbound. Empty `contexts`: off.
  void SetInboundContexts(std::set<std::string> contexts, std::string own_prefix);
  bool IsInbound(const std::string& session_id) const;

  // The settle wait is over: ends the call with what is known.
  void FinishEnding(const std::string& session_id);

  // EndCall: later events report a local hangup, and new legs are hung up.
  void RequestEnd(const std::string& session_id);
  // voipd's ring deadline passed unanswered: hangs the legs up and ends the
  // call `unavailable` (no answer), whatever the hangup then reports.
  void ExpireRinging(const std::string& session_id);
  // The call's live agent/target legs (never the internal Local ;2 halves),
  // the originated one first. Its Uniqueid when no channel is known yet.
  std::vector<std::string> LegsToHangup(const std::string& session_id) const;
  // The originated channel (name, or Uniqueid before Newchannel).
  std::string PrimaryChannel(const std::string& session_id) const;
  // The channel that hears music on hold: the answered target leg in
  // click-to-call, the originated channel in direct mode. Empty if none.
  std::string HeldPartyChannel(const std::string& session_id) const;
  bool IsAnswered(const std::string& session_id) const;
  // Waits for MusicOnHoldStart (true) / Stop (false); nullopt stops waiting.
  void ExpectHold(const std::string& session_id, std::optional<bool> hold);

 private:
  struct Leg {
    std::string name;
    int state = -1;  // ChannelState (5 ringing, 6 up)
    std::string bridge_id;
    bool hung_up = false;
  };
  struct Call {
    std::string session_id;
    // The tracker's mode, except for inbound calls (always kDirect: the
    // primary channel is the far end itself).
    CallMode mode = CallMode::kDirect;
    bool inbound = false;
    std::string primary_id;
    std::string peer_id;
    std::string originate_action_id;
    std::map<std::string, Leg> legs;   // by Uniqueid
    std::set<std::string> target_ids;  // click-to-call: dialled legs
    std::string answered_target_id;
    bool ringing = false;
    bool answered = false;
    bool end_requested = false;
    bool ending = false;
    bool lost = false;          // gone from the PBX while AMI was down
    bool ring_expired = false;  // voipd's ring deadline ended it
    // The best explanation of an unanswered end, with its Asterisk words.
    std::optional<MappedOutcome> target_failure;
    std::string target_status;
    std::optional<MappedOutcome> originate_failure;
    std::string originate_status;
    // Hangup causes in arrival order: (cause, Cause-txt).
    std::vector<std::pair<int, std::string>> causes;
    std::optional<bool> pending_hold;
  };

  Call* Find(const std::string& uniqueid, const std::string& linkedid);
  Call* FindBySession(const std::string& session_id);
  const Call* FindBySession(const std::string& session_id) const;
  // Records what an event says about one leg; `prefix` is "Dest" for the
  // called side of DialBegin/DialEnd.
  Leg& UpdateLeg(Call& call, const std::string& uniqueid, const AmiMessage& event,
                 absl::string_view prefix);
  void OnNewstate(Call& call, const std::string& uniqueid, int state);
  void OnDial(const AmiMessage& event, bool begin);
  void OnHangup(const AmiMessage& event);
  void OnOriginateResponse(const AmiMessage& event);
  void MaybeAcceptInbound(const AmiMessage& event);
  void OnMusicOnHold(const AmiMessage& event, bool start);
  void MarkRinging(Call& call);
  void MarkAnswered(Call& call);
  // The end of the call is known: finish now if every leg is down,
  // otherwise let the remaining Hangups arrive first.
  void Trigger(Call& call);
  void Finalize(std::string session_id);  // by value: the call holding it is erased
  bool AllLegsDown(const Call& call) const;
  std::string Address(const Call& call, const std::string& uniqueid) const;
  void Forget(const Call& call);

  const CallMode mode_;
  Sink* const sink_;
  std::map<std::string, Call> calls_;                // by session id
  std::map<std::string, std::string> by_uniqueid_;   // leg Uniqueid -> session id
  std::map<std::string, std::string> by_action_id_;  // Originate ActionID -> session id
  std::set<std::string> inbound_contexts_;
  std::string own_prefix_;
};

}  // namespace voipd::adapters::asterisk_ami
