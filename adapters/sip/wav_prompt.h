// The audio a call sends once answered: a WAV file (8 kHz mono; 16-bit PCM,
// A-law or µ-law), encoded once at load time into both G.711 laws so that
// sending a frame is a copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace voipd::adapters::sip {

struct WavPrompt {
  std::vector<uint8_t> ulaw;  // one byte per 8 kHz sample
  std::vector<uint8_t> alaw;
};

// Errors are InvalidArgument starting with "prompt_wav: ", naming the file
// and what is wrong with it (format, rate, channels, truncation).
absl::StatusOr<std::shared_ptr<const WavPrompt>> LoadWavPrompt(const std::string& path);

// The same from bytes already in memory (`name` is used in messages).
absl::StatusOr<std::shared_ptr<const WavPrompt>> ParseWavPrompt(absl::string_view bytes,
                                                                absl::string_view name);

}  // namespace voipd::adapters::sip
