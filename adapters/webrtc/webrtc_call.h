// One browser-to-browser call as the adapter sees it: which page dials,
// which pages ring, which one answered, what each page reported. Pure state,
// no I/O, so every rule is unit-tested (tests/adapters/webrtc/); the adapter
// turns the results into messages and ProviderEvents.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace voipd::adapters::webrtc {

using PageId = uint64_t;

class WebRtcCall {
 public:
  enum class Phase {
    kAlerting,   // callee pages ring; the caller page waits
    kAccepted,   // one callee page answered; the pages negotiate media
    kConnected,  // both pages reported connectionState "connected"
  };
  enum class Side { kNone, kCaller, kCallee };

  WebRtcCall(std::string session_id, std::string caller, PageId caller_page, std::string callee,
             std::set<PageId> callee_pages);

  const std::string& session_id() const { return session_id_; }
  const std::string& caller() const { return caller_; }
  const std::string& callee() const { return callee_; }
  Phase phase() const { return phase_; }
  PageId caller_page() const { return caller_page_; }
  // 0 until a callee page answered.
  PageId callee_page() const { return callee_page_; }
  const std::set<PageId>& ringing_pages() const { return ringing_; }

  // The caller page or the answering callee page.
  Side SideOf(PageId page) const;
  // A party, or a page still ringing for the call.
  bool Involves(PageId page) const;

  // A ringing page shows the alert; true the first time (then: kRinging).
  absl::StatusOr<bool> OnRinging(PageId page);
  // A ringing page answers. Returns the other pages that must stop ringing.
  absl::StatusOr<std::set<PageId>> OnAccept(PageId page);
  // A ringing page declines (the call then ends busy).
  absl::Status OnReject(PageId page);

  enum class Progress { kNone, kConnected, kLost };
  // A party reports its RTCPeerConnection state. kConnected the first time
  // both sides are connected (then: kAnswered); kLost when a party reports
  // failed/closed (then: the call ends).
  absl::StatusOr<Progress> OnConnectionState(PageId page, absl::string_view state);

  // Where a party's sdp/ice goes: the other party's page. Errors for a page
  // that is not a party or before a callee page answered.
  absl::StatusOr<PageId> RelayTarget(PageId from) const;

  enum class Gone { kNotInvolved, kStillRinging, kNoCalleeLeft, kPartyGone };
  // A page closed or lost its WebSocket.
  Gone RemovePage(PageId page);

  // Which page a gRPC Hold/Mute goes to: the side that put the call on hold
  // (muted) to undo it, else the caller.
  PageId CommandTarget(bool hold_not_mute, bool on) const;
  // A party confirmed hold/mute. Returns false when nothing changed.
  bool SetHeld(PageId page, bool held);
  bool SetMuted(PageId page, bool muted);
  bool held() const { return held_by_ != Side::kNone; }
  bool muted() const { return muted_by_ != Side::kNone; }

 private:
  PageId PageOf(Side side) const;

  std::string session_id_;
  std::string caller_;
  PageId caller_page_;
  std::string callee_;
  std::set<PageId> ringing_;
  PageId callee_page_ = 0;
  Phase phase_ = Phase::kAlerting;
  bool alerted_ = false;
  bool caller_connected_ = false;
  bool callee_connected_ = false;
  Side held_by_ = Side::kNone;
  Side muted_by_ = Side::kNone;
};

}  // namespace voipd::adapters::webrtc
