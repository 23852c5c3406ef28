// One call's SDP offer/answer state, built on libre's SDP module (it encodes
// and parses; this only picks codecs and directions). Results are applied to
// the call's RtpEndpoint. Loop thread only.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/sip/sip_config.h"

struct mbuf;

namespace voipd::adapters::sip {

class RtpEndpoint;

class SdpNegotiator {
 public:
  // `media_ip`/`port`: where we receive RTP. disabled = signalling only
  // (media: none): answers decline the audio stream (port 0).
  static absl::StatusOr<std::unique_ptr<SdpNegotiator>> Create(absl::string_view media_ip,
                                                               uint16_t port,
                                                               const std::vector<Codec>& codecs,
                                                               bool telephone_event,
                                                               bool disabled);
  ~SdpNegotiator();

  // An offer; `hold` offers a=sendonly, otherwise a=sendrecv. The caller
  // owns the returned buffer (mem_deref).
  absl::StatusOr<struct mbuf*> Offer(bool hold);
  // Takes the far end's answer to our last offer and points `rtp` (may be
  // null) at the negotiated address and codec.
  absl::Status ApplyAnswer(struct mbuf* body, RtpEndpoint* rtp);
  // Answers an offer from the far end (a re-INVITE, or a 200 to an
  // offer-less INVITE). The caller owns the returned buffer.
  absl::StatusOr<struct mbuf*> AnswerOffer(struct mbuf* body, RtpEndpoint* rtp);

  // Restores the direction offered before the last Offer() (after the far
  // end rejected it).
  void RevertDirection();

 private:
  struct Impl;
  explicit SdpNegotiator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace voipd::adapters::sip
