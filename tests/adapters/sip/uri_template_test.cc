#include "adapters/sip/uri_template.h"

#include <gtest/gtest.h>

namespace voipd::adapters::sip {
namespace {

TEST(UriTemplateTest, ExpandsE164Placeholders) {
  EXPECT_EQ(*ExpandUriTemplate("sip:{e164}@pbx.example.com;user=phone", TargetKind::kE164,
                               "+12015550100"),
            "sip:12015550100@pbx.example.com;user=phone");
  EXPECT_EQ(*ExpandUriTemplate("sip:{number}@10.0.0.1:5080", TargetKind::kE164, "+442071838750"),
            "sip:+442071838750@10.0.0.1:5080");
}

TEST(UriTemplateTest, ExpandsExtensions) {
  EXPECT_EQ(*ExpandUriTemplate("sip:{extension}@pbx", TargetKind::kExtension, "1001"),
            "sip:1001@pbx");
  EXPECT_EQ(*ExpandUriTemplate("sip:{e164}@pbx", TargetKind::kExtension, "1001"), "sip:1001@pbx");
  // '#' is not allowed unescaped in a user part; '*' is.
  EXPECT_EQ(*ExpandUriTemplate("sip:{number}@pbx", TargetKind::kExtension, "*72#"),
            "sip:*72%23@pbx");
}

TEST(UriTemplateTest, SipUriTargetsPassThrough) {
  EXPECT_EQ(*ExpandUriTemplate("sip:{e164}@pbx", TargetKind::kSipUri, "sip:alice@example.org"),
            "sip:alice@example.org");
}

TEST(UriTemplateTest, EveryPlaceholderIsReplaced) {
  EXPECT_EQ(*ExpandUriTemplate("sip:{e164}@pbx;x={number};y={extension}", TargetKind::kE164,
                               "+12015550100"),
            "sip:12015550100@pbx;x=+12015550100;y=+12015550100");
}

TEST(UriTemplateTest, Validation) {
  EXPECT_TRUE(ValidateUriTemplate("sip:{e164}@pbx.example.com;user=phone").ok());
  EXPECT_TRUE(ValidateUriTemplate("sips:{number}@pbx").ok());
  for (const char* bad : {"{e164}@pbx", "tel:{e164}", "sip:{phone}@pbx", "sip:{e164@pbx",
                          "sip:alice@pbx", "sip:{e164} @pbx"}) {
    const absl::Status s = ValidateUriTemplate(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message().substr(0, 13), "uri_template:") << bad << ": " << s.message();
  }
}

}  // namespace
}  // namespace voipd::adapters::sip
