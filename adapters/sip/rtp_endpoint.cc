#include "adapters/sip/rtp_endpoint.h"

#include <netinet/in.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "adapters/sip/g711.h"

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)

namespace voipd::adapters::sip {
namespace {

constexpr size_t kFrameSamples = 160;  // 20 ms at 8 kHz
constexpr uint64_t kFrameMs = 20;
constexpr int kMaxCatchUpFrames = 3;

}  // namespace

struct RtpEndpoint::Impl {
  struct rtp_sock* rtp = nullptr;
  struct mbuf* frame = nullptr;  // reused for every packet
  struct sa remote;
  bool has_remote = false;
  bool send_allowed = false;
  bool sending = false;
  bool muted = false;
  bool marker = true;  // first packet of a talkspurt
  uint8_t payload_type = 0;
  Codec codec = Codec::kPcmu;
  uint32_t timestamp = 0;
  uint64_t next_due_ms = 0;
  uint64_t rx = 0;
  uint64_t tx = 0;
  std::shared_ptr<const WavPrompt> prompt;
  bool loop_prompt = false;
  size_t prompt_pos = 0;

  ~Impl() {
    mem_deref(rtp);
    mem_deref(frame);
  }

  static void OnRtp(const struct sa*, const struct rtp_header*, struct mbuf*, void* arg) {
    ++static_cast<Impl*>(arg)->rx;
  }

  void SendFrame() {
    uint8_t payload[kFrameSamples];
    const uint8_t silence = codec == Codec::kPcmu ? kUlawSilence : kAlawSilence;
    std::memset(payload, silence, sizeof(payload));
    if (prompt && !muted) {
      const std::vector<uint8_t>& samples = codec == Codec::kPcmu ? prompt->ulaw : prompt->alaw;
      for (size_t i = 0; i < kFrameSamples; ++i) {
        if (prompt_pos >= samples.size()) {
          if (!loop_prompt) break;
          prompt_pos = 0;
        }
        payload[i] = samples[prompt_pos++];
      }
    }
    frame->pos = frame->end = RTP_HEADER_SIZE;
    (void)mbuf_write_mem(frame, payload, sizeof(payload));
    frame->pos = RTP_HEADER_SIZE;
    if (rtp_send(rtp, &remote, false, marker, payload_type, timestamp, frame) == 0) ++tx;
    marker = false;
    timestamp += kFrameSamples;
  }
};

absl::StatusOr<std::unique_ptr<RtpEndpoint>> RtpEndpoint::Open(
    absl::string_view local_ip, uint16_t min_port, uint16_t max_port,
    std::shared_ptr<const WavPrompt> prompt, bool loop_prompt) {
  auto impl = std::make_unique<Impl>();
  impl->prompt = std::move(prompt);
  impl->loop_prompt = loop_prompt;
  struct sa ip;
  const std::string ip_text(local_ip);
  int err = sa_set_str(&ip, ip_text.c_str(), 0);
  if (err == 0) {
    // libre binds the RTCP port (+1) too; the RTCP session stays off: plain
    // G.711 needs no feedback, and the far end's reports are just dropped.
    err = rtp_listen(&impl->rtp, IPPROTO_UDP, &ip, min_port, max_port, false, &Impl::OnRtp,
                     nullptr, impl.get());
  }
  if (err != 0) {
    return absl::UnavailableError(absl::StrCat("no free RTP port on ", local_ip, " in ", min_port,
                                               "-", max_port, ": ", std::strerror(err)));
  }
  impl->frame = mbuf_alloc(RTP_HEADER_SIZE + kFrameSamples);
  if (impl->frame == nullptr) return absl::ResourceExhaustedError("out of memory");
  return std::unique_ptr<RtpEndpoint>(new RtpEndpoint(std::move(impl)));
}

RtpEndpoint::RtpEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RtpEndpoint::~RtpEndpoint() = default;

uint16_t RtpEndpoint::local_port() const { return sa_port(rtp_local(impl_->rtp)); }

void RtpEndpoint::SetRemote(const struct sa& remote, uint8_t payload_type, Codec codec,
                            bool send) {
  impl_->remote = remote;
  impl_->has_remote = true;
  impl_->payload_type = payload_type;
  impl_->codec = codec;
  impl_->send_allowed = send;
}

bool RtpEndpoint::has_remote() const { return impl_->has_remote; }
Codec RtpEndpoint::codec() const { return impl_->codec; }
void RtpEndpoint::SetMuted(bool muted) { impl_->muted = muted; }

void RtpEndpoint::StartSending(uint64_t now_ms) {
  if (impl_->sending) return;
  impl_->sending = true;
  impl_->next_due_ms = now_ms;
}

void RtpEndpoint::Tick(uint64_t now_ms) {
  Impl& s = *impl_;
  if (!s.sending || !s.has_remote) return;
  int frames = 0;
  while (s.next_due_ms <= now_ms) {
    if (++frames > kMaxCatchUpFrames) {
      // Too far behind (the loop was busy): skip ahead instead of bursting.
      s.next_due_ms = now_ms + kFrameMs;
      break;
    }
    if (s.send_allowed) {
      s.SendFrame();
    } else {
      s.timestamp += kFrameSamples;  // keep the clock running while paused
    }
    s.next_due_ms += kFrameMs;
  }
}

uint64_t RtpEndpoint::rx_packets() const { return impl_->rx; }
uint64_t RtpEndpoint::tx_packets() const { return impl_->tx; }

}  // namespace voipd::adapters::sip
