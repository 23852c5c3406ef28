// ITU-T G.711 µ-law and A-law sample conversion (the two codecs the adapter
// offers). Table-free: the prompt is encoded once at load time, so speed
// does not matter here.
#pragma once

#include <cstdint>

namespace voipd::adapters::sip {

uint8_t LinearToUlaw(int16_t sample);
uint8_t LinearToAlaw(int16_t sample);
int16_t UlawToLinear(uint8_t code);
int16_t AlawToLinear(uint8_t code);

// The code of a zero sample, sent as silence.
inline constexpr uint8_t kUlawSilence = 0xFF;
inline constexpr uint8_t kAlawSilence = 0xD5;

}  // namespace voipd::adapters::sip
