#include "daemon/core/request_validation.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using ::testing::StartsWith;

voip::v1::StartCallRequest ValidRequest() {
  voip::v1::StartCallRequest request;
  request.mutable_to()->set_number("+12015550100");
  request.set_request_id("req-1");
  request.set_from("+12015550199");
  request.mutable_ring_timeout()->set_seconds(30);
  (*request.mutable_labels())["crm_id"] = "42";
  return request;
}

// Every validation error: INVALID_ARGUMENT, VoipError INVALID_ARGUMENT whose
// `field` is `field`, message starting with that field.
void ExpectFieldError(const absl::Status& status, const std::string& field) {
  ASSERT_FALSE(status.ok()) << "expected an error for " << field;
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  std::optional<voip::v1::VoipError> error = GetVoipError(status);
  ASSERT_TRUE(error.has_value()) << "no VoipError on " << status;
  EXPECT_EQ(error->error_code(), voip::v1::INVALID_ARGUMENT);
  EXPECT_EQ(error->field(), field);
  EXPECT_THAT(std::string(status.message()), StartsWith(field));
}

TEST(RequestValidationTest, ValidStartCallPasses) {
  EXPECT_TRUE(ValidateStartCall(ValidRequest()).ok());
}

TEST(RequestValidationTest, MinimalStartCallPasses) {
  // Everything but `to` is optional; the number itself is checked later by
  // the normalizer.
  voip::v1::StartCallRequest request;
  request.mutable_to()->set_number("+12015550100");
  EXPECT_TRUE(ValidateStartCall(request).ok());
}

// ring_timeout

TEST(RequestValidationTest, ZeroRingTimeoutIsRejected) {
  // Set-but-zero would mean "hang up before ringing"; unset means default.
  auto request = ValidRequest();
  request.mutable_ring_timeout()->set_seconds(0);
  request.mutable_ring_timeout()->set_nanos(0);
  ExpectFieldError(ValidateStartCall(request), "ring_timeout");
}

TEST(RequestValidationTest, NegativeRingTimeoutIsRejected) {
  auto request = ValidRequest();
  request.mutable_ring_timeout()->set_seconds(-5);
  ExpectFieldError(ValidateStartCall(request), "ring_timeout");
}

TEST(RequestValidationTest, NegativeNanosRingTimeoutIsRejected) {
  auto request = ValidRequest();
  request.mutable_ring_timeout()->set_seconds(0);
  request.mutable_ring_timeout()->set_nanos(-1);
  ExpectFieldError(ValidateStartCall(request), "ring_timeout");
}

TEST(RequestValidationTest, TooLongRingTimeoutIsRejected) {
  auto request = ValidRequest();
  request.mutable_ring_timeout()->set_seconds(601);
  ExpectFieldError(ValidateStartCall(request), "ring_timeout");
}

TEST(RequestValidationTest, RingTimeoutJustOverTheLimitIsRejected) {
  // The limit is "at most 600s": 600.5s is over it.
  auto request = ValidRequest();
  request.mutable_ring_timeout()->set_seconds(600);
  request.mutable_ring_timeout()->set_nanos(500'000'000);
  ExpectFieldError(ValidateStartCall(request), "ring_timeout");
}

TEST(RequestValidationTest, RingTimeoutBoundariesAreAccepted) {
  auto request = ValidRequest();
  request.mutable_ring_timeout()->set_seconds(600);
  EXPECT_TRUE(ValidateStartCall(request).ok());
  request.mutable_ring_timeout()->set_seconds(0);
  request.mutable_ring_timeout()->set_nanos(1);
  EXPECT_TRUE(ValidateStartCall(request).ok());
}

// labels

TEST(RequestValidationTest, TooManyLabelsIsRejected) {
  auto request = ValidRequest();
  request.clear_labels();
  for (int i = 0; i < 33; ++i) (*request.mutable_labels())[absl::StrCat("k", i)] = "v";
  ExpectFieldError(ValidateStartCall(request), "labels");
}

TEST(RequestValidationTest, ThirtyTwoLabelsAreAccepted) {
  auto request = ValidRequest();
  request.clear_labels();
  for (int i = 0; i < 32; ++i) (*request.mutable_labels())[absl::StrCat("k", i)] = "v";
  EXPECT_TRUE(ValidateStartCall(request).ok());
}

TEST(RequestValidationTest, EmptyLabelKeyIsRejected) {
  auto request = ValidRequest();
  (*request.mutable_labels())[""] = "v";
  ExpectFieldError(ValidateStartCall(request), "labels");
}

TEST(RequestValidationTest, TooLongLabelKeyIsNamedByItsStartOnly) {
  auto request = ValidRequest();
  const std::string key = "crm_contact_" + std::string(60, 'k');
  (*request.mutable_labels())[key] = "v";
  const absl::Status status = ValidateStartCall(request);
  ExpectFieldError(status, "labels");
  EXPECT_NE(status.message().find("'crm_contact_kkkk...'"), absl::string_view::npos) << status;
  EXPECT_EQ(status.message().find(key), absl::string_view::npos) << status;
}

TEST(RequestValidationTest, TooLongLabelValueNamesTheLabel) {
  auto request = ValidRequest();
  (*request.mutable_labels())["note"] = std::string(257, 'v');
  ExpectFieldError(ValidateStartCall(request), "labels[note]");
}

TEST(RequestValidationTest, LabelLimitsAreInclusive) {
  auto request = ValidRequest();
  (*request.mutable_labels())[std::string(64, 'k')] = std::string(256, 'v');
  EXPECT_TRUE(ValidateStartCall(request).ok());
}

TEST(RequestValidationTest, ControlCharacterInLabelValueIsRejected) {
  // Labels end up in logs and HTTP headers: no newlines or escapes.
  auto request = ValidRequest();
  (*request.mutable_labels())["note"] = "line1\nline2";
  ExpectFieldError(ValidateStartCall(request), "labels[note]");
}

TEST(RequestValidationTest, DeleteCharacterInLabelValueIsRejected) {
  auto request = ValidRequest();
  (*request.mutable_labels())["note"] = "a\x7f";
  ExpectFieldError(ValidateStartCall(request), "labels[note]");
}

TEST(RequestValidationTest, TooLongUtf8LabelKeyIsCutAtACharacter) {
  auto request = ValidRequest();
  // "a" then 2-byte "é"s: byte 16 is the second byte of the eighth "é", so
  // the excerpt ends before that "é" instead of splitting it.
  std::string key = "a";
  for (int i = 0; i < 40; ++i) key += "\xc3\xa9";
  (*request.mutable_labels())[key] = "v";
  const absl::Status status = ValidateStartCall(request);
  ExpectFieldError(status, "labels");
  std::string excerpt = "a";
  for (int i = 0; i < 7; ++i) excerpt += "\xc3\xa9";
  EXPECT_NE(status.message().find("'" + excerpt + "...'"), absl::string_view::npos) << status;
}

TEST(RequestValidationTest, ControlCharacterInLabelKeyIsRejectedWithoutEchoingIt) {
  auto request = ValidRequest();
  (*request.mutable_labels())["bad\nkey"] = "v";
  const absl::Status status = ValidateStartCall(request);
  ExpectFieldError(status, "labels");
  EXPECT_EQ(status.message().find('\n'), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("control characters"), absl::string_view::npos) << status;
}

TEST(RequestValidationTest, Utf8LabelValueIsAccepted) {
  // Names in CRM labels are often non-ASCII; only control bytes are bad.
  auto request = ValidRequest();
  (*request.mutable_labels())["name"] = "Zoë Müller 東京";
  EXPECT_TRUE(ValidateStartCall(request).ok());
}

// from, request_id, preferred_system, contact system

TEST(RequestValidationTest, TooLongFromIsRejected) {
  auto request = ValidRequest();
  request.set_from(std::string(257, '1'));
  ExpectFieldError(ValidateStartCall(request), "from");
}

TEST(RequestValidationTest, FromAtLimitIsAccepted) {
  auto request = ValidRequest();
  request.set_from(std::string(256, '1'));
  EXPECT_TRUE(ValidateStartCall(request).ok());
}

TEST(RequestValidationTest, ControlCharacterInFromIsRejected) {
  auto request = ValidRequest();
  request.set_from("sip:agent@pbx\r\nVia: evil");
  ExpectFieldError(ValidateStartCall(request), "from");
}

TEST(RequestValidationTest, TooLongRequestIdIsRejected) {
  auto request = ValidRequest();
  request.set_request_id(std::string(129, 'r'));
  ExpectFieldError(ValidateStartCall(request), "request_id");
  ExpectFieldError(ValidateRequestId(std::string(129, 'r')), "request_id");
}

TEST(RequestValidationTest, RequestIdIsOptionalAndLimitIsInclusive) {
  EXPECT_TRUE(ValidateRequestId("").ok());
  EXPECT_TRUE(ValidateRequestId(std::string(128, 'r')).ok());
}

TEST(RequestValidationTest, ControlCharacterInRequestIdIsRejected) {
  ExpectFieldError(ValidateRequestId("abc\x01"), "request_id");
}

TEST(RequestValidationTest, TooLongPreferredSystemIsRejected) {
  auto request = ValidRequest();
  request.set_preferred_system(std::string(129, 's'));
  ExpectFieldError(ValidateStartCall(request), "preferred_system");
}

TEST(RequestValidationTest, TooLongContactSystemNameIsRejected) {
  auto request = ValidRequest();
  request.mutable_to()->mutable_voip_integration_details()->set_system_name(
      std::string(129, 's'));
  ExpectFieldError(ValidateStartCall(request), "to.voip_integration_details.system_name");
}

// session_id

TEST(RequestValidationTest, EmptySessionIdIsRejected) {
  ExpectFieldError(ValidateSessionId(""), "session_id");
}

TEST(RequestValidationTest, TooLongSessionIdIsRejected) {
  ExpectFieldError(ValidateSessionId(std::string(129, 's')), "session_id");
}

TEST(RequestValidationTest, ControlCharacterInSessionIdIsRejected) {
  ExpectFieldError(ValidateSessionId("s\n1"), "session_id");
}

TEST(RequestValidationTest, OrdinarySessionIdIsAccepted) {
  EXPECT_TRUE(ValidateSessionId("c0ffee-1234").ok());
  EXPECT_TRUE(ValidateSessionId(std::string(128, 's')).ok());
}

// Every string field is bounded at the edge, not only the ones a call keeps.
TEST(RequestValidationTest, ContactTypeAndExtraAreBounded) {
  auto request = ValidRequest();
  request.mutable_to()->set_type(std::string(129, 't'));
  ExpectFieldError(ValidateStartCall(request), "to.type");
  request = ValidRequest();
  auto* extra = request.mutable_to()->mutable_voip_integration_details()->mutable_extra();
  (*extra)["crm"] = std::string(257, 'x');
  ExpectFieldError(ValidateStartCall(request), "to.voip_integration_details.extra[crm]");
  extra->clear();
  for (int i = 0; i < 33; ++i) (*extra)[absl::StrCat("k", i)] = "v";
  ExpectFieldError(ValidateStartCall(request), "to.voip_integration_details.extra");
  extra->clear();
  (*extra)["crm"] = std::string(256, 'x');
  request.mutable_to()->set_type(std::string(128, 't'));
  EXPECT_TRUE(ValidateStartCall(request).ok());
}

TEST(RequestValidationTest, StreamFilterFieldsAreBoundedAndNamed) {
  google::protobuf::Map<std::string, std::string> labels;
  ExpectFieldError(ValidateCallFilter(std::string(129, 's'), "", labels, "filter."),
                   "filter.session_id");
  ExpectFieldError(ValidateCallFilter("", "sys\ntem", labels, "filter."), "filter.system_name");
  labels["tenant"] = std::string(257, 'a');
  ExpectFieldError(ValidateCallFilter("", "", labels, "filter."), "filter.labels[tenant]");
  labels["tenant"] = "acme";
  EXPECT_TRUE(ValidateCallFilter("s-1", "sandbox", labels, "filter.").ok());
}

TEST(RequestValidationTest, ListCallsFieldsAreBounded) {
  voip::v1::ListCallsRequest request;
  request.set_system_name(std::string(129, 's'));
  ExpectFieldError(ValidateListCalls(request), "system_name");
  request.Clear();
  request.set_page_token(std::string(129, 'p'));
  ExpectFieldError(ValidateListCalls(request), "page_token");
  request.Clear();
  request.set_number(std::string(257, '1'));
  ExpectFieldError(ValidateListCalls(request), "number");
  request.Clear();
  (*request.mutable_labels())[""] = "x";
  ExpectFieldError(ValidateListCalls(request), "labels");
  request.Clear();
  request.set_system_name("sandbox");
  (*request.mutable_labels())["tenant"] = "acme";
  EXPECT_TRUE(ValidateListCalls(request).ok());
}

TEST(RequestValidationTest, SimulatedInboundSystemNameIsBounded) {
  ExpectFieldError(ValidateSystemName(std::string(129, 's'), "system_name"), "system_name");
  EXPECT_TRUE(ValidateSystemName("sandbox", "system_name").ok());
}

}  // namespace
}  // namespace voipd
