// The call tracker on the recorded sessions: every S>C message of a
// transcript goes through it as the adapter would feed it, and what it
// reports must match what really happened on the PBX.
#include "adapters/asterisk_ami/ami_call_tracker.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/asterisk_ami/ami_parser.h"
#include "gtest/gtest.h"
#include "tests/adapters/asterisk_ami/transcript.h"

namespace voipd::adapters::asterisk_ami {
namespace {

using test::ReadTranscript;
using test::TranscriptRecord;

class RecordingSink : public AmiCallTracker::Sink {
 public:
  void Emit(ProviderEvent event) override { events.push_back(std::move(event)); }
  void SettleLater(const std::string& session_id) override { settling.push_back(session_id); }
  void HangupChannels(const std::string& session_id,
                      const std::vector<std::string>& channels) override {
    for (const auto& c : channels) hangups.push_back(c);
  }
  void HoldConfirmed(const std::string& session_id, bool held) override {
    confirmed.push_back(held);
  }
  std::vector<ProviderEvent> events;
  std::vector<std::string> settling;
  std::vector<std::string> hangups;
  std::vector<bool> confirmed;
};

std::vector<AmiMessage> Parse(const std::string& bytes) {
  AmiParser parser;
  std::vector<AmiMessage> out;
  parser.Feed("Asterisk Call Manager/11.0.0\r\n", out);
  out.clear();
  parser.Feed(bytes, out);
  return out;
}

// Replays one transcript through a tracker. Each Originate starts a session
// "s1", "s2"...; its ids are the ChannelId it set, or else the Uniqueids the
// PBX gave its first Newchannel pair. A Hangup action means EndCall; a
// Redirect to test,600 means Hold and one back out of it means resume.
struct Replay {
  Replay(const std::string& file, CallMode mode) : tracker(mode, &sink) {
    const std::vector<TranscriptRecord> records =
        ReadTranscript(absl::StrCat(test::TranscriptDir(), "/", file));
    EXPECT_FALSE(records.empty()) << file;
    std::string current;
    for (size_t i = 0; i < records.size(); ++i) {
      const TranscriptRecord& r = records[i];
      if (r.eof) continue;
      if (r.from_server) {
        for (const AmiMessage& m : Parse(r.bytes)) {
          if (m.type() == AmiMessageType::kEvent) tracker.OnEvent(m);
          // A refused Originate: the adapter untracks it (no call exists).
          auto it = originates.find(std::string(m.Get("ActionID")));
          if (m.type() == AmiMessageType::kResponse && it != originates.end() && !m.IsSuccess()) {
            tracker.Untrack(it->second);
          }
        }
        continue;
      }
      const std::vector<AmiMessage> actions = Parse(r.bytes);
      if (actions.empty()) continue;
      const AmiMessage& a = actions[0];
      const absl::string_view name = a.Get("Action");
      if (name == "Originate") {
        current = absl::StrCat("s", ++sessions);
        std::string primary(a.Get("ChannelId")), peer(a.Get("OtherChannelId"));
        if (primary.empty()) FindNewchannels(records, i, &primary, &peer);
        if (primary.empty()) primary = absl::StrCat("none-", current);
        tracker.Track(current, primary, peer);
        tracker.SetOriginateActionId(current, std::string(a.Get("ActionID")));
        originates[std::string(a.Get("ActionID"))] = current;
      } else if (name == "Hangup" && !current.empty()) {
        tracker.RequestEnd(current);
      } else if (name == "Redirect" && !current.empty()) {
        tracker.ExpectHold(current, a.Get("Context") == "test" && a.Get("Exten") == "600");
      }
    }
    for (const std::string& id : sink.settling) tracker.FinishEnding(id);
  }

  static void FindNewchannels(const std::vector<TranscriptRecord>& records, size_t from,
                              std::string* primary, std::string* peer) {
    for (size_t j = from + 1; j < records.size(); ++j) {
      if (!records[j].from_server) {
        if (absl::StrContains(records[j].bytes, "Action: Originate")) return;
        continue;
      }
      for (const AmiMessage& m : Parse(records[j].bytes)) {
        if (!m.IsEvent("Newchannel")) continue;
        if (primary->empty()) {
          *primary = std::string(m.Get("Uniqueid"));
        } else if (m.Get("Linkedid") == *primary) {
          *peer = std::string(m.Get("Uniqueid"));
          return;
        }
      }
    }
  }

  // "s1:ringing s1:answered s1:ended(disconnected,local,16)"
  std::string Summary() const {
    std::string out;
    for (const ProviderEvent& e : sink.events) {
      if (!out.empty()) out += " ";
      absl::StrAppend(&out, e.session_id, ":");
      switch (e.kind) {
        case ProviderEventKind::kRinging: out += "ringing"; break;
        case ProviderEventKind::kAnswered: out += "answered"; break;
        case ProviderEventKind::kHeld: out += "held"; break;
        case ProviderEventKind::kResumed: out += "resumed"; break;
        case ProviderEventKind::kMuted: out += "muted"; break;
        case ProviderEventKind::kUnmuted: out += "unmuted"; break;
        case ProviderEventKind::kEnded: {
          const char* outcome[] = {"disconnected", "busy", "unavailable", "failed"};
          const char* source[] = {"?", "local", "remote", "system"};
          absl::StrAppend(&out, "ended(", outcome[static_cast<int>(e.outcome)], ",",
                          source[e.source], ",", e.cause.q850_cause(),
                          e.cause.provider_status().empty() ? "" : ",", e.cause.provider_status(),
                          ")");
          break;
        }
      }
    }
    return out;
  }

  RecordingSink sink;
  AmiCallTracker tracker;
  int sessions = 0;
  std::map<std::string, std::string> originates;  // ActionID -> session
};

struct Case {
  const char* file;
  CallMode mode;
  const char* expected;
};

class TrackerTranscriptTest : public ::testing::TestWithParam<Case> {};

TEST_P(TrackerTranscriptTest, ReportsWhatHappened) {
  Replay replay(GetParam().file, GetParam().mode);
  EXPECT_EQ(replay.Summary(), GetParam().expected);
  EXPECT_TRUE(replay.tracker.Sessions().empty()) << "every call must end";
  // Every leg reported its Hangup in these sessions: nothing to clean up.
  EXPECT_TRUE(replay.sink.hangups.empty()) << replay.sink.hangups[0];
}

constexpr CallMode kDirect = CallMode::kDirect;
constexpr CallMode kClick = CallMode::kClickToCall;

INSTANTIATE_TEST_SUITE_P(
    Transcripts, TrackerTranscriptTest,
    ::testing::Values(
        // Originate Local/N@test into agent,wait is the direct mode: the
        // originated channel is the target.
        // Here OriginateResponse (Reason 4: answered) came before DialBegin,
        // so the call goes straight to answered.
        Case{"03-originate-answered-hangup-action.txt", kDirect,
             "s1:answered s1:ended(disconnected,local,0)"},
        // The agent (Local/100) answering is not the call's answer; the
        // dialled target's is.
        Case{"04-click-to-call-answered-hangup-action.txt", kClick,
             "s1:ringing s1:answered s1:ended(disconnected,local,16)"},
        Case{"05-originate-no-answer-timeout.txt", kDirect,
             "s1:ringing s1:ended(unavailable,system,19,Reason 3)"},
        // Cause 0 on ;1 and 17 on ;2: the cause kept is 17.
        Case{"06-originate-busy.txt", kDirect, "s1:ringing s1:ended(busy,remote,17,BUSY)"},
        Case{"07-originate-congestion.txt", kDirect,
             "s1:ringing s1:ended(failed,system,34,CONGESTION)"},
        // OriginateResponse before any Newchannel.
        Case{"08-originate-nonexistent-extension.txt", kDirect,
             "s1:ended(failed,system,0,Reason 0)"},
        // The second Originate is refused with Response: Error (the adapter
        // untracks it); the first fails asynchronously.
        Case{"09-originate-invalid-channel.txt", kDirect, "s1:ended(failed,system,0,Reason 0)"},
        Case{"10-originate-remote-hangup.txt", kDirect,
             "s1:ringing s1:answered s1:ended(disconnected,remote,16)"},
        Case{"11-click-to-call-destination-busy.txt", kClick,
             "s1:ringing s1:ended(busy,remote,17,BUSY)"},
        Case{"12-click-to-call-remote-hangup.txt", kClick,
             "s1:ringing s1:answered s1:ended(disconnected,remote,16)"},
        Case{"14-muteaudio.txt", kDirect, "s1:ringing s1:answered s1:ended(disconnected,local,0)"},
        Case{"15-redirect-to-music-on-hold.txt", kDirect,
             "s1:ringing s1:answered s1:held s1:resumed s1:ended(disconnected,local,0)"},
        // MusicOnHoldStop at hangup is not a resume.
        Case{"16-redirect-bridged-dual.txt", kClick,
             "s1:ringing s1:answered s1:held s1:ended(disconnected,local,16)"},
        // Hold/Unhold of an attended transfer and its third leg change
        // nothing.
        Case{"17-atxfer-hold-unhold.txt", kClick,
             "s1:ringing s1:answered s1:ended(disconnected,local,16)"},
        Case{"18-ping-errors-logoff.txt", kDirect, ""},
        Case{"19-login-events-call.txt", kDirect,
             "s1:ringing s1:answered s1:ended(disconnected,remote,16)"},
        Case{"20-filter-action.txt", kDirect,
             "s1:ringing s1:answered s1:ended(disconnected,remote,16)"},
        Case{"21-status-coreshowchannels.txt", kDirect,
             "s1:ringing s1:answered s1:ended(disconnected,local,0)"},
        Case{"22-originate-failure-with-channelid.txt", kDirect,
             "s1:ringing s1:ended(busy,remote,17,BUSY) "
             "s2:ringing s2:ended(unavailable,system,19,Reason 3)"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string name = std::string(info.param.file).substr(0, 2);
      return absl::StrCat("T", name);
    });

// Click-to-call must not say "ringing" while only the agent's phone rings:
// in file 11 the first DialBegin is Originate's own (the agent).
TEST(AmiCallTrackerTest, AgentRingingIsNotTheCallRinging) {
  RecordingSink sink;
  AmiCallTracker tracker(CallMode::kClickToCall, &sink);
  tracker.Track("s", "agent-1", "agent-1-peer");
  AmiMessage own_dial;
  own_dial.Add("Event", "DialBegin").Add("DestChannel", "PJSIP/100-0001");
  own_dial.Add("DestUniqueid", "agent-1").Add("DestLinkedid", "agent-1");
  tracker.OnEvent(own_dial);
  AmiMessage agent_up;
  agent_up.Add("Event", "Newstate").Add("Channel", "PJSIP/100-0001").Add("ChannelState", "6");
  agent_up.Add("Uniqueid", "agent-1").Add("Linkedid", "agent-1");
  tracker.OnEvent(agent_up);
  EXPECT_TRUE(sink.events.empty());
}

TEST(AmiCallTrackerTest, EndCallBeforeTheChannelExistsHangsItUpWhenItAppears) {
  RecordingSink sink;
  AmiCallTracker tracker(CallMode::kDirect, &sink);
  tracker.Track("s", "id-1", "id-1-peer");
  tracker.RequestEnd("s");
  EXPECT_EQ(tracker.LegsToHangup("s"), std::vector<std::string>{"id-1"})
      << "addressed by the Uniqueid we assigned until the name is known";
  AmiMessage created;
  created.Add("Event", "Newchannel").Add("Channel", "PJSIP/trunk-0007").Add("ChannelState", "0");
  created.Add("Uniqueid", "id-1").Add("Linkedid", "id-1");
  tracker.OnEvent(created);
  EXPECT_EQ(sink.hangups, std::vector<std::string>{"PJSIP/trunk-0007"});
}

TEST(AmiCallTrackerTest, SettleTimeoutEndsWithWhatIsKnownAndHangsUpLeftovers) {
  RecordingSink sink;
  AmiCallTracker tracker(CallMode::kClickToCall, &sink);
  tracker.Track("s", "a", "a-peer");
  auto ev = [&](std::vector<std::pair<std::string, std::string>> headers) {
    AmiMessage m;
    for (auto& [k, v] : headers) m.Add(k, v);
    tracker.OnEvent(m);
  };
  ev({{"Event", "Newchannel"},
      {"Channel", "PJSIP/agent-1"},
      {"Uniqueid", "a"},
      {"Linkedid", "a"},
      {"ChannelState", "6"}});
  ev({{"Event", "DialBegin"},
      {"Channel", "PJSIP/agent-1"},
      {"Uniqueid", "a"},
      {"Linkedid", "a"},
      {"DestChannel", "PJSIP/trunk-2"},
      {"DestUniqueid", "t"},
      {"DestLinkedid", "a"}});
  ev({{"Event", "DialEnd"},
      {"Channel", "PJSIP/agent-1"},
      {"Uniqueid", "a"},
      {"Linkedid", "a"},
      {"DestChannel", "PJSIP/trunk-2"},
      {"DestUniqueid", "t"},
      {"DialStatus", "CHANUNAVAIL"}});
  ev({{"Event", "Hangup"},
      {"Channel", "PJSIP/trunk-2"},
      {"Uniqueid", "t"},
      {"Linkedid", "a"},
      {"Cause", "20"},
      {"Cause-txt", "Subscriber absent"}});
  // The agent's channel stays in the dialplan (e.g. a "not reachable"
  // announcement): the call is over for voipd when the settle wait ends.
  ASSERT_EQ(sink.settling, std::vector<std::string>{"s"});
  tracker.FinishEnding("s");
  ASSERT_EQ(sink.events.size(), 2u);
  const ProviderEvent& ended = sink.events[1];
  EXPECT_EQ(ended.kind, ProviderEventKind::kEnded);
  EXPECT_EQ(ended.outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(ended.cause.q850_cause(), 20);
  EXPECT_EQ(ended.cause.provider_status(), "CHANUNAVAIL");
  EXPECT_EQ(ended.cause.text(), "Subscriber absent");
  EXPECT_EQ(sink.hangups, std::vector<std::string>{"PJSIP/agent-1"});
}

TEST(AmiCallTrackerTest, ResyncEndsCallsThatVanishedAndCatchesUpOnOthers) {
  RecordingSink sink;
  AmiCallTracker tracker(CallMode::kDirect, &sink);
  tracker.Track("gone-ringing", "g", "");
  tracker.Track("gone-answered", "h", "");
  tracker.Track("answered-meanwhile", "u", "");
  AmiMessage up;
  up.Add("Event", "Newstate").Add("Uniqueid", "h").Add("Linkedid", "h").Add("ChannelState", "6");
  tracker.OnEvent(up);
  AmiMessage still_there;
  still_there.Add("Event", "CoreShowChannel").Add("Channel", "PJSIP/trunk-9");
  still_there.Add("Uniqueid", "u").Add("Linkedid", "u").Add("ChannelState", "6");
  tracker.Resync({still_there}, tracker.Sessions());
  std::map<std::string, std::vector<ProviderEvent>> by_session;
  for (const auto& e : sink.events) by_session[e.session_id].push_back(e);
  ASSERT_EQ(by_session["gone-ringing"].size(), 1u);
  EXPECT_EQ(by_session["gone-ringing"][0].outcome, EndOutcome::kFailed);
  EXPECT_EQ(by_session["gone-ringing"][0].error_code, voip::v1::NETWORK_ERROR);
  ASSERT_EQ(by_session["gone-answered"].size(), 2u);
  EXPECT_EQ(by_session["gone-answered"][1].outcome, EndOutcome::kDisconnected);
  ASSERT_EQ(by_session["answered-meanwhile"].size(), 1u);
  EXPECT_EQ(by_session["answered-meanwhile"][0].kind, ProviderEventKind::kAnswered);
  EXPECT_EQ(tracker.Sessions(), std::vector<std::string>{"answered-meanwhile"});
  EXPECT_EQ(tracker.PrimaryChannel("answered-meanwhile"), "PJSIP/trunk-9");
}

TEST(AmiCallTrackerTest, ResyncFindsTheTargetBridgedWithTheAgent) {
  RecordingSink sink;
  AmiCallTracker tracker(CallMode::kClickToCall, &sink);
  tracker.Track("s", "a", "a-peer");
  auto item = [](const char* chan, const char* uid, const char* state, const char* bridge) {
    AmiMessage m;
    m.Add("Event", "CoreShowChannel").Add("Channel", chan).Add("Uniqueid", uid);
    m.Add("Linkedid", "a").Add("ChannelState", state).Add("BridgeId", bridge);
    return m;
  };
  tracker.Resync({item("PJSIP/agent-1", "a", "6", "b1"), item("PJSIP/trunk-1", "t", "6", "b1")},
                 {"s"});
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].kind, ProviderEventKind::kAnswered);
  EXPECT_EQ(tracker.HeldPartyChannel("s"), "PJSIP/trunk-1");
  EXPECT_EQ(tracker.LegsToHangup("s"),
            (std::vector<std::string>{"PJSIP/agent-1", "PJSIP/trunk-1"}));
}

// A dialplan that ignores VOIPD_RING_TIMEOUT: voipd's deadline hangs up, and
// the CANCEL that Dial() then reports is not what the caller sees.
TEST(AmiCallTrackerTest, RingDeadlineEndsTheCallUnavailable) {
  RecordingSink sink;
  AmiCallTracker tracker(CallMode::kClickToCall, &sink);
  tracker.Track("s", "a", "");
  auto ev = [&](std::vector<std::pair<std::string, std::string>> headers) {
    AmiMessage m;
    for (auto& [k, v] : headers) m.Add(k, v);
    tracker.OnEvent(m);
  };
  ev({{"Event", "Newchannel"},
      {"Channel", "PJSIP/agent-1"},
      {"Uniqueid", "a"},
      {"Linkedid", "a"},
      {"ChannelState", "6"}});
  ev({{"Event", "DialBegin"},
      {"Channel", "PJSIP/agent-1"},
      {"Uniqueid", "a"},
      {"Linkedid", "a"},
      {"DestChannel", "PJSIP/trunk-2"},
      {"DestUniqueid", "t"},
      {"DestLinkedid", "a"}});
  tracker.ExpireRinging("s");
  EXPECT_EQ(sink.hangups, (std::vector<std::string>{"PJSIP/agent-1", "PJSIP/trunk-2"}));
  ev({{"Event", "DialEnd"},
      {"Channel", "PJSIP/agent-1"},
      {"Uniqueid", "a"},
      {"Linkedid", "a"},
      {"DestChannel", "PJSIP/trunk-2"},
      {"DestUniqueid", "t"},
      {"DialStatus", "CANCEL"}});
  ev({{"Event", "Hangup"}, {"Uniqueid", "t"}, {"Linkedid", "a"}, {"Cause", "16"}});
  ev({{"Event", "Hangup"}, {"Uniqueid", "a"}, {"Linkedid", "a"}, {"Cause", "16"}});
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[1].kind, ProviderEventKind::kEnded);
  EXPECT_EQ(sink.events[1].outcome, EndOutcome::kUnavailable);
  EXPECT_EQ(sink.events[1].source, voip::v1::HANGUP_SOURCE_SYSTEM);
  EXPECT_FALSE(tracker.IsTracked("s"));
}

// The CoreShowChannels after a login races with the first new Originate: a
// call tracked after the request was sent must not be judged by the reply.
TEST(AmiCallTrackerTest, ResyncLeavesCallsNewerThanTheRequestAlone) {
  RecordingSink sink;
  AmiCallTracker tracker(CallMode::kDirect, &sink);
  const std::vector<std::string> asked_for = tracker.Sessions();  // none yet
  tracker.Track("new", "n", "");
  tracker.Resync({}, asked_for);
  EXPECT_TRUE(sink.events.empty());
  EXPECT_TRUE(tracker.IsTracked("new"));
}

TEST(AmiCallTrackerTest, EventsOfOtherCallsAreIgnored) {
  RecordingSink sink;
  AmiCallTracker tracker(CallMode::kDirect, &sink);
  tracker.Track("s", "mine", "");
  for (const std::string& file : test::TranscriptFiles()) {
    for (const TranscriptRecord& r : ReadTranscript(file)) {
      if (!r.from_server || r.eof) continue;
      for (const AmiMessage& m : Parse(r.bytes)) tracker.OnEvent(m);
    }
  }
  EXPECT_TRUE(sink.events.empty());
  EXPECT_TRUE(tracker.IsTracked("s"));
}

}  // namespace
}  // namespace voipd::adapters::asterisk_ami
