#include "adapters/sip/wav_prompt.h"

#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "adapters/sip/g711.h"

namespace voipd::adapters::sip {
namespace {

void Put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}

void Put32(std::string& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v & 0xffff));
  Put16(out, static_cast<uint16_t>(v >> 16));
}

std::string Wav(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits,
                const std::string& data) {
  std::string fmt;
  Put16(fmt, format);
  Put16(fmt, channels);
  Put32(fmt, rate);
  Put32(fmt, rate * channels * bits / 8);
  Put16(fmt, static_cast<uint16_t>(channels * bits / 8));
  Put16(fmt, bits);
  std::string out = "RIFF";
  Put32(out, static_cast<uint32_t>(4 + 8 + fmt.size() + 8 + data.size()));
  out += "WAVE";
  out += "LIST";  // an unrelated chunk first: must be skipped
  Put32(out, 3);
  out += std::string("abc") + '\0';  // odd size, padded
  out += "fmt ";
  Put32(out, static_cast<uint32_t>(fmt.size()));
  out += fmt;
  out += "data";
  Put32(out, static_cast<uint32_t>(data.size()));
  out += data;
  return out;
}

std::string Pcm16(std::initializer_list<int16_t> samples) {
  std::string data;
  for (int16_t s : samples) Put16(data, static_cast<uint16_t>(s));
  return data;
}

void ExpectError(const std::string& bytes, absl::string_view what) {
  absl::StatusOr<std::shared_ptr<const WavPrompt>> p = ParseWavPrompt(bytes, "x.wav");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(p.status().message(), "prompt_wav: 'x.wav' ")) << p.status();
  EXPECT_TRUE(absl::StrContains(p.status().message(), what)) << p.status();
}

TEST(WavPromptTest, Pcm16IsEncodedToBothLaws) {
  absl::StatusOr<std::shared_ptr<const WavPrompt>> p =
      ParseWavPrompt(Wav(1, 1, 8000, 16, Pcm16({0, 1000, -1000, 32767})), "x.wav");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ((*p)->ulaw.size(), 4u);
  EXPECT_EQ((*p)->ulaw[0], kUlawSilence);
  EXPECT_EQ((*p)->alaw[0], kAlawSilence);
  EXPECT_EQ((*p)->ulaw[3], LinearToUlaw(32767));
  EXPECT_EQ((*p)->alaw[2], LinearToAlaw(-1000));
}

TEST(WavPromptTest, G711FilesAreKeptAndTranscoded) {
  const std::string ulaw = {static_cast<char>(0xFF), static_cast<char>(0x80)};
  absl::StatusOr<std::shared_ptr<const WavPrompt>> p =
      ParseWavPrompt(Wav(7, 1, 8000, 8, ulaw), "x.wav");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->ulaw[1], 0x80);
  EXPECT_EQ((*p)->alaw[0], LinearToAlaw(0));
  const std::string alaw = {static_cast<char>(0xD5)};
  p = ParseWavPrompt(Wav(6, 1, 8000, 8, alaw), "x.wav");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->alaw[0], 0xD5);
}

TEST(WavPromptTest, RejectsWhatCannotBeSent) {
  ExpectError("not a wav file at all", "is not a WAV");
  ExpectError(Wav(1, 2, 8000, 16, Pcm16({0, 0})), "mono");
  ExpectError(Wav(1, 1, 16000, 16, Pcm16({0})), "8000 Hz");
  ExpectError(Wav(1, 1, 8000, 8, "ab"), "format 1 with 8 bits");
  ExpectError(Wav(3, 1, 8000, 32, "abcd"), "format 3");
  ExpectError(Wav(1, 1, 8000, 16, ""), "no audio");
  std::string truncated = Wav(1, 1, 8000, 16, Pcm16({1, 2, 3}));
  ExpectError(truncated.substr(0, 40), "truncated");  // inside the fmt chunk
}

TEST(WavPromptTest, MissingFileNamesThePath) {
  absl::StatusOr<std::shared_ptr<const WavPrompt>> p = LoadWavPrompt("/nonexistent/p.wav");
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(absl::StartsWith(p.status().message(), "prompt_wav: cannot read '/nonexistent/p.wav'"))
      << p.status();
}

}  // namespace
}  // namespace voipd::adapters::sip
