#include "adapters/sip/wav_prompt.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "adapters/sip/g711.h"

namespace voipd::adapters::sip {
namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatAlaw = 6;
constexpr uint16_t kFormatUlaw = 7;
constexpr uint32_t kSampleRate = 8000;
// Ten minutes: a prompt, not a recording library; bounds memory per system.
constexpr size_t kMaxSamples = 10 * 60 * kSampleRate;

uint16_t Le16(absl::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) |
                               (static_cast<uint8_t>(b[at + 1]) << 8));
}

uint32_t Le32(absl::string_view b, size_t at) {
  return static_cast<uint32_t>(Le16(b, at)) | (static_cast<uint32_t>(Le16(b, at + 2)) << 16);
}

absl::Status Bad(absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("prompt_wav: '", name, "' ", why));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const WavPrompt>> ParseWavPrompt(absl::string_view bytes,
                                                                absl::string_view name) {
  if (bytes.size() < 12 || bytes.substr(0, 4) != "RIFF" || bytes.substr(8, 4) != "WAVE") {
    return Bad(name, "is not a WAV (RIFF/WAVE) file");
  }
  bool have_fmt = false;
  uint16_t format = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
  absl::string_view data;
  bool have_data = false;
  // Chunks: 4-byte id, 4-byte little-endian size, payload padded to even.
  for (size_t at = 12; at + 8 <= bytes.size();) {
    const absl::string_view id = bytes.substr(at, 4);
    const uint32_t size = Le32(bytes, at + 4);
    const size_t body = at + 8;
    if (size > bytes.size() - body) {
      if (id != "data") return Bad(name, "is truncated");
      // Streaming writers leave the data size unset: take what is there.
      data = bytes.substr(body);
      have_data = true;
      break;
    }
    if (id == "fmt ") {
      if (size < 16) return Bad(name, "has a short fmt chunk");
      format = Le16(bytes, body);
      channels = Le16(bytes, body + 2);
      rate = Le32(bytes, body + 4);
      bits = Le16(bytes, body + 14);
      if (format == 0xFFFE && size >= 26) format = Le16(bytes, body + 24);  // extensible
      have_fmt = true;
    } else if (id == "data") {
      data = bytes.substr(body, size);
      have_data = true;
    }
    at = body + size + (size & 1);
  }
  if (!have_fmt) return Bad(name, "has no fmt chunk");
  if (!have_data) return Bad(name, "has no data chunk");
  if (channels != 1) return Bad(name, absl::StrCat("has ", channels, " channels; must be mono"));
  if (rate != kSampleRate) {
    return Bad(name, absl::StrCat("is sampled at ", rate, " Hz; must be 8000 Hz"));
  }
  auto prompt = std::make_shared<WavPrompt>();
  if (format == kFormatPcm && bits == 16) {
    const size_t n = data.size() / 2;
    if (n > kMaxSamples) return Bad(name, "is longer than 10 minutes");
    prompt->ulaw.reserve(n);
    prompt->alaw.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int16_t s = static_cast<int16_t>(Le16(data, 2 * i));
      prompt->ulaw.push_back(LinearToUlaw(s));
      prompt->alaw.push_back(LinearToAlaw(s));
    }
  } else if ((format == kFormatUlaw || format == kFormatAlaw) && bits == 8) {
    if (data.size() > kMaxSamples) return Bad(name, "is longer than 10 minutes");
    for (char c : data) {
      const uint8_t code = static_cast<uint8_t>(c);
      const int16_t s = format == kFormatUlaw ? UlawToLinear(code) : AlawToLinear(code);
      prompt->ulaw.push_back(format == kFormatUlaw ? code : LinearToUlaw(s));
      prompt->alaw.push_back(format == kFormatAlaw ? code : LinearToAlaw(s));
    }
  } else {
    return Bad(name, absl::StrCat("has format ", format, " with ", bits,
                                  " bits per sample; must be 16-bit PCM, A-law or u-law"));
  }
  if (prompt->ulaw.empty()) return Bad(name, "has no audio samples");
  return std::shared_ptr<const WavPrompt>(std::move(prompt));
}

absl::StatusOr<std::shared_ptr<const WavPrompt>> LoadWavPrompt(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt_wav: cannot read '", path, "': ", std::strerror(errno)));
  }
  std::stringstream content;
  content << in.rdbuf();
  return ParseWavPrompt(content.str(), path);
}

}  // namespace voipd::adapters::sip
