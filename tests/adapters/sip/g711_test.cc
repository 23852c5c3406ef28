#include "adapters/sip/g711.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace voipd::adapters::sip {
namespace {

TEST(G711Test, SilenceCodes) {
  EXPECT_EQ(LinearToUlaw(0), kUlawSilence);
  EXPECT_EQ(LinearToAlaw(0), kAlawSilence);
  EXPECT_EQ(UlawToLinear(kUlawSilence), 0);
  EXPECT_EQ(AlawToLinear(kAlawSilence), 8);  // A-law has no exact zero
}

TEST(G711Test, EveryCodeSurvivesARoundTrip) {
  for (int code = 0; code < 256; ++code) {
    const uint8_t c = static_cast<uint8_t>(code);
    if (c != 0x7F) {  // µ-law has two zeros; 0x7F (-0) re-encodes as 0xFF
      EXPECT_EQ(LinearToUlaw(UlawToLinear(c)), c) << code;
    }
    EXPECT_EQ(LinearToAlaw(AlawToLinear(c)), c) << code;
  }
}

TEST(G711Test, QuantisationErrorIsSmall) {
  for (int s = -32768; s <= 32767; s += 7) {
    const int16_t x = static_cast<int16_t>(s);
    // Segment step is at most 1/16 of the magnitude (plus the bias region).
    const int tolerance = std::abs(s) / 16 + 40;
    EXPECT_LE(std::abs(UlawToLinear(LinearToUlaw(x)) - s), tolerance) << s;
    EXPECT_LE(std::abs(AlawToLinear(LinearToAlaw(x)) - s), tolerance) << s;
  }
}

TEST(G711Test, KnownCodes) {
  EXPECT_EQ(LinearToUlaw(32767), 0x80);
  EXPECT_EQ(LinearToUlaw(-32768), 0x00);
  EXPECT_EQ(LinearToAlaw(32767), 0xAA);
  EXPECT_EQ(LinearToAlaw(-32768), 0x2A);
}

}  // namespace
}  // namespace voipd::adapters::sip
