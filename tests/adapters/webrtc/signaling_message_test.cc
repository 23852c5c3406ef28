#include "adapters/webrtc/signaling_message.h"

#include <string>

#include "adapters/api/voip_error.h"
#include "gtest/gtest.h"

namespace voipd::adapters::webrtc {
namespace {

std::string FieldOf(const absl::Status& s) {
  auto detail = GetVoipError(s);
  return detail ? detail->field() : "";
}

TEST(SignalingMessageTest, ParsesRegister) {
  auto m = ParseSignalingMessage(R"({"type":"register","token":"t0k","identity":"alice"})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, MessageType::kRegister);
  EXPECT_EQ(m->token, "t0k");
  EXPECT_EQ(m->identity, "alice");
}

TEST(SignalingMessageTest, RejectsBadIdentities) {
  for (const char* bad : {R"("1alice")", R"("")", R"("al ice")", R"("al/ice")", R"(7)"}) {
    auto m = ParseSignalingMessage(
        std::string(R"({"type":"register","token":"t","identity":)") + bad + "}");
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FieldOf(m.status()), "identity") << bad;
  }
  EXPECT_FALSE(ParseSignalingMessage(R"({"type":"register","token":"t","identity":")" +
                                     std::string(65, 'a') + "\"}")
                   .ok());
  EXPECT_TRUE(ParseSignalingMessage(R"({"type":"register","token":"t","identity":")" +
                                    std::string(64, 'a') + "\"}")
                  .ok());
}

TEST(SignalingMessageTest, IdentitySyntaxMatchesTheCore) {
  EXPECT_TRUE(IsValidIdentity("alice"));
  EXPECT_TRUE(IsValidIdentity("agent.7_b-c"));
  EXPECT_FALSE(IsValidIdentity("7agent"));
  EXPECT_FALSE(IsValidIdentity("+12015550100"));
  EXPECT_FALSE(IsValidIdentity("a@b"));
  EXPECT_FALSE(IsValidIdentity(""));
}

TEST(SignalingMessageTest, RejectsMalformedUnknownAndOversized) {
  EXPECT_EQ(FieldOf(ParseSignalingMessage("{not json").status()), "message");
  EXPECT_EQ(FieldOf(ParseSignalingMessage("[1,2]").status()), "message");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(R"({"session_id":"x"})").status()), "type");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(R"({"type":"explode"})").status()), "type");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(R"({"type":7})").status()), "type");
  const std::string big = R"({"type":"call","to":"bob","pad":")" +
                          std::string(kMaxSignalingMessageBytes, 'x') + "\"}";
  auto m = ParseSignalingMessage(big);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(FieldOf(m.status()), "message");
  EXPECT_NE(m.status().message().find("larger than"), absl::string_view::npos);
}

TEST(SignalingMessageTest, SessionMessagesNeedASessionId) {
  for (const char* type : {"ringing", "accept", "reject", "hangup"}) {
    auto m = ParseSignalingMessage(std::string(R"({"type":")") + type + "\"}");
    ASSERT_FALSE(m.ok()) << type;
    EXPECT_EQ(FieldOf(m.status()), "session_id");
    auto ok = ParseSignalingMessage(std::string(R"({"type":")") + type +
                                    R"(","session_id":"s-1"})");
    EXPECT_TRUE(ok.ok()) << type;
  }
  EXPECT_FALSE(ParseSignalingMessage(R"({"type":"hangup","session_id":"a\u0001b"})").ok());
}

TEST(SignalingMessageTest, SdpIsValidatedAndReduced) {
  auto m = ParseSignalingMessage(
      R"({"type":"sdp","session_id":"s","description":{"type":"offer","sdp":"v=0\r\n","x":1}})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->payload, (nlohmann::json{{"type", "offer"}, {"sdp", "v=0\r\n"}}));
  EXPECT_EQ(FieldOf(ParseSignalingMessage(
                        R"({"type":"sdp","session_id":"s","description":{"type":"pranswer","sdp":"v"}})")
                        .status()),
            "description.type");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(
                        R"({"type":"sdp","session_id":"s","description":{"type":"offer"}})")
                        .status()),
            "description.sdp");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(R"({"type":"sdp","session_id":"s"})").status()),
            "description");
}

TEST(SignalingMessageTest, IceCandidatesAndEndOfCandidates) {
  auto m = ParseSignalingMessage(
      R"({"type":"ice","session_id":"s","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abc","evil":"x"}})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->payload["sdpMid"], "0");
  EXPECT_EQ(m->payload["sdpMLineIndex"], 0);
  EXPECT_FALSE(m->payload.contains("evil"));
  auto end = ParseSignalingMessage(R"({"type":"ice","session_id":"s","candidate":null})");
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->payload.is_null());
  EXPECT_FALSE(ParseSignalingMessage(R"({"type":"ice","session_id":"s"})").ok());
  EXPECT_FALSE(
      ParseSignalingMessage(R"({"type":"ice","session_id":"s","candidate":{"sdpMLineIndex":-1}})")
          .ok());
}

TEST(SignalingMessageTest, StateHeldMuted) {
  auto st = ParseSignalingMessage(R"({"type":"state","session_id":"s","connection_state":"connected"})");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->connection_state, "connected");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(
                        R"({"type":"state","session_id":"s","connection_state":"happy"})")
                        .status()),
            "connection_state");
  auto held = ParseSignalingMessage(R"({"type":"held","session_id":"s","held":true,"op":4})");
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(held->flag);
  ASSERT_TRUE(held->op.has_value());
  EXPECT_EQ(*held->op, 4u);
  auto muted = ParseSignalingMessage(R"({"type":"muted","session_id":"s","muted":false})");
  ASSERT_TRUE(muted.ok());
  EXPECT_FALSE(muted->flag);
  EXPECT_FALSE(muted->op.has_value());
  EXPECT_EQ(FieldOf(ParseSignalingMessage(R"({"type":"muted","session_id":"s","muted":"yes"})")
                        .status()),
            "muted");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(R"({"type":"held","session_id":"s","held":true,"op":-2})")
                        .status()),
            "op");
}

TEST(SignalingMessageTest, CallNeedsTo) {
  auto m = ParseSignalingMessage(R"({"type":"call","to":"bob","request_id":"r1"})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->to, "bob");
  EXPECT_EQ(m->request_id, "r1");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(R"({"type":"call"})").status()), "to");
  EXPECT_EQ(FieldOf(ParseSignalingMessage(R"({"type":"call","to":""})").status()), "to");
}

}  // namespace
}  // namespace voipd::adapters::webrtc
