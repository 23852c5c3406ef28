// X-Twilio-Signature against the vectors computed with Twilio's own Node
// library (tests/fixtures/twilio/signature_vectors.json, copied from the
// shared peer README), plus tampering.
#include "adapters/twilio/twilio_signature.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace voipd::adapters::twilio {
namespace {

nlohmann::json Vectors() {
  std::ifstream in(std::string(VOIPD_TEST_DATA_DIR) + "/twilio/signature_vectors.json");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, false);
  EXPECT_TRUE(json.is_object()) << "cannot read signature_vectors.json";
  return json;
}

FormParams Params(const nlohmann::json& list) {
  FormParams params;
  for (const auto& pair : list) {
    params.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
  }
  return params;
}

TEST(TwilioSignatureTest, MatchesTwilioLibraryVectors) {
  const nlohmann::json vectors = Vectors();
  ASSERT_FALSE(vectors["form"].empty());
  for (const auto& v : vectors["form"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const FormParams params = Params(v["params"]);
    EXPECT_EQ(ComputeSignature(v["token"].get<std::string>(), v["url"].get<std::string>(), params),
              v["signature"].get<std::string>());
    EXPECT_TRUE(ValidateSignature(v["token"].get<std::string>(), v["url"].get<std::string>(),
                                  params, v["signature"].get<std::string>()));
  }
}

TEST(TwilioSignatureTest, ParameterOrderDoesNotMatter) {
  const nlohmann::json v = Vectors()["form"][3];
  FormParams params = Params(v["params"]);
  std::reverse(params.begin(), params.end());
  EXPECT_TRUE(ValidateSignature(v["token"].get<std::string>(), v["url"].get<std::string>(), params,
                                v["signature"].get<std::string>()));
}

TEST(TwilioSignatureTest, AcceptsEitherPortFormForEitherUrl) {
  const nlohmann::json v = Vectors()["port_variants"];
  const FormParams params = Params(v["params"]);
  for (const auto& url : v["urls"]) {
    for (const auto& signature : v["signatures"]) {
      EXPECT_TRUE(ValidateSignature(v["token"].get<std::string>(), url.get<std::string>(), params,
                                    signature.get<std::string>()))
          << url << " " << signature;
    }
  }
}

TEST(TwilioSignatureTest, AlternatePortForm) {
  EXPECT_EQ(AlternatePortForm("https://a.example/x?y=1"), "https://a.example:443/x?y=1");
  EXPECT_EQ(AlternatePortForm("https://a.example:443/x"), "https://a.example/x");
  EXPECT_EQ(AlternatePortForm("http://a.example"), "http://a.example:80");
  EXPECT_EQ(AlternatePortForm("https://a.example:8443/x"), "https://a.example:8443/x");
  EXPECT_EQ(AlternatePortForm("http://[::1]:80/s"), "http://[::1]/s");
}

TEST(TwilioSignatureTest, RejectsTamperedUrl) {
  const nlohmann::json v = Vectors()["form"][3];
  const FormParams params = Params(v["params"]);
  const std::string token = v["token"], signature = v["signature"];
  EXPECT_FALSE(ValidateSignature(token, "https://daemon.example.test:8443/twilio/status?leg=b",
                                 params, signature));
  EXPECT_FALSE(ValidateSignature(token, "https://daemon.example.test:8443/twilio/status", params,
                                 signature));
  EXPECT_FALSE(ValidateSignature(token, "http://daemon.example.test:8443/twilio/status?leg=a",
                                 params, signature));
  EXPECT_FALSE(ValidateSignature(token, "https://evil.example.test:8443/twilio/status?leg=a",
                                 params, signature));
}

TEST(TwilioSignatureTest, RejectsTamperedParams) {
  const nlohmann::json v = Vectors()["form"][3];
  const std::string token = v["token"], url = v["url"], signature = v["signature"];
  FormParams changed = Params(v["params"]);
  for (auto& [name, value] : changed) {
    if (name == "CallStatus") value = "in-progress";
  }
  EXPECT_FALSE(ValidateSignature(token, url, changed, signature));
  FormParams added = Params(v["params"]);
  added.emplace_back("Extra", "1");
  EXPECT_FALSE(ValidateSignature(token, url, added, signature));
  FormParams removed = Params(v["params"]);
  removed.pop_back();
  EXPECT_FALSE(ValidateSignature(token, url, removed, signature));
}

TEST(TwilioSignatureTest, RejectsMissingWrongOrMangledSignature) {
  const nlohmann::json v = Vectors()["form"][3];
  const FormParams params = Params(v["params"]);
  const std::string token = v["token"], url = v["url"], signature = v["signature"];
  EXPECT_FALSE(ValidateSignature(token, url, params, ""));
  EXPECT_FALSE(ValidateSignature("another-token", url, params, signature));
  EXPECT_FALSE(ValidateSignature("", url, params, signature));
  std::string flipped = signature;
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(ValidateSignature(token, url, params, flipped));
  EXPECT_FALSE(ValidateSignature(token, url, params, signature.substr(0, 27)));
  EXPECT_FALSE(ValidateSignature(token, url, params, signature + "="));
}

TEST(TwilioSignatureTest, JsonBodyVariant) {
  const nlohmann::json v = Vectors()["json_body"][0];
  const std::string token = v["token"], url = v["url"], body = v["body"],
                    signature = v["signature"];
  EXPECT_TRUE(ValidateSignatureWithBody(token, url, body, signature));
  EXPECT_FALSE(ValidateSignatureWithBody(token, url, body + " ", signature));
  EXPECT_FALSE(ValidateSignatureWithBody(token, "https://mycompany.com/myapp.php?foo=1&bar=2", body,
                                         signature));
}

}  // namespace
}  // namespace voipd::adapters::twilio
