// The Originate voipd sends, against the one recorded on the real PBX.
#include "adapters/asterisk_ami/ami_originate.h"

#include "absl/strings/match.h"
#include "adapters/api/registry.h"
#include "adapters/asterisk_ami/ami_parser.h"
#include "gtest/gtest.h"
#include "tests/adapters/asterisk_ami/transcript.h"

namespace voipd::adapters::asterisk_ami {
namespace {

using voip::config::v1::AsteriskAmiAdapterConfig;

AsteriskAmiAdapterConfig Validated(AsteriskAmiAdapterConfig c) {
  c.set_host("127.0.0.1");
  c.set_username("voipd");
  c.set_secret_file("s");
  EXPECT_TRUE(AdapterRegistry::Find("asterisk-ami")->Validate(c).ok());
  return c;
}

AmiMessage RecordedOriginate(const std::string& file) {
  for (const auto& r : test::ReadTranscript(test::TranscriptDir() + "/" + file)) {
    if (r.from_server || !absl::StrContains(r.bytes, "Action: Originate")) continue;
    AmiParser parser;
    std::vector<AmiMessage> out;
    parser.Feed(r.bytes, out);
    if (!out.empty()) return out[0];
  }
  return AmiMessage();
}

TEST(AmiOriginateTest, ClickToCallMatchesTheRecordedOne) {
  AsteriskAmiAdapterConfig c;
  c.mutable_click_to_call()->set_agent_channel("Local/{from}@test");
  c.mutable_click_to_call()->set_context("agent");
  c.set_caller_id("\"voipd\" <1000>");
  c = Validated(c);
  DialRequest request;
  request.session_id = "0004";
  request.target_kind = TargetKind::kExtension;
  request.target = "100";
  request.from = "100";
  absl::StatusOr<OriginatePlan> plan = BuildOriginate(c, request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const AmiMessage recorded = RecordedOriginate("04-click-to-call-answered-hangup-action.txt");
  for (const char* key :
       {"Action", "Channel", "Context", "Exten", "Priority", "CallerID", "Timeout", "Async"}) {
    EXPECT_EQ(plan->action.Get(key), recorded.Get(key)) << key;
  }
  EXPECT_EQ(plan->action.Get("ChannelId"), "voipd-0004");
  EXPECT_EQ(plan->action.Get("OtherChannelId"), "voipd-0004-peer");
  EXPECT_EQ(plan->primary_id, "voipd-0004");
  EXPECT_EQ(plan->from, "100");
  const auto vars = plan->action.GetAll("Variable");
  EXPECT_NE(std::find(vars.begin(), vars.end(), "VOIPD_SESSION_ID=0004"), vars.end());
  EXPECT_NE(std::find(vars.begin(), vars.end(), "VOIPD_RING_TIMEOUT=30"), vars.end());
  EXPECT_FALSE(plan->action.Has("ActionID")) << "the connection adds it";
  EXPECT_EQ(plan->ring_deadline, absl::Seconds(60)) << "the agent's 30 s, then the target's 30 s";
}

TEST(AmiOriginateTest, DirectModeUsesTheRingTimeoutAndTheApplication) {
  AsteriskAmiAdapterConfig c;
  c.mutable_direct()->set_channel("PJSIP/{target_digits}@trunk");
  c.mutable_direct()->set_application("Playback");
  c.mutable_direct()->set_application_data("hello-{session_id}");
  c.set_default_from("+12015550199");
  c.set_caller_id("<{from}>");
  c = Validated(c);
  DialRequest request;
  request.session_id = "abc";
  request.target = "+12015550100";
  request.ring_timeout = absl::Seconds(5);
  absl::StatusOr<OriginatePlan> plan = BuildOriginate(c, request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->action.Get("Channel"), "PJSIP/12015550100@trunk");
  EXPECT_EQ(plan->action.Get("Application"), "Playback");
  EXPECT_EQ(plan->action.Get("Data"), "hello-abc");
  EXPECT_FALSE(plan->action.Has("Context"));
  EXPECT_EQ(plan->action.Get("Timeout"), "5000");
  EXPECT_EQ(plan->action.Get("CallerID"), "<+12015550199>");
  EXPECT_EQ(plan->from, "+12015550199");
  EXPECT_EQ(plan->ring_deadline, absl::Seconds(5));
}

TEST(AmiOriginateTest, RefusesCharactersThatChangeADialString) {
  AsteriskAmiAdapterConfig c;
  c.mutable_click_to_call()->set_context("agent");
  c = Validated(c);
  DialRequest request;
  request.session_id = "x";
  request.target = "100&PJSIP/evil";
  request.from = "100";
  EXPECT_EQ(BuildOriginate(c, request).status().code(), absl::StatusCode::kInvalidArgument);
  request.target = "100";
  request.from = "100\r\nAction: Command";
  EXPECT_FALSE(BuildOriginate(c, request).ok());
  request.from = "";
  EXPECT_FALSE(BuildOriginate(c, request).ok()) << "no agent and no default_from";
}

}  // namespace
}  // namespace voipd::adapters::asterisk_ami
