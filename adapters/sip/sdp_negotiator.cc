#include "adapters/sip/sdp_negotiator.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/sip/rtp_endpoint.h"

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)

namespace voipd::adapters::sip {
namespace {

bool Sends(enum sdp_dir dir) { return dir == SDP_SENDONLY || dir == SDP_SENDRECV; }
bool Receives(enum sdp_dir dir) { return dir == SDP_RECVONLY || dir == SDP_SENDRECV; }

}  // namespace

struct SdpNegotiator::Impl {
  struct sdp_session* session = nullptr;
  struct sdp_media* audio = nullptr;  // owned by `session`
  enum sdp_dir dir = SDP_SENDRECV;
  enum sdp_dir previous_dir = SDP_SENDRECV;
  bool disabled = false;

  ~Impl() { mem_deref(session); }

  // After a decode: the first codec of the far end's list that we offered
  // (its payload type, which is what we must send with), and whether it
  // wants our media.
  absl::Status Apply(RtpEndpoint* rtp) {
    if (disabled || rtp == nullptr) return absl::OkStatus();
    if (sdp_media_rport(audio) == 0) {
      return absl::FailedPreconditionError("the far end declined the audio stream (port 0)");
    }
    const struct list* formats = sdp_media_format_lst(audio, false);
    for (struct le* le = formats ? formats->head : nullptr; le != nullptr; le = le->next) {
      const auto* fmt = static_cast<const struct sdp_format*>(le->data);
      if (!fmt->sup || fmt->name == nullptr || fmt->pt < 0 || fmt->pt > 127) continue;
      Codec codec;
      if (str_casecmp(fmt->name, "PCMU") == 0) {
        codec = Codec::kPcmu;
      } else if (str_casecmp(fmt->name, "PCMA") == 0) {
        codec = Codec::kPcma;
      } else {
        continue;  // telephone-event and anything else we do not send
      }
      const bool send = Sends(dir) && Receives(sdp_media_rdir(audio));
      rtp->SetRemote(*sdp_media_raddr(audio), static_cast<uint8_t>(fmt->pt), codec, send);
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError("no codec in common (we offer PCMU/PCMA)");
  }
};

absl::StatusOr<std::unique_ptr<SdpNegotiator>> SdpNegotiator::Create(
    absl::string_view media_ip, uint16_t port, const std::vector<Codec>& codecs,
    bool telephone_event, bool disabled) {
  auto impl = std::make_unique<Impl>();
  impl->disabled = disabled;
  struct sa laddr;
  const std::string ip(media_ip);
  int err = sa_set_str(&laddr, ip.c_str(), 0);
  if (err == 0) err = sdp_session_alloc(&impl->session, &laddr);
  if (err == 0) {
    err = sdp_media_add(&impl->audio, impl->session, sdp_media_audio, disabled ? 9 : port,
                        sdp_proto_rtpavp);
  }
  for (Codec codec : codecs) {
    if (err != 0) break;
    const bool ulaw = codec == Codec::kPcmu;
    err = sdp_format_add(nullptr, impl->audio, false, ulaw ? "0" : "8", ulaw ? "PCMU" : "PCMA",
                         8000, 1, nullptr, nullptr, nullptr, false, nullptr);
  }
  if (err == 0 && telephone_event) {
    err = sdp_format_add(nullptr, impl->audio, false, "101", "telephone-event", 8000, 1, nullptr,
                         nullptr, nullptr, false, "0-15");
  }
  if (err == 0) err = sdp_media_set_lattr(impl->audio, true, "ptime", "20");
  if (err != 0) {
    return absl::InternalError(absl::StrCat("cannot build the SDP session: ", std::strerror(err)));
  }
  if (disabled) sdp_media_set_disabled(impl->audio, true);
  return std::unique_ptr<SdpNegotiator>(new SdpNegotiator(std::move(impl)));
}

SdpNegotiator::SdpNegotiator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SdpNegotiator::~SdpNegotiator() = default;

absl::StatusOr<struct mbuf*> SdpNegotiator::Offer(bool hold) {
  impl_->previous_dir = impl_->dir;
  impl_->dir = hold ? SDP_SENDONLY : SDP_SENDRECV;
  sdp_media_set_ldir(impl_->audio, impl_->dir);
  struct mbuf* mb = nullptr;
  if (int err = sdp_encode(&mb, impl_->session, true); err != 0) {
    return absl::InternalError(absl::StrCat("cannot encode the SDP offer: ", std::strerror(err)));
  }
  return mb;
}

void SdpNegotiator::RevertDirection() {
  impl_->dir = impl_->previous_dir;
  sdp_media_set_ldir(impl_->audio, impl_->dir);
}

absl::Status SdpNegotiator::ApplyAnswer(struct mbuf* body, RtpEndpoint* rtp) {
  if (body == nullptr || mbuf_get_left(body) == 0) {
    return absl::InvalidArgumentError("the answer carries no SDP");
  }
  if (int err = sdp_decode(impl_->session, body, false); err != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the SDP answer does not parse: ", std::strerror(err)));
  }
  return impl_->Apply(rtp);
}

absl::StatusOr<struct mbuf*> SdpNegotiator::AnswerOffer(struct mbuf* body, RtpEndpoint* rtp) {
  if (body == nullptr || mbuf_get_left(body) == 0) {
    // An offer-less (re-)INVITE: the offer is ours, in the 200.
    return Offer(impl_->dir == SDP_SENDONLY);
  }
  if (int err = sdp_decode(impl_->session, body, true); err != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the SDP offer does not parse: ", std::strerror(err)));
  }
  if (absl::Status s = impl_->Apply(rtp); !s.ok()) return s;
  struct mbuf* mb = nullptr;
  if (int err = sdp_encode(&mb, impl_->session, false); err != 0) {
    return absl::InternalError(absl::StrCat("cannot encode the SDP answer: ", std::strerror(err)));
  }
  return mb;
}

}  // namespace voipd::adapters::sip
