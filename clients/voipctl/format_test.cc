// Output formats and argument parsing: the parts of voipctl that scripts and
// people read, checked without a daemon.
#include "clients/voipctl/call_status_names.h"
#include "clients/voipctl/human_format.h"
#include "clients/voipctl/json_format.h"
#include "clients/voipctl/labels.h"
#include "gtest/gtest.h"

namespace voipd::voipctl {
namespace {

TEST(CallStatusNamesTest, RoundTrip) {
  EXPECT_EQ(CallStatusName(voip::v1::CALL_STATUS_ON_HOLD), "on_hold");
  EXPECT_EQ(ParseCallStatus("on_hold"), voip::v1::CALL_STATUS_ON_HOLD);
  EXPECT_EQ(ParseCallStatus("RINGING"), voip::v1::CALL_STATUS_RINGING);
  EXPECT_EQ(ParseCallStatus("CALL_STATUS_BUSY"), voip::v1::CALL_STATUS_BUSY);
  EXPECT_EQ(ParseCallStatus("unspecified"), std::nullopt);
  EXPECT_EQ(ParseCallStatus("bogus"), std::nullopt);
  EXPECT_EQ(CallStatusNameList(),
            "initiating, ringing, connected, on_hold, disconnected, failed, busy, unavailable");
}

TEST(LabelsTest, CheckAndSplit) {
  EXPECT_EQ(CheckLabel("crm=42"), "");
  EXPECT_EQ(CheckLabel("empty="), "");
  EXPECT_NE(CheckLabel("novalue"), "");
  EXPECT_NE(CheckLabel("=v"), "");
  google::protobuf::Map<std::string, std::string> labels;
  AddLabels({"a=1", "url=x=y", "a=2"}, &labels);
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels["a"], "2");
  EXPECT_EQ(labels["url"], "x=y");
}

TEST(HumanFormatTest, Timestamp) {
  google::protobuf::Timestamp time;
  EXPECT_EQ(FormatTimestamp(time), "-");
  time.set_seconds(1795467600);  // 2026-11-23T21:00:00Z
  time.set_nanos(123456789);
  EXPECT_EQ(FormatTimestamp(time), "2026-11-23T21:00:00.123Z");
}

TEST(HumanFormatTest, SessionAndEvent) {
  voip::v1::CallEvent event;
  event.set_sequence(42);
  event.mutable_time()->set_seconds(1795467600);
  event.set_type(voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  event.set_previous_status(voip::v1::CALL_STATUS_INITIATING);
  voip::v1::CallSession* session = event.mutable_session();
  session->set_session_id("c-1");
  session->set_status(voip::v1::CALL_STATUS_RINGING);
  session->set_system_name("sandbox");
  session->mutable_to()->set_number("(201) 555-0100");
  session->set_to_normalized("+12015550100");
  (*session->mutable_labels())["b"] = "2";
  (*session->mutable_labels())["a"] = "1";
  EXPECT_EQ(FormatSession(*session),
            "c-1  ringing  sandbox  +12015550100  on_hold=no muted=no labels=a=1,b=2");
  EXPECT_EQ(FormatEvent(event), "#42 2026-11-23T21:00:00.000Z c-1 ringing (was initiating)");

  session->set_status(voip::v1::CALL_STATUS_FAILED);
  session->mutable_end_reason()->set_source(voip::v1::HANGUP_SOURCE_SYSTEM);
  session->mutable_end_reason()->set_error_code(voip::v1::PROVIDER_ERROR);
  session->mutable_end_reason()->set_message("said \"no\"");
  event.set_previous_status(voip::v1::CALL_STATUS_RINGING);
  EXPECT_EQ(FormatEvent(event),
            "#42 2026-11-23T21:00:00.000Z c-1 failed (was ringing) ended_by=system "
            "error=PROVIDER_ERROR reason=\"said \\\"no\\\"\"");
}

TEST(HumanFormatTest, ErrorLine) {
  RpcError error;
  error.code = absl::StatusCode::kInvalidArgument;
  error.message = "grpc message";
  error.voip_error.emplace();
  error.voip_error->set_error_code(voip::v1::INVALID_NUMBER);
  error.voip_error->set_message("bad number");
  error.voip_error->set_field("to.number");
  error.voip_error->set_system_name("sandbox");
  EXPECT_EQ(FormatError(error),
            "error: INVALID_NUMBER: bad number (field=to.number, system=sandbox)");

  RpcError bare;
  bare.code = absl::StatusCode::kUnavailable;
  bare.message = "connection refused";
  EXPECT_EQ(FormatError(bare), "error: UNAVAILABLE: connection refused");
}

TEST(JsonFormatTest, OneLineWithProtoNamesAndDefaults) {
  voip::v1::CallSession session;
  session.set_session_id("c-1");
  session.set_status(voip::v1::CALL_STATUS_CONNECTED);
  const std::string json = ToJson(session);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(json.find("\"session_id\":\"c-1\""), std::string::npos);
  EXPECT_NE(json.find("\"status\":\"CALL_STATUS_CONNECTED\""), std::string::npos);
  EXPECT_NE(json.find("\"on_hold\":false"), std::string::npos);
}

TEST(JsonFormatTest, ErrorObject) {
  RpcError error;
  error.code = absl::StatusCode::kNotFound;
  error.voip_error.emplace();
  error.voip_error->set_error_code(voip::v1::SESSION_NOT_FOUND);
  error.voip_error->set_message("no call");
  EXPECT_EQ(ErrorToJson(error),
            "{\"error\":{\"error_code\":\"SESSION_NOT_FOUND\",\"message\":\"no call\","
            "\"details\":{},\"field\":\"\",\"system_name\":\"\",\"session_id\":\"\","
            "\"grpc_code\":\"NOT_FOUND\"}}");
}

}  // namespace
}  // namespace voipd::voipctl
