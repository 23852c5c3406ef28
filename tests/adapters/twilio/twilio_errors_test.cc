#include "adapters/twilio/twilio_errors.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters::twilio {
namespace {

HttpResponse Response(long status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(TwilioErrorsTest, TwilioErrorJsonBecomesProviderErrorWithCode) {
  const absl::Status s = ErrorFromResponse(
      "tw", "creating the call",
      Response(400, R"({"code": 21211, "message": "The 'To' number 123 is not a valid phone )"
                    R"(number.", "more_info": "https://www.twilio.com/docs/errors/21211", )"
                    R"("status": 400})"));
  EXPECT_EQ(GetErrorCode(s), voip::v1::PROVIDER_ERROR);
  auto e = GetVoipError(s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->system_name(), "tw");
  EXPECT_EQ(e->provider_cause().provider_code(), "21211");
  EXPECT_EQ(e->provider_cause().provider_status(), "400");
  EXPECT_TRUE(absl::StrContains(e->provider_cause().text(), "not a valid phone number"));
  EXPECT_EQ(e->details().at("twilio_code"), "21211");
  EXPECT_EQ(e->details().at("more_info"), "https://www.twilio.com/docs/errors/21211");
  EXPECT_TRUE(absl::StrContains(s.message(), "21211")) << s.message();
}

TEST(TwilioErrorsTest, AuthFailuresAreConfigurationErrors) {
  for (long status : {401L, 403L}) {
    const absl::Status s = ErrorFromResponse(
        "tw", "creating the call",
        Response(status, R"({"code": 20003, "message": "Authenticate", "status": 401})"));
    EXPECT_EQ(GetErrorCode(s), voip::v1::CONFIGURATION_ERROR) << status;
    EXPECT_EQ(GetVoipError(s)->details().at("twilio_code"), "20003");
  }
}

TEST(TwilioErrorsTest, NonTwilioBodiesAreKeptShort) {
  const absl::Status s =
      ErrorFromResponse("tw", "fetching the call", Response(502, std::string(5000, 'x')));
  EXPECT_EQ(GetErrorCode(s), voip::v1::PROVIDER_ERROR);
  EXPECT_LT(s.message().size(), 700u);  // an excerpt, not 5000 bytes
  EXPECT_EQ(GetVoipError(s)->provider_cause().provider_status(), "502");
  EXPECT_EQ(GetVoipError(s)->provider_cause().provider_code(), "");
}

TEST(TwilioErrorsTest, ParseTwilioError) {
  EXPECT_FALSE(ParseTwilioError("not json"));
  EXPECT_FALSE(ParseTwilioError(R"({"message": "no code"})"));
  EXPECT_FALSE(ParseTwilioError(R"({"code": "21211"})"));  // Twilio's code is a number
  auto e = ParseTwilioError(R"({"code": 20429, "message": "Too Many Requests"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 20429);
}

TEST(TwilioErrorsTest, TransportFailuresAreNetworkErrors) {
  for (TransportFailure f : {TransportFailure::kNotSent, TransportFailure::kTimeout,
                             TransportFailure::kIo, TransportFailure::kTls}) {
    HttpResult r;
    r.failure = f;
    r.error = "boom";
    EXPECT_EQ(GetErrorCode(ErrorFromFailure("tw", "creating the call", r)),
              voip::v1::NETWORK_ERROR);
  }
}

TEST(TwilioErrorsTest, MalformedSuccessIsProviderError) {
  const absl::Status s = MalformedResponseError("tw", "creating the call",
                                                Response(201, "{oops"), "not a JSON object");
  EXPECT_EQ(GetErrorCode(s), voip::v1::PROVIDER_ERROR);
}

}  // namespace
}  // namespace voipd::adapters::twilio
