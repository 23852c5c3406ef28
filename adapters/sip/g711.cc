#include "adapters/sip/g711.h"

namespace voipd::adapters::sip {
namespace {

constexpr int kUlawBias = 0x84;
constexpr int kUlawClip = 32635;

// Position of the highest set bit of a 15-bit magnitude, as a 3-bit segment.
int Segment(int magnitude, int base) {
  int segment = 0;
  for (int m = magnitude >> base; m > 1 && segment < 7; m >>= 1) ++segment;
  return segment;
}

}  // namespace

uint8_t LinearToUlaw(int16_t sample) {
  int value = sample;
  const int sign = value < 0 ? 0x80 : 0;
  if (value < 0) value = -value;
  if (value > kUlawClip) value = kUlawClip;
  value += kUlawBias;
  const int exponent = Segment(value, 7);
  const int mantissa = (value >> (exponent + 3)) & 0x0F;
  return static_cast<uint8_t>(~(sign | (exponent << 4) | mantissa));
}

int16_t UlawToLinear(uint8_t code) {
  code = static_cast<uint8_t>(~code);
  const int sign = code & 0x80;
  const int exponent = (code >> 4) & 0x07;
  const int mantissa = code & 0x0F;
  const int value = (((mantissa << 3) + kUlawBias) << exponent) - kUlawBias;
  return static_cast<int16_t>(sign ? -value : value);
}

uint8_t LinearToAlaw(int16_t sample) {
  int value = sample;
  int sign_mask;
  if (value >= 0) {
    sign_mask = 0xD5;  // sign bit set, then even bits inverted
  } else {
    sign_mask = 0x55;
    value = -value - 1;
  }
  if (value > 32767) value = 32767;
  uint8_t code;
  if (value < 256) {
    code = static_cast<uint8_t>(value >> 4);
  } else {
    const int exponent = Segment(value, 8) + 1;
    code = static_cast<uint8_t>((exponent << 4) | ((value >> (exponent + 3)) & 0x0F));
  }
  return static_cast<uint8_t>(code ^ sign_mask);
}

int16_t AlawToLinear(uint8_t code) {
  code ^= 0x55;
  const int exponent = (code >> 4) & 0x07;
  const int mantissa = code & 0x0F;
  int value = (mantissa << 4) + 8;
  if (exponent != 0) value = (value + 0x100) << (exponent - 1);
  return static_cast<int16_t>((code & 0x80) ? value : -value);
}

}  // namespace voipd::adapters::sip
