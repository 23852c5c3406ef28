#include "daemon/core/number_normalizer.h"

#include <optional>
#include <string>

#include "adapters/api/voip_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using adapters::TargetKind;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct E164Case {
  std::string typed;
  std::string region;  // default region
  std::string e164;
  std::string number_region;
};

class NormalizeE164Test : public ::testing::TestWithParam<E164Case> {};

TEST_P(NormalizeE164Test, BecomesE164WithRegion) {
  const E164Case& c = GetParam();
  absl::StatusOr<NormalizedTarget> target = NormalizeNumber(c.typed, c.region);
  ASSERT_TRUE(target.ok()) << "'" << c.typed << "': " << target.status();
  EXPECT_EQ(target->kind, TargetKind::kE164);
  EXPECT_EQ(target->value, c.e164);
  EXPECT_EQ(target->region, c.number_region);
}

// Users paste numbers in every style; all must reach the adapter as E.164.
INSTANTIATE_TEST_SUITE_P(
    TypedFormats, NormalizeE164Test,
    ::testing::Values(E164Case{"+1 201-555-0100", "US", "+12015550100", "US"},
                      E164Case{"+12015550100", "US", "+12015550100", "US"},
                      E164Case{"(201) 555-0100", "US", "+12015550100", "US"},
                      E164Case{"201.555.0100", "US", "+12015550100", "US"},
                      E164Case{"1 201 555 0100", "US", "+12015550100", "US"},
                      E164Case{"  +1 (201) 555-0100  ", "US", "+12015550100", "US"},
                      E164Case{"+44 20 7946 0958", "US", "+442079460958", "GB"},
                      E164Case{"020 7946 0958", "GB", "+442079460958", "GB"},
                      // An international number ignores the default region.
                      E164Case{"+44 20 7946 0958", "GB", "+442079460958", "GB"},
                      E164Case{"+1 416 555 0100", "US", "+14165550100", "CA"}),
    [](const ::testing::TestParamInfo<E164Case>& info) {
      return "Case" + std::to_string(info.index);
    });

struct InvalidCase {
  std::string name;
  std::string typed;
};

class NormalizeInvalidTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(NormalizeInvalidTest, IsInvalidNumberNamingToNumber) {
  const InvalidCase& c = GetParam();
  absl::StatusOr<NormalizedTarget> target = NormalizeNumber(c.typed, "US");
  ASSERT_FALSE(target.ok()) << "'" << c.typed << "' accepted as " << target->value;
  EXPECT_EQ(target.status().code(), absl::StatusCode::kInvalidArgument);
  std::optional<voip::v1::VoipError> error = GetVoipError(target.status());
  ASSERT_TRUE(error.has_value()) << target.status();
  EXPECT_EQ(error->error_code(), voip::v1::INVALID_NUMBER);
  EXPECT_EQ(error->field(), "to.number");
  // Clients show the message as-is; it must point at the field.
  EXPECT_THAT(std::string(target.status().message()), StartsWith("to.number"));
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, NormalizeInvalidTest,
    ::testing::Values(InvalidCase{"LettersAfterDigit", "1abc"},
                      InvalidCase{"NameWithSpace", "alice smith"},
                      InvalidCase{"NameWithAt", "alice@example.com"},
                      InvalidCase{"NameLongerThan64", "a" + std::string(64, 'b')}, InvalidCase{"TooShort", "+1 555"},
                      InvalidCase{"Empty", ""}, InvalidCase{"OnlySpaces", "   "},
                      InvalidCase{"OnlyTabsAndNewlines", "\t\n"},
                      InvalidCase{"TooManyDigits", "+1 201 555 0100 1234 5678"},
                      InvalidCase{"LongerThan256", "+1" + std::string(300, '2')},
                      InvalidCase{"SevenDigitsWithoutAreaCode", "5550100"},
                      InvalidCase{"BareSipScheme", "sip:"},
                      InvalidCase{"BareSipsScheme", "sips:"},
                      InvalidCase{"SipUriWithSpace", "sip:alice smith@example.com"},
                      InvalidCase{"SipUriWithControlChar", "sip:alice\x01@example.com"},
                      InvalidCase{"ExtensionWithLetter", "10a1"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) { return info.param.name; });

TEST(NumberNormalizerTest, EmptyNumberSaysItIsRequired) {
  absl::StatusOr<NormalizedTarget> target = NormalizeNumber("  ", "US");
  ASSERT_FALSE(target.ok());
  EXPECT_THAT(target.status().message(), HasSubstr("required"));
}

TEST(NumberNormalizerTest, NationalNumberErrorNamesTheDefaultRegion) {
  // "not valid for region GB" tells the user which region the national
  // number was read in.
  absl::StatusOr<NormalizedTarget> target = NormalizeNumber("555-0100", "GB");
  ASSERT_FALSE(target.ok());
  EXPECT_THAT(target.status().message(), HasSubstr("region GB"));
}

TEST(NumberNormalizerTest, ErrorNamesTheGivenField) {
  absl::StatusOr<NormalizedTarget> target = NormalizeNumber("1abc", "US", "contact.number");
  ASSERT_FALSE(target.ok());
  std::optional<voip::v1::VoipError> error = GetVoipError(target.status());
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->field(), "contact.number");
  EXPECT_THAT(std::string(target.status().message()), StartsWith("contact.number"));
}

TEST(NumberNormalizerTest, NameStartingWithALetterIsAnIdentity) {
  for (const std::string name : {"alice", "Agent.7", "bob_smith-2", "a"}) {
    absl::StatusOr<NormalizedTarget> target = NormalizeNumber(name, "US");
    ASSERT_TRUE(target.ok()) << name << ": " << target.status();
    EXPECT_EQ(target->kind, TargetKind::kIdentity) << name;
    EXPECT_EQ(target->value, name);
  }
}

TEST(NumberNormalizerTest, SipUriPassesThroughUntouched) {
  absl::StatusOr<NormalizedTarget> target = NormalizeNumber("sip:alice@example.com", "US");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->kind, TargetKind::kSipUri);
  EXPECT_EQ(target->value, "sip:alice@example.com");
  EXPECT_EQ(target->region, "");
}

TEST(NumberNormalizerTest, SipUriSchemeIsCaseInsensitiveAndSipsAccepted) {
  for (const std::string uri : {"SIP:bob@pbx.example.com", "sips:bob@pbx.example.com:5061"}) {
    absl::StatusOr<NormalizedTarget> target = NormalizeNumber(uri, "US");
    ASSERT_TRUE(target.ok()) << uri << ": " << target.status();
    EXPECT_EQ(target->kind, TargetKind::kSipUri) << uri;
    EXPECT_EQ(target->value, uri);
  }
}

TEST(NumberNormalizerTest, SipUriSurroundingWhitespaceIsTrimmed) {
  absl::StatusOr<NormalizedTarget> target = NormalizeNumber("  sip:alice@example.com\n", "US");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->value, "sip:alice@example.com");
}

TEST(NumberNormalizerTest, ShortDigitStringsAreExtensions) {
  // Internal PBX extensions and feature codes are dialled as typed.
  for (const std::string ext : {"1001", "*97", "#21", "100", "123456"}) {
    absl::StatusOr<NormalizedTarget> target = NormalizeNumber(ext, "US");
    ASSERT_TRUE(target.ok()) << ext << ": " << target.status();
    EXPECT_EQ(target->kind, TargetKind::kExtension) << ext;
    EXPECT_EQ(target->value, ext);
    EXPECT_EQ(target->region, "") << ext;
  }
}

TEST(NumberNormalizerTest, SevenDigitsAreNotAnExtension) {
  // Up to six digits are an extension; more is a (here invalid) number.
  absl::StatusOr<NormalizedTarget> target = NormalizeNumber("1234567", "US");
  EXPECT_FALSE(target.ok());
}

TEST(NumberNormalizerTest, RepeatedNumbersGiveTheSameResultPerRegion) {
  // Valid results are cached; the default region is part of the key, so the
  // same national digits read in another region must not reuse the answer.
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<NormalizedTarget> us = NormalizeNumber("(201) 555-0100", "US");
    ASSERT_TRUE(us.ok()) << us.status();
    EXPECT_EQ(us->value, "+12015550100");
    EXPECT_EQ(us->region, "US");
    absl::StatusOr<NormalizedTarget> gb = NormalizeNumber("020 7946 0958", "GB");
    ASSERT_TRUE(gb.ok()) << gb.status();
    EXPECT_EQ(gb->value, "+442079460958");
    absl::StatusOr<NormalizedTarget> gb_in_us = NormalizeNumber("020 7946 0958", "US");
    EXPECT_FALSE(gb_in_us.ok());
  }
}

TEST(NumberNormalizerTest, IsKnownRegion) {
  EXPECT_TRUE(IsKnownRegion("US"));
  EXPECT_TRUE(IsKnownRegion("GB"));
  EXPECT_TRUE(IsKnownRegion("DE"));
  EXPECT_FALSE(IsKnownRegion("XX"));
  EXPECT_FALSE(IsKnownRegion(""));
  EXPECT_FALSE(IsKnownRegion("USA"));
}

}  // namespace
}  // namespace voipd
