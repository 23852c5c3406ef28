#include "adapters/webrtc/webrtc_call.h"

#include <utility>

#include "adapters/api/voip_error.h"

namespace voipd::adapters::webrtc {
namespace {

// Deliberately the answer for an unknown call too: a page learns nothing
// about calls it is not part of.
absl::Status NotYours(const std::string& session_id) { return SessionNotFoundError(session_id); }

}  // namespace

WebRtcCall::WebRtcCall(std::string session_id, std::string caller, PageId caller_page,
                       std::string callee, std::set<PageId> callee_pages)
    : session_id_(std::move(session_id)),
      caller_(std::move(caller)),
      caller_page_(caller_page),
      callee_(std::move(callee)),
      ringing_(std::move(callee_pages)) {}

WebRtcCall::Side WebRtcCall::SideOf(PageId page) const {
  if (page == 0) return Side::kNone;
  if (page == caller_page_) return Side::kCaller;
  if (page == callee_page_) return Side::kCallee;
  return Side::kNone;
}

bool WebRtcCall::Involves(PageId page) const {
  return SideOf(page) != Side::kNone || ringing_.count(page) != 0;
}

PageId WebRtcCall::PageOf(Side side) const {
  return side == Side::kCaller ? caller_page_ : side == Side::kCallee ? callee_page_ : 0;
}

absl::StatusOr<bool> WebRtcCall::OnRinging(PageId page) {
  if (ringing_.count(page) == 0) return NotYours(session_id_);
  if (phase_ != Phase::kAlerting) return false;
  const bool first = !alerted_;
  alerted_ = true;
  return first;
}

absl::StatusOr<std::set<PageId>> WebRtcCall::OnAccept(PageId page) {
  if (ringing_.count(page) == 0) return NotYours(session_id_);
  if (phase_ != Phase::kAlerting) {
    return InvalidStateError(session_id_, "session_id: the call was already answered");
  }
  ringing_.erase(page);
  std::set<PageId> others;
  others.swap(ringing_);
  callee_page_ = page;
  phase_ = Phase::kAccepted;
  return others;
}

absl::Status WebRtcCall::OnReject(PageId page) {
  if (ringing_.count(page) == 0) return NotYours(session_id_);
  if (phase_ != Phase::kAlerting) {
    return InvalidStateError(session_id_, "session_id: the call was already answered");
  }
  return absl::OkStatus();
}

absl::StatusOr<WebRtcCall::Progress> WebRtcCall::OnConnectionState(PageId page,
                                                                   absl::string_view state) {
  const Side side = SideOf(page);
  if (side == Side::kNone) return NotYours(session_id_);
  if (phase_ == Phase::kAlerting) {
    return InvalidStateError(session_id_, "session_id: the call is not answered yet");
  }
  if (state == "failed" || state == "closed") return Progress::kLost;
  // "disconnected" is often transient (ICE may recover); a page that is
  // really gone is detected by its WebSocket, within the heartbeat.
  const bool connected = state == "connected";
  (side == Side::kCaller ? caller_connected_ : callee_connected_) = connected;
  if (phase_ == Phase::kAccepted && caller_connected_ && callee_connected_) {
    phase_ = Phase::kConnected;
    return Progress::kConnected;
  }
  return Progress::kNone;
}

absl::StatusOr<PageId> WebRtcCall::RelayTarget(PageId from) const {
  const Side side = SideOf(from);
  if (side == Side::kNone) return NotYours(session_id_);
  if (phase_ == Phase::kAlerting) {
    return InvalidStateError(session_id_, "session_id: the call is not answered yet");
  }
  return side == Side::kCaller ? callee_page_ : caller_page_;
}

WebRtcCall::Gone WebRtcCall::RemovePage(PageId page) {
  if (SideOf(page) != Side::kNone) return Gone::kPartyGone;
  if (ringing_.erase(page) == 0) return Gone::kNotInvolved;
  return ringing_.empty() && phase_ == Phase::kAlerting ? Gone::kNoCalleeLeft
                                                        : Gone::kStillRinging;
}

PageId WebRtcCall::CommandTarget(bool hold_not_mute, bool on) const {
  const Side by = hold_not_mute ? held_by_ : muted_by_;
  if (!on && by != Side::kNone) return PageOf(by);
  return caller_page_;
}

bool WebRtcCall::SetHeld(PageId page, bool held) {
  const Side side = SideOf(page);
  if (side == Side::kNone) return false;
  if (held) {
    if (held_by_ != Side::kNone) return false;
    held_by_ = side;
    return true;
  }
  // Only the side that held can resume (the other side never renegotiated).
  if (held_by_ != side) return false;
  held_by_ = Side::kNone;
  return true;
}

bool WebRtcCall::SetMuted(PageId page, bool muted) {
  const Side side = SideOf(page);
  if (side == Side::kNone) return false;
  if (muted) {
    if (muted_by_ != Side::kNone) return false;
    muted_by_ = side;
    return true;
  }
  if (muted_by_ != side) return false;
  muted_by_ = Side::kNone;
  return true;
}

}  // namespace voipd::adapters::webrtc
