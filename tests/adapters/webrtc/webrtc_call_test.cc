#include "adapters/webrtc/webrtc_call.h"

#include "adapters/api/voip_error.h"
#include "gtest/gtest.h"

namespace voipd::adapters::webrtc {
namespace {

// Pages: 1 = alice (caller), 2 and 3 = bob's two tabs, 9 = carol (stranger).
WebRtcCall NewCall() { return WebRtcCall("s-1", "alice", 1, "bob", {2, 3}); }

TEST(WebRtcCallTest, FirstAlertRingsOnce) {
  WebRtcCall call = NewCall();
  EXPECT_EQ(*call.OnRinging(2), true);
  EXPECT_EQ(*call.OnRinging(3), false);
  EXPECT_EQ(GetErrorCode(call.OnRinging(9).status()), voip::v1::SESSION_NOT_FOUND);
}

TEST(WebRtcCallTest, FirstAnswerWinsAndStopsTheOthers) {
  WebRtcCall call = NewCall();
  auto others = call.OnAccept(3);
  ASSERT_TRUE(others.ok());
  EXPECT_EQ(*others, (std::set<PageId>{2}));
  EXPECT_EQ(call.callee_page(), 3u);
  EXPECT_EQ(call.phase(), WebRtcCall::Phase::kAccepted);
  EXPECT_FALSE(call.OnAccept(2).ok());  // no longer ringing
  EXPECT_FALSE(call.Involves(2));
  EXPECT_TRUE(call.Involves(3));
}

TEST(WebRtcCallTest, AnsweredOnlyWhenBothSidesConnected) {
  WebRtcCall call = NewCall();
  // Before the answer nobody may report media state.
  EXPECT_FALSE(call.OnConnectionState(1, "connected").ok());
  ASSERT_TRUE(call.OnAccept(2).ok());
  EXPECT_EQ(*call.OnConnectionState(1, "connecting"), WebRtcCall::Progress::kNone);
  EXPECT_EQ(*call.OnConnectionState(1, "connected"), WebRtcCall::Progress::kNone);
  EXPECT_EQ(*call.OnConnectionState(2, "connected"), WebRtcCall::Progress::kConnected);
  EXPECT_EQ(call.phase(), WebRtcCall::Phase::kConnected);
  // Reported again (e.g. after a renegotiation): not a second answer.
  EXPECT_EQ(*call.OnConnectionState(2, "connected"), WebRtcCall::Progress::kNone);
  EXPECT_EQ(*call.OnConnectionState(2, "failed"), WebRtcCall::Progress::kLost);
  EXPECT_FALSE(call.OnConnectionState(9, "connected").ok());
}

TEST(WebRtcCallTest, ConnectedOnOneSideThenDisconnectedIsNotAnswered) {
  WebRtcCall call = NewCall();
  ASSERT_TRUE(call.OnAccept(2).ok());
  EXPECT_EQ(*call.OnConnectionState(1, "connected"), WebRtcCall::Progress::kNone);
  EXPECT_EQ(*call.OnConnectionState(1, "disconnected"), WebRtcCall::Progress::kNone);
  EXPECT_EQ(*call.OnConnectionState(2, "connected"), WebRtcCall::Progress::kNone);
  EXPECT_EQ(call.phase(), WebRtcCall::Phase::kAccepted);
}

TEST(WebRtcCallTest, RelayOnlyBetweenParties) {
  WebRtcCall call = NewCall();
  EXPECT_FALSE(call.RelayTarget(1).ok());  // nobody answered yet
  ASSERT_TRUE(call.OnAccept(3).ok());
  EXPECT_EQ(*call.RelayTarget(1), 3u);
  EXPECT_EQ(*call.RelayTarget(3), 1u);
  EXPECT_EQ(GetErrorCode(call.RelayTarget(2).status()), voip::v1::SESSION_NOT_FOUND);
  EXPECT_EQ(GetErrorCode(call.RelayTarget(9).status()), voip::v1::SESSION_NOT_FOUND);
}

TEST(WebRtcCallTest, RejectOnlyByARingingPage) {
  WebRtcCall call = NewCall();
  EXPECT_FALSE(call.OnReject(1).ok());  // the caller hangs up instead
  EXPECT_FALSE(call.OnReject(9).ok());
  EXPECT_TRUE(call.OnReject(2).ok());
  ASSERT_TRUE(call.OnAccept(3).ok());
  EXPECT_FALSE(call.OnReject(3).ok());
}

TEST(WebRtcCallTest, PagesGoing) {
  WebRtcCall call = NewCall();
  EXPECT_EQ(call.RemovePage(9), WebRtcCall::Gone::kNotInvolved);
  EXPECT_EQ(call.RemovePage(2), WebRtcCall::Gone::kStillRinging);
  EXPECT_EQ(call.RemovePage(3), WebRtcCall::Gone::kNoCalleeLeft);
  WebRtcCall other = NewCall();
  EXPECT_EQ(other.RemovePage(1), WebRtcCall::Gone::kPartyGone);
  WebRtcCall answered = NewCall();
  ASSERT_TRUE(answered.OnAccept(2).ok());
  EXPECT_EQ(answered.RemovePage(2), WebRtcCall::Gone::kPartyGone);
}

TEST(WebRtcCallTest, HoldAndMuteFollowConfirmations) {
  WebRtcCall call = NewCall();
  ASSERT_TRUE(call.OnAccept(2).ok());
  EXPECT_EQ(call.CommandTarget(true, true), 1u);  // gRPC hold: the caller's page
  EXPECT_TRUE(call.SetHeld(2, true));             // the callee pressed hold
  EXPECT_TRUE(call.held());
  EXPECT_FALSE(call.SetHeld(1, true));            // already held
  EXPECT_EQ(call.CommandTarget(true, false), 2u);  // resume goes to who held
  EXPECT_FALSE(call.SetHeld(1, false));           // the caller never held
  EXPECT_TRUE(call.SetHeld(2, false));
  EXPECT_FALSE(call.held());
  EXPECT_FALSE(call.SetMuted(9, true));
  EXPECT_TRUE(call.SetMuted(1, true));
  EXPECT_TRUE(call.muted());
  EXPECT_EQ(call.CommandTarget(false, false), 1u);
  EXPECT_TRUE(call.SetMuted(1, false));
  EXPECT_FALSE(call.muted());
}

}  // namespace
}  // namespace voipd::adapters::webrtc
