#include "daemon/core/call_state_machine.h"

#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "adapters/api/provider_event.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "voip/v1/call.pb.h"

namespace voipd {
namespace {

using adapters::EndOutcome;
using adapters::ProviderEvent;
using adapters::ProviderEventKind;
using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;
using voip::v1::CallSession;
using voip::v1::CallStatus;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr CallStatus kInitiating = voip::v1::CALL_STATUS_INITIATING;
constexpr CallStatus kRinging = voip::v1::CALL_STATUS_RINGING;
constexpr CallStatus kConnected = voip::v1::CALL_STATUS_CONNECTED;
constexpr CallStatus kOnHold = voip::v1::CALL_STATUS_ON_HOLD;
constexpr CallStatus kDisconnected = voip::v1::CALL_STATUS_DISCONNECTED;
constexpr CallStatus kFailed = voip::v1::CALL_STATUS_FAILED;
constexpr CallStatus kBusy = voip::v1::CALL_STATUS_BUSY;
constexpr CallStatus kUnavailable = voip::v1::CALL_STATUS_UNAVAILABLE;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

ProviderEvent Event(ProviderEventKind kind) {
  ProviderEvent event;
  event.session_id = "s1";
  event.kind = kind;
  return event;
}

ProviderEvent Ended(EndOutcome outcome) {
  ProviderEvent event = Event(ProviderEventKind::kEnded);
  event.outcome = outcome;
  return event;
}

std::string KindName(ProviderEventKind kind) {
  switch (kind) {
    case ProviderEventKind::kRinging: return "Ringing";
    case ProviderEventKind::kAnswered: return "Answered";
    case ProviderEventKind::kHeld: return "Held";
    case ProviderEventKind::kResumed: return "Resumed";
    case ProviderEventKind::kMuted: return "Muted";
    case ProviderEventKind::kUnmuted: return "Unmuted";
    case ProviderEventKind::kEnded: return "Ended";
  }
  return "Unknown";
}

std::string OutcomeName(EndOutcome outcome) {
  switch (outcome) {
    case EndOutcome::kDisconnected: return "Disconnected";
    case EndOutcome::kBusy: return "Busy";
    case EndOutcome::kUnavailable: return "Unavailable";
    case EndOutcome::kFailed: return "Failed";
  }
  return "Unknown";
}

// "on_hold" -> "OnHold", for readable parameterized test names.
std::string Camel(CallStatus status) {
  std::string out;
  bool upper = true;
  for (char c : StatusName(status)) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return out;
}

void MustApply(CallSession& session, const ProviderEvent& event, absl::Time now) {
  const TransitionResult result = ApplyProviderEvent(session, event, now);
  ASSERT_TRUE(result.accepted) << "setup event " << KindName(event.kind)
                               << " rejected: " << result.rejection;
}

// A session driven to `status` through the machine itself, the way a real
// call gets there (so CONNECTED/ON_HOLD carry answered_at, terminal states
// carry ended_at). Terminal states are reached from CONNECTED for
// DISCONNECTED and FAILED and from RINGING for BUSY and UNAVAILABLE.
CallSession SessionIn(CallStatus status, bool muted = false) {
  CallSession session;
  session.set_session_id("s1");
  session.set_system_name("sandbox");
  session.set_status(kInitiating);
  (*session.mutable_labels())["crm"] = "42";
  const absl::Time t = kT0;
  switch (status) {
    case voip::v1::CALL_STATUS_INITIATING:
      break;
    case voip::v1::CALL_STATUS_RINGING:
      MustApply(session, Event(ProviderEventKind::kRinging), t);
      break;
    case voip::v1::CALL_STATUS_CONNECTED:
      MustApply(session, Event(ProviderEventKind::kRinging), t);
      MustApply(session, Event(ProviderEventKind::kAnswered), t + absl::Seconds(1));
      break;
    case voip::v1::CALL_STATUS_ON_HOLD:
      MustApply(session, Event(ProviderEventKind::kRinging), t);
      MustApply(session, Event(ProviderEventKind::kAnswered), t + absl::Seconds(1));
      MustApply(session, Event(ProviderEventKind::kHeld), t + absl::Seconds(2));
      break;
    case voip::v1::CALL_STATUS_DISCONNECTED:
    case voip::v1::CALL_STATUS_FAILED:
      MustApply(session, Event(ProviderEventKind::kAnswered), t);
      MustApply(session,
                Ended(status == kFailed ? EndOutcome::kFailed : EndOutcome::kDisconnected),
                t + absl::Seconds(3));
      break;
    case voip::v1::CALL_STATUS_BUSY:
    case voip::v1::CALL_STATUS_UNAVAILABLE:
      MustApply(session, Event(ProviderEventKind::kRinging), t);
      MustApply(session, Ended(status == kBusy ? EndOutcome::kBusy : EndOutcome::kUnavailable),
                t + absl::Seconds(3));
      break;
    default:
      ADD_FAILURE() << "no path to " << StatusName(status);
  }
  if (muted) MustApply(session, Event(ProviderEventKind::kMuted), t + absl::Seconds(2));
  EXPECT_EQ(session.status(), status) << "setup did not reach " << StatusName(status);
  return session;
}

// ---------------------------------------------------------------------------
// Helpers: IsTerminal, IsEstablished, StatusName

TEST(CallStateMachineTest, StatusNameIsLowerCaseDesignName) {
  // These strings appear in logs and in rejection reasons; clients grep them.
  EXPECT_EQ(StatusName(voip::v1::CALL_STATUS_UNSPECIFIED), "unspecified");
  EXPECT_EQ(StatusName(kInitiating), "initiating");
  EXPECT_EQ(StatusName(kRinging), "ringing");
  EXPECT_EQ(StatusName(kConnected), "connected");
  EXPECT_EQ(StatusName(kOnHold), "on_hold");
  EXPECT_EQ(StatusName(kDisconnected), "disconnected");
  EXPECT_EQ(StatusName(kFailed), "failed");
  EXPECT_EQ(StatusName(kBusy), "busy");
  EXPECT_EQ(StatusName(kUnavailable), "unavailable");
}

TEST(CallStateMachineTest, ExactlyTheFourEndStatesAreTerminal) {
  for (CallStatus s : {kDisconnected, kFailed, kBusy, kUnavailable}) {
    EXPECT_TRUE(IsTerminal(s)) << StatusName(s);
  }
  for (CallStatus s : {voip::v1::CALL_STATUS_UNSPECIFIED, kInitiating, kRinging, kConnected,
                       kOnHold}) {
    EXPECT_FALSE(IsTerminal(s)) << StatusName(s);
  }
}

TEST(CallStateMachineTest, OnlyConnectedAndOnHoldAreEstablished) {
  EXPECT_TRUE(IsEstablished(kConnected));
  EXPECT_TRUE(IsEstablished(kOnHold));
  for (CallStatus s : {voip::v1::CALL_STATUS_UNSPECIFIED, kInitiating, kRinging, kDisconnected,
                       kFailed, kBusy, kUnavailable}) {
    EXPECT_FALSE(IsEstablished(s)) << StatusName(s);
  }
}

// ---------------------------------------------------------------------------
// Legal status transitions

struct LegalCase {
  CallStatus from;
  ProviderEventKind kind;
  CallStatus to;
};

class LegalTransitionTest : public ::testing::TestWithParam<LegalCase> {};

TEST_P(LegalTransitionTest, IsAcceptedAsStatusChange) {
  const LegalCase& c = GetParam();
  CallSession session = SessionIn(c.from);
  const TransitionResult result =
      ApplyProviderEvent(session, Event(c.kind), kT0 + absl::Seconds(10));
  ASSERT_TRUE(result.accepted) << result.rejection;
  EXPECT_THAT(result.rejection, IsEmpty());
  EXPECT_FALSE(result.duplicate);
  EXPECT_EQ(result.event_type, voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  EXPECT_EQ(result.previous_status, c.from);
  EXPECT_EQ(session.status(), c.to);
  // A status change never ends the call.
  EXPECT_FALSE(session.has_ended_at());
  EXPECT_FALSE(session.has_end_reason());
  // on_hold mirrors the status.
  EXPECT_EQ(session.on_hold(), c.to == kOnHold);
}

INSTANTIATE_TEST_SUITE_P(
    AllLegalEdges, LegalTransitionTest,
    ::testing::Values(LegalCase{kInitiating, ProviderEventKind::kRinging, kRinging},
                      LegalCase{kInitiating, ProviderEventKind::kAnswered, kConnected},
                      LegalCase{kRinging, ProviderEventKind::kAnswered, kConnected},
                      LegalCase{kConnected, ProviderEventKind::kHeld, kOnHold},
                      LegalCase{kOnHold, ProviderEventKind::kResumed, kConnected}),
    [](const ::testing::TestParamInfo<LegalCase>& info) {
      return Camel(info.param.from) + KindName(info.param.kind) + "To" + Camel(info.param.to);
    });

TEST(CallStateMachineTest, AnswerStampsAnsweredAtWithNow) {
  // answered_at drives "was it answered" for busy/unavailable mapping and is
  // shown to users as the call's start; it must be exactly `now`.
  CallSession session = SessionIn(kRinging);
  const absl::Time now = kT0 + absl::Milliseconds(1234);
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kAnswered), now).accepted);
  ASSERT_TRUE(session.has_answered_at());
  EXPECT_EQ(session.answered_at(), Ts(now));
}

TEST(CallStateMachineTest, AnswerFromInitiatingAlsoStampsAnsweredAt) {
  // Some providers never report ringing; the answer must still be recorded.
  CallSession session = SessionIn(kInitiating);
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kAnswered), kT0).accepted);
  EXPECT_EQ(session.answered_at(), Ts(kT0));
}

TEST(CallStateMachineTest, RingingDoesNotStampAnsweredAt) {
  CallSession session = SessionIn(kInitiating);
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kRinging), kT0).accepted);
  EXPECT_FALSE(session.has_answered_at());
}

TEST(CallStateMachineTest, HoldAndResumeKeepOriginalAnsweredAt) {
  // Resuming is not a second answer: the call's start time must not move.
  CallSession session = SessionIn(kConnected);
  const auto answered = session.answered_at();
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kHeld), kT0 + absl::Hours(1))
                  .accepted);
  ASSERT_TRUE(
      ApplyProviderEvent(session, Event(ProviderEventKind::kResumed), kT0 + absl::Hours(2))
          .accepted);
  EXPECT_EQ(session.answered_at(), answered);
}

TEST(CallStateMachineTest, HoldSetsAndResumeClearsOnHoldFlag) {
  CallSession session = SessionIn(kConnected);
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kHeld), kT0).accepted);
  EXPECT_TRUE(session.on_hold());
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kResumed), kT0).accepted);
  EXPECT_FALSE(session.on_hold());
}

// ---------------------------------------------------------------------------
// provider_call_id

TEST(CallStateMachineTest, ProviderCallIdIsFilledWhenEmpty) {
  // Providers such as Twilio assign their id only with the first progress.
  CallSession session = SessionIn(kInitiating);
  ProviderEvent ringing = Event(ProviderEventKind::kRinging);
  ringing.provider_call_id = "CA123";
  ASSERT_TRUE(ApplyProviderEvent(session, ringing, kT0).accepted);
  EXPECT_EQ(session.provider_call_id(), "CA123");
}

TEST(CallStateMachineTest, ProviderCallIdIsNeverOverwritten) {
  // The first id is what EndCall/Hold use; a later event must not swap it.
  CallSession session = SessionIn(kInitiating);
  session.set_provider_call_id("first");
  ProviderEvent answered = Event(ProviderEventKind::kAnswered);
  answered.provider_call_id = "second";
  ASSERT_TRUE(ApplyProviderEvent(session, answered, kT0).accepted);
  EXPECT_EQ(session.provider_call_id(), "first");
}

TEST(CallStateMachineTest, EmptyProviderCallIdInEventKeepsSessionEmpty) {
  CallSession session = SessionIn(kInitiating);
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kRinging), kT0).accepted);
  EXPECT_THAT(session.provider_call_id(), IsEmpty());
}

// ---------------------------------------------------------------------------
// Mute

struct MuteCase {
  CallStatus status;
  bool mute;  // the event: kMuted (true) or kUnmuted (false)
};

class LegalMuteTest : public ::testing::TestWithParam<MuteCase> {};

TEST_P(LegalMuteTest, ChangesMuteFlagButNotStatus) {
  const MuteCase& c = GetParam();
  // Unmuting needs a muted call to start from.
  CallSession session = SessionIn(c.status, /*muted=*/!c.mute);
  const TransitionResult result = ApplyProviderEvent(
      session, Event(c.mute ? ProviderEventKind::kMuted : ProviderEventKind::kUnmuted), kT0);
  ASSERT_TRUE(result.accepted) << result.rejection;
  EXPECT_EQ(result.event_type, voip::v1::CALL_EVENT_TYPE_MUTE_CHANGED);
  EXPECT_EQ(result.previous_status, c.status);
  EXPECT_EQ(session.status(), c.status);
  EXPECT_EQ(session.muted(), c.mute);
}

INSTANTIATE_TEST_SUITE_P(ConnectedAndOnHold, LegalMuteTest,
                         ::testing::Values(MuteCase{kConnected, true}, MuteCase{kConnected, false},
                                           MuteCase{kOnHold, true}, MuteCase{kOnHold, false}),
                         [](const ::testing::TestParamInfo<MuteCase>& info) {
                           return Camel(info.param.status) +
                                  (info.param.mute ? "Mute" : "Unmute");
                         });

TEST(CallStateMachineTest, MuteSurvivesHoldAndResume) {
  // Hold/resume must not silently unmute the call.
  CallSession session = SessionIn(kConnected, /*muted=*/true);
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kHeld), kT0).accepted);
  ASSERT_TRUE(ApplyProviderEvent(session, Event(ProviderEventKind::kResumed), kT0).accepted);
  EXPECT_TRUE(session.muted());
}

// ---------------------------------------------------------------------------
// Illegal and duplicate events: rejected, session untouched

struct IllegalCase {
  std::string name;
  CallStatus from;
  bool muted;
  ProviderEventKind kind;
  bool duplicate;  // repeats what the call already shows
};

class IllegalTransitionTest : public ::testing::TestWithParam<IllegalCase> {};

TEST_P(IllegalTransitionTest, IsRejectedWithoutTouchingSession) {
  const IllegalCase& c = GetParam();
  CallSession session = SessionIn(c.from, c.muted);
  const CallSession before = session;
  ProviderEvent event = Event(c.kind);
  // Would be copied if the event were (wrongly) applied.
  event.provider_call_id = "late-id";
  const TransitionResult result = ApplyProviderEvent(session, event, kT0 + absl::Hours(5));
  EXPECT_FALSE(result.accepted);
  EXPECT_THAT(result.rejection, Not(IsEmpty()));
  EXPECT_EQ(result.duplicate, c.duplicate);
  EXPECT_EQ(result.event_type, voip::v1::CALL_EVENT_TYPE_UNSPECIFIED);
  EXPECT_TRUE(MessageDifferencer::Equals(session, before))
      << "before: " << before.ShortDebugString() << "\nafter: " << session.ShortDebugString();
}

INSTANTIATE_TEST_SUITE_P(
    ActiveStates, IllegalTransitionTest,
    ::testing::Values(
        IllegalCase{"RingingTwice", kRinging, false, ProviderEventKind::kRinging, true},
        IllegalCase{"RingingAfterConnected", kConnected, false, ProviderEventKind::kRinging,
                    false},
        IllegalCase{"RingingWhileOnHold", kOnHold, false, ProviderEventKind::kRinging, false},
        IllegalCase{"AnsweredAfterConnected", kConnected, false, ProviderEventKind::kAnswered,
                    false},
        IllegalCase{"AnsweredWhileOnHold", kOnHold, false, ProviderEventKind::kAnswered, false},
        IllegalCase{"HeldWhileInitiating", kInitiating, false, ProviderEventKind::kHeld, false},
        IllegalCase{"HeldWhileRinging", kRinging, false, ProviderEventKind::kHeld, false},
        IllegalCase{"HeldWhileOnHold", kOnHold, false, ProviderEventKind::kHeld, true},
        IllegalCase{"ResumedWhileInitiating", kInitiating, false, ProviderEventKind::kResumed,
                    false},
        IllegalCase{"ResumedWhileRinging", kRinging, false, ProviderEventKind::kResumed, false},
        IllegalCase{"ResumedWhileConnected", kConnected, false, ProviderEventKind::kResumed,
                    true},
        IllegalCase{"MutedWhileInitiating", kInitiating, false, ProviderEventKind::kMuted, false},
        IllegalCase{"MutedWhileRinging", kRinging, false, ProviderEventKind::kMuted, false},
        IllegalCase{"UnmutedWhileInitiating", kInitiating, false, ProviderEventKind::kUnmuted,
                    false},
        IllegalCase{"UnmutedWhileRinging", kRinging, false, ProviderEventKind::kUnmuted, false},
        IllegalCase{"MutedTwiceWhileConnected", kConnected, true, ProviderEventKind::kMuted,
                    true},
        IllegalCase{"MutedTwiceWhileOnHold", kOnHold, true, ProviderEventKind::kMuted, true},
        IllegalCase{"UnmutedWhenNotMuted", kConnected, false, ProviderEventKind::kUnmuted,
                    true},
        IllegalCase{"UnmutedWhenNotMutedWhileOnHold", kOnHold, false, ProviderEventKind::kUnmuted,
                    true}),
    [](const ::testing::TestParamInfo<IllegalCase>& info) { return info.param.name; });

// Anything after the end: 4 terminal states x every event kind.
class AfterTerminalTest
    : public ::testing::TestWithParam<std::tuple<CallStatus, ProviderEventKind>> {};

TEST_P(AfterTerminalTest, IsRejectedSoEachCallHasOneTerminalEvent) {
  const auto [terminal, kind] = GetParam();
  CallSession session = SessionIn(terminal);
  const CallSession before = session;
  ProviderEvent event = Event(kind);
  event.provider_call_id = "late-id";
  event.outcome = EndOutcome::kFailed;
  event.message = "late";
  const TransitionResult result = ApplyProviderEvent(session, event, kT0 + absl::Hours(5));
  EXPECT_FALSE(result.accepted);
  EXPECT_THAT(result.rejection, ::testing::HasSubstr(StatusName(terminal)));
  EXPECT_TRUE(MessageDifferencer::Equals(session, before))
      << "before: " << before.ShortDebugString() << "\nafter: " << session.ShortDebugString();
}

INSTANTIATE_TEST_SUITE_P(
    AllTerminalStates, AfterTerminalTest,
    ::testing::Combine(::testing::Values(kDisconnected, kFailed, kBusy, kUnavailable),
                       ::testing::Values(ProviderEventKind::kRinging, ProviderEventKind::kAnswered,
                                         ProviderEventKind::kHeld, ProviderEventKind::kResumed,
                                         ProviderEventKind::kMuted, ProviderEventKind::kUnmuted,
                                         ProviderEventKind::kEnded)),
    [](const ::testing::TestParamInfo<std::tuple<CallStatus, ProviderEventKind>>& info) {
      return Camel(std::get<0>(info.param)) + "Then" + KindName(std::get<1>(info.param));
    });

// ---------------------------------------------------------------------------
// Ending: each active state x each outcome

struct EndCase {
  CallStatus from;
  EndOutcome outcome;
  CallStatus expected;
};

class EndTransitionTest : public ::testing::TestWithParam<EndCase> {};

TEST_P(EndTransitionTest, ReachesExpectedTerminalStatus) {
  const EndCase& c = GetParam();
  CallSession session = SessionIn(c.from);
  const TransitionResult result = ApplyProviderEvent(session, Ended(c.outcome), kT0);
  ASSERT_TRUE(result.accepted) << result.rejection;
  EXPECT_EQ(result.event_type, voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  EXPECT_EQ(result.previous_status, c.from);
  EXPECT_EQ(session.status(), c.expected);
  EXPECT_TRUE(IsTerminal(session.status()));
}

INSTANTIATE_TEST_SUITE_P(
    AllActiveStatesAllOutcomes, EndTransitionTest,
    ::testing::Values(
        // Never answered: the outcome maps 1:1.
        EndCase{kInitiating, EndOutcome::kDisconnected, kDisconnected},
        EndCase{kInitiating, EndOutcome::kFailed, kFailed},
        EndCase{kInitiating, EndOutcome::kBusy, kBusy},
        EndCase{kInitiating, EndOutcome::kUnavailable, kUnavailable},
        EndCase{kRinging, EndOutcome::kDisconnected, kDisconnected},
        EndCase{kRinging, EndOutcome::kFailed, kFailed},
        EndCase{kRinging, EndOutcome::kBusy, kBusy},
        EndCase{kRinging, EndOutcome::kUnavailable, kUnavailable},
        // Answered: busy/unavailable after answer is a plain hangup.
        EndCase{kConnected, EndOutcome::kDisconnected, kDisconnected},
        EndCase{kConnected, EndOutcome::kFailed, kFailed},
        EndCase{kConnected, EndOutcome::kBusy, kDisconnected},
        EndCase{kConnected, EndOutcome::kUnavailable, kDisconnected},
        EndCase{kOnHold, EndOutcome::kDisconnected, kDisconnected},
        EndCase{kOnHold, EndOutcome::kFailed, kFailed},
        EndCase{kOnHold, EndOutcome::kBusy, kDisconnected},
        EndCase{kOnHold, EndOutcome::kUnavailable, kDisconnected}),
    [](const ::testing::TestParamInfo<EndCase>& info) {
      return Camel(info.param.from) + OutcomeName(info.param.outcome) + "To" +
             Camel(info.param.expected);
    });

TEST(CallStateMachineTest, EndStampsEndedAtAndCopiesEndReason) {
  // The end reason is the only record of why a call failed; every field the
  // adapter gave must reach the session.
  CallSession session = SessionIn(kRinging);
  ProviderEvent event = Ended(EndOutcome::kBusy);
  event.source = voip::v1::HANGUP_SOURCE_REMOTE;
  event.error_code = voip::v1::PROVIDER_ERROR;
  event.message = "486 Busy Here";
  event.cause.set_sip_code(486);
  event.cause.set_sip_reason("Busy Here");
  event.cause.set_q850_cause(17);
  event.cause.set_provider_status("busy");
  event.cause.set_provider_code("13224");
  event.cause.set_text("user busy");
  const absl::Time now = kT0 + absl::Milliseconds(987);
  ASSERT_TRUE(ApplyProviderEvent(session, event, now).accepted);

  EXPECT_EQ(session.ended_at(), Ts(now));
  EXPECT_FALSE(session.has_answered_at());
  const auto& reason = session.end_reason();
  EXPECT_EQ(reason.error_code(), voip::v1::PROVIDER_ERROR);
  EXPECT_EQ(reason.source(), voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(reason.message(), "486 Busy Here");
  EXPECT_TRUE(MessageDifferencer::Equals(reason.provider_cause(), event.cause))
      << reason.provider_cause().ShortDebugString();
}

TEST(CallStateMachineTest, LocalHangupSourceIsCopied) {
  CallSession session = SessionIn(kConnected);
  ProviderEvent event = Ended(EndOutcome::kDisconnected);
  event.source = voip::v1::HANGUP_SOURCE_LOCAL;
  ASSERT_TRUE(ApplyProviderEvent(session, event, kT0).accepted);
  EXPECT_EQ(session.end_reason().source(), voip::v1::HANGUP_SOURCE_LOCAL);
  EXPECT_EQ(session.end_reason().error_code(), voip::v1::ERROR_CODE_UNSPECIFIED);
}

TEST(CallStateMachineTest, EndWhileOnHoldClearsOnHoldFlag) {
  // An ended call is not "on hold"; a stale flag would confuse UIs.
  CallSession session = SessionIn(kOnHold);
  ASSERT_TRUE(session.on_hold());
  ASSERT_TRUE(ApplyProviderEvent(session, Ended(EndOutcome::kDisconnected), kT0).accepted);
  EXPECT_FALSE(session.on_hold());
}

TEST(CallStateMachineTest, EndWhileMutedClearsMutedFlag) {
  // Likewise for mute: the final snapshot must not show a finished call muted.
  CallSession session = SessionIn(kOnHold, /*muted=*/true);
  ASSERT_TRUE(ApplyProviderEvent(session, Ended(EndOutcome::kDisconnected), kT0).accepted);
  EXPECT_FALSE(session.muted());
  EXPECT_FALSE(session.on_hold());
}

TEST(CallStateMachineTest, EndKeepsAnsweredAt) {
  // Call duration = ended_at - answered_at: both must survive the end.
  CallSession session = SessionIn(kConnected);
  const auto answered = session.answered_at();
  ASSERT_TRUE(
      ApplyProviderEvent(session, Ended(EndOutcome::kDisconnected), kT0 + absl::Minutes(3))
          .accepted);
  EXPECT_EQ(session.answered_at(), answered);
  EXPECT_EQ(session.ended_at(), Ts(kT0 + absl::Minutes(3)));
}

TEST(CallStateMachineTest, EndFillsEmptyProviderCallId) {
  // A call that fails before any progress may only learn its id at the end.
  CallSession session = SessionIn(kInitiating);
  ProviderEvent event = Ended(EndOutcome::kFailed);
  event.provider_call_id = "CA9";
  ASSERT_TRUE(ApplyProviderEvent(session, event, kT0).accepted);
  EXPECT_EQ(session.provider_call_id(), "CA9");
}

TEST(CallStateMachineTest, SecondTerminalEventIsRejectedAndFirstOutcomeKept) {
  // Providers sometimes send BYE then a late error; the first end wins.
  CallSession session = SessionIn(kConnected);
  ProviderEvent first = Ended(EndOutcome::kDisconnected);
  first.message = "bye";
  ASSERT_TRUE(ApplyProviderEvent(session, first, kT0).accepted);
  ProviderEvent second = Ended(EndOutcome::kFailed);
  second.message = "late error";
  second.error_code = voip::v1::NETWORK_ERROR;
  const TransitionResult result = ApplyProviderEvent(session, second, kT0 + absl::Seconds(1));
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(session.status(), kDisconnected);
  EXPECT_EQ(session.end_reason().message(), "bye");
  EXPECT_EQ(session.ended_at(), Ts(kT0));
}

TEST(CallStateMachineTest, FullLifecycleVisitsEveryActiveState) {
  // The happy path end to end, as the registry would drive it.
  CallSession session = SessionIn(kInitiating);
  std::vector<CallStatus> seen = {session.status()};
  for (ProviderEventKind kind :
       {ProviderEventKind::kRinging, ProviderEventKind::kAnswered, ProviderEventKind::kHeld,
        ProviderEventKind::kResumed, ProviderEventKind::kEnded}) {
    ASSERT_TRUE(ApplyProviderEvent(session, Event(kind), kT0).accepted) << KindName(kind);
    seen.push_back(session.status());
  }
  EXPECT_THAT(seen, ::testing::ElementsAre(kInitiating, kRinging, kConnected, kOnHold, kConnected,
                                           kDisconnected));
}

}  // namespace
}  // namespace voipd
