// One call's minimal RTP endpoint: a UDP socket from the configured port
// range on the libre loop, sending 20 ms G.711 frames (the WAV prompt or
// silence) when MediaClock ticks it, and counting what arrives. No thread and
// no timer of its own, so thousands of calls cost thousands of sockets only.
// Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/sip/sip_config.h"
#include "adapters/sip/wav_prompt.h"

struct sa;

namespace voipd::adapters::sip {

class RtpEndpoint {
 public:
  // Binds one even port in [min_port, max_port) on `local_ip`. `prompt` may
  // be null (silence).
  static absl::StatusOr<std::unique_ptr<RtpEndpoint>> Open(
      absl::string_view local_ip, uint16_t min_port, uint16_t max_port,
      std::shared_ptr<const WavPrompt> prompt, bool loop_prompt);
  ~RtpEndpoint();

  uint16_t local_port() const;
  // Where to send and in which format, from the negotiated SDP. `send` is
  // false when the far end said it does not want our media (recvonly or
  // inactive on its side).
  void SetRemote(const struct sa& remote, uint8_t payload_type, Codec codec, bool send);
  bool has_remote() const;
  Codec codec() const;
  // Muted: frames keep flowing (timing, NAT bindings and the far end's media
  // timers stay intact) but carry silence.
  void SetMuted(bool muted);
  // Frames are sent from now on (after the answer), one per 20 ms.
  void StartSending(uint64_t now_ms);
  // Sends the frames due by `now_ms` (at most a few, to catch up after a
  // late tick without bursting).
  void Tick(uint64_t now_ms);

  uint64_t rx_packets() const;
  uint64_t tx_packets() const;

 private:
  struct Impl;
  explicit RtpEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace voipd::adapters::sip
