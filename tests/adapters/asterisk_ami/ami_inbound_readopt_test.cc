// Inbound calls (a Newchannel in a configured context reported through the
// CallHost, then followed to its end) and re-adoption after a restart (the
// decision made from a CoreShowChannels reply), on the call tracker with a
// fake CallHost behind its Sink, as the adapter wires it.
//
// No recorded transcript has a call arriving from a trunk: the inbound
// events below are SYNTHETIC, built header for header from the recorded
// Newchannel/Newstate/Hangup blocks of 19-login-events-call.txt (only the
// values differ: a PJSIP trunk channel in context from-pstn). The
// re-adoption tests use the recorded CoreShowChannels reply of
// 21-status-coreshowchannels.txt.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/api/call_host.h"
#include "adapters/asterisk_ami/ami_call_tracker.h"
#include "adapters/asterisk_ami/ami_parser.h"
#include "gtest/gtest.h"
#include "tests/adapters/asterisk_ami/transcript.h"

namespace voipd::adapters::asterisk_ami {
namespace {

// Plays the core's side of AcceptInbound: a new session id, or a refusal.
class FakeCallHost final : public CallHost {
 public:
  absl::StatusOr<voip::v1::CallSession> AcceptInbound(absl::string_view system_name,
                                                      InboundCall call) override {
    accepted.push_back(call);
    systems.push_back(std::string(system_name));
    if (refuse) return absl::UnavailableError("voipd is shutting down");
    voip::v1::CallSession session;
    session.set_session_id(absl::StrCat("in-", accepted.size()));
    session.set_direction(voip::v1::CALL_DIRECTION_INBOUND);
    session.set_provider_call_id(call.provider_call_id);
    return session;
  }
  void PlaceCall(absl::string_view, PlaceCallRequest, SessionCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  absl::StatusOr<std::unique_ptr<CallWatch>> WatchSystem(
      absl::string_view, std::function<void(const voip::v1::CallEvent&)>) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<ApiCaller> Authenticate(absl::string_view) const override {
    return absl::UnimplementedError("");
  }
  bool AuthenticationRequired() const override { return false; }
  absl::StatusOr<ApiCaller> Reauthenticate(const ApiCaller& caller) const override {
    return caller;  // no token table here
  }
  std::unique_ptr<CallWatch> WatchTokens(std::function<void()>) override { return nullptr; }

  bool refuse = false;
  std::vector<InboundCall> accepted;
  std::vector<std::string> systems;
};

// The adapter's Sink, reduced to recording (and forwarding AcceptInbound to
// the host the way AsteriskAmiAdapter::AcceptInbound does).
class Sink final : public AmiCallTracker::Sink {
 public:
  explicit Sink(CallHost* host) : host_(host) {}
  void Emit(ProviderEvent event) override { events.push_back(std::move(event)); }
  void SettleLater(const std::string& session_id) override { settling.push_back(session_id); }
  void HangupChannels(const std::string&, const std::vector<std::string>& channels) override {
    hangups.insert(hangups.end(), channels.begin(), channels.end());
  }
  void HoldConfirmed(const std::string&, bool) override {}
  std::optional<std::string> AcceptInbound(const InboundCall& call) override {
    absl::StatusOr<voip::v1::CallSession> s = host_->AcceptInbound("pbx", call);
    if (!s.ok()) return std::nullopt;
    return s->session_id();
  }

  std::vector<ProviderEvent> events;
  std::vector<std::string> settling;
  std::vector<std::string> hangups;

 private:
  CallHost* host_;
};

std::vector<AmiMessage> Parse(const std::string& bytes) {
  AmiParser parser;
  std::vector<AmiMessage> out;
  parser.Feed("Asterisk Call Manager/11.0.0\r\n", out);
  out.clear();
  parser.Feed(bytes, out);
  return out;
}

AmiMessage One(const std::string& bytes) {
  std::vector<AmiMessage> m = Parse(bytes);
  EXPECT_EQ(m.size(), 1u) << bytes;
  return m.empty() ? AmiMessage() : m[0];
}

// SYNTHETIC (see the file comment): the recorded blocks' header order.
std::string ChannelEvent(const std::string& event, const std::string& channel, int state,
                         const std::string& state_desc, const std::string& context,
                         const std::string& exten, const std::string& uniqueid,
                         const std::string& linkedid, const std::string& cause = "",
                         const std::string& cause_txt = "") {
  std::string out = absl::StrCat(
      "Event: ", event, "\r\nPrivilege: call,all\r\nChannel: ", channel, "\r\nChannelState: ",
      state, "\r\nChannelStateDesc: ", state_desc,
      "\r\nCallerIDNum: +12025550199\r\nCallerIDName: <unknown>\r\n"
      "ConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\n"
      "AccountCode: \r\nContext: ",
      context, "\r\nExten: ", exten, "\r\nPriority: 1\r\nUniqueid: ", uniqueid,
      "\r\nLinkedid: ", linkedid, "\r\n");
  if (!cause.empty()) absl::StrAppend(&out, "Cause: ", cause, "\r\nCause-txt: ", cause_txt, "\r\n");
  return out + "\r\n";
}

constexpr char kTrunk[] = "PJSIP/trunk-00000001";
constexpr char kUid[] = "1795465400.60";

std::string Newchannel(const std::string& context = "from-pstn", const std::string& uid = kUid,
                       const std::string& linkedid = kUid) {
  return ChannelEvent("Newchannel", kTrunk, 4, "Ring", context, "+12015550000", uid, linkedid);
}
std::string NewstateUp() {
  return ChannelEvent("Newstate", kTrunk, 6, "Up", "from-pstn", "+12015550000", kUid, kUid);
}
std::string Hangup(int cause, const std::string& text, int state = 6) {
  return ChannelEvent("Hangup", kTrunk, state, state == 6 ? "Up" : "Ring", "from-pstn",
                      "+12015550000", kUid, kUid, absl::StrCat(cause), text);
}

struct InboundFixture {
  InboundFixture() : sink(&host), tracker(CallMode::kClickToCall, &sink) {
    tracker.SetInboundContexts({"from-pstn", "from-sip"}, "voipd-");
  }
  void Feed(const std::string& bytes) { tracker.OnEvent(One(bytes)); }
  FakeCallHost host;
  Sink sink;
  AmiCallTracker tracker;
};

TEST(AmiInboundTest, NewchannelInAListedContextIsReportedToTheCore) {
  InboundFixture f;
  f.Feed(Newchannel());
  ASSERT_EQ(f.host.accepted.size(), 1u);
  EXPECT_EQ(f.host.systems[0], "pbx");
  EXPECT_EQ(f.host.accepted[0].provider_call_id, kUid);
  EXPECT_EQ(f.host.accepted[0].from, "+12025550199");
  EXPECT_EQ(f.host.accepted[0].to, "+12015550000");
  EXPECT_TRUE(f.host.accepted[0].labels.empty());
  EXPECT_TRUE(f.tracker.IsTracked("in-1"));
  EXPECT_TRUE(f.tracker.IsInbound("in-1"));
  // The core announces initiating and ringing itself.
  EXPECT_TRUE(f.sink.events.empty());
  EXPECT_EQ(f.tracker.PrimaryChannel("in-1"), kTrunk);
}

TEST(AmiInboundTest, AnsweredThenHungUpByTheCaller) {
  InboundFixture f;
  f.Feed(Newchannel());
  f.Feed(NewstateUp());
  ASSERT_EQ(f.sink.events.size(), 1u);
  EXPECT_EQ(f.sink.events[0].session_id, "in-1");
  EXPECT_EQ(f.sink.events[0].kind, ProviderEventKind::kAnswered);
  EXPECT_TRUE(f.tracker.IsAnswered("in-1"));
  // Mute targets the caller's channel; the tracker says which.
  EXPECT_EQ(f.tracker.HeldPartyChannel("in-1"), kTrunk);
  f.Feed(Hangup(16, "Normal Clearing"));
  ASSERT_EQ(f.sink.events.size(), 2u);
  const ProviderEvent& ended = f.sink.events[1];
  EXPECT_EQ(ended.kind, ProviderEventKind::kEnded);
  EXPECT_EQ(ended.outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(ended.source, voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_EQ(ended.cause.q850_cause(), 16);
  EXPECT_FALSE(f.tracker.IsTracked("in-1"));
  EXPECT_TRUE(f.sink.hangups.empty());
}

TEST(AmiInboundTest, EndCallHangsUpTheCallersChannel) {
  InboundFixture f;
  f.Feed(Newchannel());
  f.Feed(NewstateUp());
  f.tracker.RequestEnd("in-1");
  EXPECT_EQ(f.tracker.LegsToHangup("in-1"), std::vector<std::string>{kTrunk});
  f.Feed(Hangup(16, "Normal Clearing"));
  ASSERT_EQ(f.sink.events.size(), 2u);
  EXPECT_EQ(f.sink.events[1].outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(f.sink.events[1].source, voip::v1::HANGUP_SOURCE_LOCAL);
}

// Unanswered inbound calls end with the Q.850 cause mapped as for outbound
// calls (MapUnansweredCause).
TEST(AmiInboundTest, UnansweredEndsMapTheCause) {
  struct Case {
    int cause;
    const char* text;
    EndOutcome outcome;
    voip::v1::HangupSource source;
  };
  for (const Case& c : {Case{16, "Normal Clearing", EndOutcome::kDisconnected,
                             voip::v1::HANGUP_SOURCE_REMOTE},
                        Case{17, "User busy", EndOutcome::kBusy, voip::v1::HANGUP_SOURCE_REMOTE},
                        Case{19, "User alerting, no answer", EndOutcome::kUnavailable,
                             voip::v1::HANGUP_SOURCE_SYSTEM}}) {
    InboundFixture f;
    f.Feed(Newchannel());
    f.Feed(Hangup(c.cause, c.text, /*state=*/4));
    ASSERT_EQ(f.sink.events.size(), 1u) << c.cause;
    EXPECT_EQ(f.sink.events[0].kind, ProviderEventKind::kEnded);
    EXPECT_EQ(f.sink.events[0].outcome, c.outcome) << c.cause;
    EXPECT_EQ(f.sink.events[0].source, c.source) << c.cause;
    EXPECT_EQ(f.sink.events[0].cause.q850_cause(), c.cause);
    EXPECT_EQ(f.sink.events[0].cause.text(), c.text);
  }
}

TEST(AmiInboundTest, ChannelsThatAreNotNewInboundCallsAreIgnored) {
  InboundFixture f;
  f.Feed(Newchannel("from-internal"));  // context not listed
  f.Feed(Newchannel("from-pstn", "1795465400.61", "1795465400.59"));  // a leg of another call
  f.Feed(Newchannel("from-pstn", "voipd-abc", "voipd-abc"));  // voipd's own ChannelId
  f.tracker.Track("out", "voipd-out", "voipd-out-peer");
  f.Feed(Newchannel("from-pstn", "voipd-out-peer", "voipd-out-peer"));
  EXPECT_TRUE(f.host.accepted.empty());
  EXPECT_EQ(f.tracker.Sessions(), std::vector<std::string>{"out"});
}

TEST(AmiInboundTest, OffWithoutContexts) {
  FakeCallHost host;
  Sink sink(&host);
  AmiCallTracker tracker(CallMode::kDirect, &sink);
  tracker.OnEvent(One(Newchannel()));
  EXPECT_TRUE(host.accepted.empty());
  EXPECT_TRUE(tracker.Sessions().empty());
}

TEST(AmiInboundTest, RefusedByTheCoreTheChannelIsLeftAlone) {
  InboundFixture f;
  f.host.refuse = true;
  f.Feed(Newchannel());
  f.Feed(NewstateUp());
  f.Feed(Hangup(16, "Normal Clearing"));
  EXPECT_EQ(f.host.accepted.size(), 1u);
  EXPECT_TRUE(f.tracker.Sessions().empty());
  EXPECT_TRUE(f.sink.events.empty());
  EXPECT_TRUE(f.sink.hangups.empty()) << "nothing may be done to the call at the PBX";
}

// The inbound channel's dialplan Dial()s a phone: that leg is linked to the
// caller's channel and must neither be a new call nor end this one.
TEST(AmiInboundTest, LegsOfTheInboundCallFollowIt) {
  InboundFixture f;
  f.Feed(Newchannel());
  f.Feed(ChannelEvent("Newchannel", "PJSIP/200-00000002", 0, "Down", "from-pstn", "s",
                      "1795465400.61", kUid));
  f.Feed(NewstateUp());
  f.Feed(ChannelEvent("Hangup", "PJSIP/200-00000002", 6, "Up", "from-pstn", "s", "1795465400.61",
                      kUid, "16", "Normal Clearing"));
  ASSERT_EQ(f.host.accepted.size(), 1u);
  ASSERT_EQ(f.sink.events.size(), 1u) << "the phone's hangup does not end the call";
  f.Feed(Hangup(16, "Normal Clearing"));
  ASSERT_EQ(f.sink.events.size(), 2u);
  EXPECT_EQ(f.sink.events[1].kind, ProviderEventKind::kEnded);
}

// ---- re-adoption -----------------------------------------------------------

// The recorded CoreShowChannels reply of file 21 (an answered direct-mode
// call: Local/100@test-00000017;1 = 1795465312.46 and its ;2 half).
struct Recorded21 {
  Recorded21() {
    for (const auto& r : test::ReadTranscript(
             absl::StrCat(test::TranscriptDir(), "/21-status-coreshowchannels.txt"))) {
      if (!r.from_server || r.eof) continue;
      for (const AmiMessage& m : Parse(r.bytes)) {
        if (m.IsEvent("CoreShowChannel")) channels.push_back(m);
        if (m.IsEvent("Hangup")) hangups.push_back(m);
      }
    }
  }
  std::vector<AmiMessage> channels;
  std::vector<AmiMessage> hangups;
};

AmiCallTracker::Adoption Outbound(const std::string& id, const std::string& primary,
                                  bool answered) {
  AmiCallTracker::Adoption a;
  a.session_id = id;
  a.primary_id = primary;
  a.peer_id = primary + "-peer";
  a.ringing = true;
  a.answered = answered;
  return a;
}

TEST(AmiReadoptTest, RecordedReplyHasTheCall) {
  Recorded21 rec;
  ASSERT_EQ(rec.channels.size(), 2u);
  ASSERT_EQ(rec.hangups.size(), 2u);
}

TEST(AmiReadoptTest, GoneChannelIsNotAdoptedAndReportsNothing) {
  Recorded21 rec;
  FakeCallHost host;
  Sink sink(&host);
  AmiCallTracker tracker(CallMode::kDirect, &sink);
  EXPECT_FALSE(tracker.Adopt(Outbound("s", "voipd-s", true), rec.channels));
  EXPECT_FALSE(tracker.Adopt(Outbound("s", "voipd-s", true), {}));
  EXPECT_FALSE(tracker.IsTracked("s"));
  EXPECT_TRUE(sink.events.empty()) << "the core ends it with DAEMON_RESTART, not the adapter";
  EXPECT_TRUE(sink.hangups.empty());
}

TEST(AmiReadoptTest, ConnectedCallStillThereIsTakenOverSilentlyAndEndsOnce) {
  Recorded21 rec;
  FakeCallHost host;
  Sink sink(&host);
  AmiCallTracker tracker(CallMode::kDirect, &sink);
  ASSERT_TRUE(tracker.Adopt(Outbound("s", "1795465312.46", true), rec.channels));
  EXPECT_TRUE(sink.events.empty()) << "the core already has it connected";
  EXPECT_TRUE(tracker.IsAnswered("s"));
  // EndCall / Hold / Mute address the channel by the name the PBX reported.
  EXPECT_EQ(tracker.PrimaryChannel("s"), "Local/100@test-00000017;1");
  EXPECT_EQ(tracker.HeldPartyChannel("s"), "Local/100@test-00000017;1");
  EXPECT_FALSE(tracker.Adopt(Outbound("s", "1795465312.46", true), rec.channels))
      << "adopting twice";
  for (const AmiMessage& hangup : rec.hangups) tracker.OnEvent(hangup);
  for (const AmiMessage& hangup : rec.hangups) tracker.OnEvent(hangup);  // no second end
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].kind, ProviderEventKind::kEnded);
  EXPECT_EQ(sink.events[0].outcome, EndOutcome::kDisconnected);
  EXPECT_EQ(sink.events[0].source, voip::v1::HANGUP_SOURCE_REMOTE);
  EXPECT_FALSE(tracker.IsTracked("s"));
}

TEST(AmiReadoptTest, AnsweredWhileVoipdWasDownIsReported) {
  Recorded21 rec;
  FakeCallHost host;
  Sink sink(&host);
  AmiCallTracker tracker(CallMode::kDirect, &sink);
  ASSERT_TRUE(tracker.Adopt(Outbound("s", "1795465312.46", /*answered=*/false), rec.channels));
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].kind, ProviderEventKind::kAnswered);
}

TEST(AmiReadoptTest, InboundCallIsFollowedAsDirectInAnyMode) {
  InboundFixture f;
  AmiMessage item;
  item.Add("Event", "CoreShowChannel").Add("Channel", kTrunk).Add("ChannelState", "6");
  item.Add("ChannelStateDesc", "Up").Add("Context", "from-pstn").Add("Uniqueid", kUid);
  item.Add("Linkedid", kUid).Add("BridgeId", "");
  AmiCallTracker::Adoption a;
  a.session_id = "in-9";
  a.primary_id = kUid;
  a.inbound = true;
  a.ringing = true;
  ASSERT_TRUE(f.tracker.Adopt(a, {item}));
  EXPECT_TRUE(f.tracker.IsInbound("in-9"));
  ASSERT_EQ(f.sink.events.size(), 1u);  // Up, stored as ringing
  EXPECT_EQ(f.sink.events[0].kind, ProviderEventKind::kAnswered);
  f.tracker.RequestEnd("in-9");
  EXPECT_EQ(f.tracker.LegsToHangup("in-9"), std::vector<std::string>{kTrunk});
  f.Feed(Hangup(16, "Normal Clearing"));
  ASSERT_EQ(f.sink.events.size(), 2u);
  EXPECT_EQ(f.sink.events[1].source, voip::v1::HANGUP_SOURCE_LOCAL);
  EXPECT_TRUE(f.host.accepted.empty()) << "an adopted inbound call is not a new one";
}

}  // namespace
}  // namespace voipd::adapters::asterisk_ami
