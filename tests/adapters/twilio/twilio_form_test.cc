#include "adapters/twilio/twilio_form.h"

#include <gtest/gtest.h>

#include "adapters/twilio/twilio_twiml.h"

namespace voipd::adapters::twilio {
namespace {

TEST(TwilioFormTest, EncodesRepeatedKeysAsTwilioExpects) {
  const FormParams params = {{"To", "+12015550100"},
                             {"StatusCallbackEvent", "initiated"},
                             {"StatusCallbackEvent", "ringing"},
                             {"Twiml", "<Response/>"}};
  EXPECT_EQ(EncodeForm(params),
            "To=%2B12015550100&StatusCallbackEvent=initiated&StatusCallbackEvent=ringing"
            "&Twiml=%3CResponse%2F%3E");
}

TEST(TwilioFormTest, RoundTrip) {
  const FormParams params = {{"a b", "c&d=e"}, {"empty", ""}, {"utf8", "\xc3\xa9"}};
  absl::StatusOr<FormParams> decoded = DecodeForm(EncodeForm(params));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, params);
}

TEST(TwilioFormTest, DecodesPlusAsSpaceAndBareKeys) {
  absl::StatusOr<FormParams> d = DecodeForm("Timestamp=Mon%2C+16+Aug&flag&&x=%2b");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ((*d)[0].second, "Mon, 16 Aug");
  EXPECT_EQ((*d)[1], (std::pair<std::string, std::string>("flag", "")));
  EXPECT_EQ((*d)[2].second, "+");
  EXPECT_EQ(FormValue(*d, "x"), "+");
  EXPECT_EQ(FormValue(*d, "missing"), "");
}

TEST(TwilioFormTest, RejectsMalformed) {
  EXPECT_FALSE(DecodeForm("a=%").ok());
  EXPECT_FALSE(DecodeForm("a=%4").ok());
  EXPECT_FALSE(DecodeForm("a=%zz").ok());
  EXPECT_FALSE(DecodeForm("a=%00").ok());
  EXPECT_FALSE(DecodeForm("=value").ok());
}

TEST(TwilioTwimlTest, ConferenceTwiml) {
  EXPECT_EQ(ConferenceTwiml("voipd-1", ""),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial><Conference "
            "startConferenceOnEnter=\"true\" endConferenceOnExit=\"true\" beep=\"false\">"
            "voipd-1</Conference></Dial></Response>");
  const std::string with_cb = ConferenceTwiml("c", "https://x.example/conference?a=1&b=2");
  EXPECT_NE(with_cb.find("statusCallback=\"https://x.example/conference?a=1&amp;b=2\""),
            std::string::npos);
  EXPECT_NE(with_cb.find("statusCallbackEvent=\"join\""), std::string::npos);
  EXPECT_EQ(XmlEscape("<a href='x'>&\"</a>"), "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;");
}

}  // namespace
}  // namespace voipd::adapters::twilio
