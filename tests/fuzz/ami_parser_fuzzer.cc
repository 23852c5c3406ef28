// Fuzz target for the AMI parser (adapters/asterisk_ami/ami_parser.h): any
// bytes, cut anywhere, under any size bound, must parse without crashing,
// never hold more than the bound, and give the same messages (and the same
// error count) however the stream is cut.
//
// Input layout: byte 0 picks the bound (64..16384 bytes, so that it is
// reachable), byte 1 seeds the cut points, the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "adapters/asterisk_ami/ami_parser.h"

using voipd::adapters::asterisk_ami::AmiMessage;
using voipd::adapters::asterisk_ami::AmiParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t limit = 64 + static_cast<size_t>(data[0]) * 64;
  uint32_t x = 2654435761u * (data[1] + 1u);
  const absl::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  AmiParser whole(limit);
  std::vector<AmiMessage> expected;
  whole.Feed(input, expected);
  if (whole.buffered_bytes() > limit) __builtin_trap();

  AmiParser cut(limit);
  std::vector<AmiMessage> got;
  size_t pos = 0;
  while (pos < input.size()) {
    x = x * 1103515245u + 12345u;
    size_t n = 1 + (x >> 16) % 97;
    if (n > input.size() - pos) n = input.size() - pos;
    cut.Feed(input.substr(pos, n), got);
    if (cut.buffered_bytes() > limit) __builtin_trap();
    pos += n;
  }
  if (!(expected == got) || whole.errors() != cut.errors()) __builtin_trap();
  for (const AmiMessage& m : expected) {
    (void)m.type();
    (void)m.Get("ActionID");
    (void)m.Serialize();
  }
  return 0;
}
