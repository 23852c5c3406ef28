#include "adapters/sip/sip_call.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "adapters/sip/media_clock.h"
#include "adapters/sip/rtp_endpoint.h"
#include "adapters/sip/sdp_negotiator.h"
#include "adapters/sip/sip_credentials.h"
#include "adapters/sip/sip_log.h"
#include "adapters/sip/sip_message_util.h"
#include "adapters/sip/sip_status_mapping.h"

#include "adapters/sip/sip_call_timers.h"  // last: pulls in libre's macro-heavy headers

namespace voipd::adapters::sip {
namespace {

constexpr char kSdpType[] = "application/sdp";

uint64_t Ms(absl::Duration d) { return static_cast<uint64_t>(absl::ToInt64Milliseconds(d)); }

}  // namespace

SipCall::SipCall(SipContext* context, std::string session_id, absl::Duration ring_timeout)
    : ctx_(context),
      session_id_(std::move(session_id)),
      ring_timeout_(ring_timeout),
      timers_(std::make_unique<Timers>()) {
  tmr_init(&timers_->no_response);
  tmr_init(&timers_->ring);
  tmr_init(&timers_->reinvite);
  tmr_init(&timers_->answer);
}

SipCall::~SipCall() {
  tmr_cancel(&timers_->no_response);
  tmr_cancel(&timers_->ring);
  tmr_cancel(&timers_->reinvite);
  tmr_cancel(&timers_->answer);
  if (rtp_ != nullptr) ctx_->clock->Remove(rtp_.get());
  mem_deref(answer_sdp_);
  mem_deref(reinvite_);
  mem_deref(reinvite_body_);
  mem_deref(reinvite_auth_);
  mem_deref(sess_);
}

absl::StatusOr<std::string> SipCall::Start(const std::string& request_uri,
                                           const std::string& from_uri) {
  const SipSettings& s = ctx_->settings;
  struct mbuf* offer = nullptr;
  if (s.media == MediaMode::kRtp) {
    absl::StatusOr<std::unique_ptr<RtpEndpoint>> rtp =
        RtpEndpoint::Open(ctx_->local_ip, s.rtp_min, s.rtp_max, ctx_->prompt, s.prompt_loop);
    if (!rtp.ok()) return NetworkError(ctx_->system, std::string(rtp.status().message()));
    rtp_ = std::move(*rtp);
  }
  absl::StatusOr<std::unique_ptr<SdpNegotiator>> sdp = SdpNegotiator::Create(
      ctx_->local_ip, rtp_ != nullptr ? rtp_->local_port() : 0, s.codecs, s.telephone_event,
      /*disabled=*/rtp_ == nullptr);
  if (!sdp.ok()) return ProviderError(ctx_->system, std::string(sdp.status().message()));
  sdp_ = std::move(*sdp);
  if (rtp_ != nullptr) {
    absl::StatusOr<struct mbuf*> encoded = sdp_->Offer(/*hold=*/false);
    if (!encoded.ok()) return ProviderError(ctx_->system, std::string(encoded.status().message()));
    offer = *encoded;
  }
  // media: none sends no offer; a far end that offers in its 200 gets an
  // answer declining the audio stream in the ACK (OnOffer).
  const char* routev[] = {ctx_->route.c_str()};
  const int err = sipsess_connect(
      &sess_, ctx_->sessions, request_uri.c_str(),
      s.from_display_name.empty() ? nullptr : s.from_display_name.c_str(), from_uri.c_str(),
      ctx_->contact_user.c_str(), routev, 1, kSdpType, offer, &ProvideCredentials, ctx_, false,
      &SipCall::OnOffer, &SipCall::OnAnswer, &SipCall::OnProgress, &SipCall::OnEstablished,
      nullptr, nullptr, &SipCall::OnClose, this, nullptr);
  mem_deref(offer);
  if (err != 0) {
    sess_ = nullptr;
    if (err == EINVAL) {
      return InvalidNumberError("to.number", absl::StrCat("to.number: '", request_uri,
                                                          "' is not a usable SIP URI"));
    }
    return NetworkError(ctx_->system, absl::StrCat("cannot send the INVITE via ", ctx_->route,
                                                   ": ", std::strerror(err)));
  }
  call_id_ = sip_dialog_callid(sipsess_dialog(sess_));
  tmr_start(&timers_->no_response, Ms(s.response_timeout), &SipCall::OnNoResponse, this);
  tmr_start(&timers_->ring, Ms(ring_timeout_), &SipCall::OnRingTimeout, this);
  return call_id_;
}

absl::Status SipCall::PrepareInbound(const struct sip_msg* invite, SipReply* reject) {
  inbound_ = true;
  got_response_ = true;  // we are the one who answers: nothing to wait for
  call_id_ = Text(invite->callid);
  const SipSettings& s = ctx_->settings;
  const bool has_body = invite->mb != nullptr && mbuf_get_left(invite->mb) > 0;
  if (has_body && !HasSdp(invite)) {
    *reject = {415, "Unsupported Media Type"};
    return ProviderError(ctx_->system, "the INVITE's body is not application/sdp");
  }
  if (s.media == MediaMode::kRtp) {
    absl::StatusOr<std::unique_ptr<RtpEndpoint>> rtp =
        RtpEndpoint::Open(ctx_->local_ip, s.rtp_min, s.rtp_max, ctx_->prompt, s.prompt_loop);
    if (!rtp.ok()) {
      *reject = {503, ReasonPhrase(503)};
      return NetworkError(ctx_->system, std::string(rtp.status().message()));
    }
    rtp_ = std::move(*rtp);
  }
  absl::StatusOr<std::unique_ptr<SdpNegotiator>> sdp = SdpNegotiator::Create(
      ctx_->local_ip, rtp_ != nullptr ? rtp_->local_port() : 0, s.codecs, s.telephone_event,
      /*disabled=*/rtp_ == nullptr);
  if (!sdp.ok()) {
    *reject = {500, ReasonPhrase(500)};
    return ProviderError(ctx_->system, std::string(sdp.status().message()));
  }
  sdp_ = std::move(*sdp);
  // libre looks at the INVITE's body again (is there an offer?): read it
  // without consuming it.
  struct mbuf* body = has_body ? invite->mb : nullptr;
  const size_t pos = body != nullptr ? body->pos : 0;
  // With an offer: our answer, for the 200 OK. Without: our offer, answered
  // in the caller's ACK (OnAnswer).
  absl::StatusOr<struct mbuf*> answer = sdp_->AnswerOffer(body, rtp_.get());
  if (body != nullptr) body->pos = pos;
  if (!answer.ok()) {
    *reject = {488, ReasonPhrase(488)};
    return ProviderError(ctx_->system,
                         absl::StrCat("unusable SDP offer: ", answer.status().message()));
  }
  answer_sdp_ = *answer;
  return absl::OkStatus();
}

absl::Status SipCall::AcceptInbound(const struct sip_msg* invite,
                                    std::optional<absl::Duration> answer_after,
                                    SipReply* reject) {
  const int err = sipsess_accept(
      &sess_, ctx_->sessions, invite, 180, "Ringing", ctx_->contact_user.c_str(), kSdpType,
      nullptr, &ProvideCredentials, ctx_, false, &SipCall::OnOffer, &SipCall::OnAnswer,
      &SipCall::OnEstablished, nullptr, nullptr, &SipCall::OnClose, this, nullptr);
  if (err != 0) {
    sess_ = nullptr;
    *reject = {500, ReasonPhrase(500)};
    const std::string why = absl::StrCat("cannot accept the INVITE: ", std::strerror(err));
    Terminate(EndedEvent(EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM,
                         voip::v1::PROVIDER_ERROR, why));
    return ProviderError(ctx_->system, why);
  }
  // Nobody answers: 480 at the ring timeout (OnRingTimeout).
  tmr_start(&timers_->ring, Ms(ring_timeout_), &SipCall::OnRingTimeout, this);
  if (answer_after) {
    tmr_start(&timers_->answer, Ms(*answer_after), &SipCall::OnAnswerTimer, this);
  }
  return absl::OkStatus();
}

void SipCall::OnAnswerTimer(void* arg) { static_cast<SipCall*>(arg)->Answer(); }

void SipCall::Answer() {
  if (ended_ || answered_ || sess_ == nullptr) return;
  const int err = sipsess_answer(sess_, 200, "OK", answer_sdp_, nullptr);
  answer_sdp_ = static_cast<struct mbuf*>(mem_deref(answer_sdp_));
  if (err != 0) {
    reject_ = {500, ReasonPhrase(500)};
    Terminate(EndedEvent(EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM,
                         voip::v1::PROVIDER_ERROR,
                         absl::StrCat("cannot send the 200 OK: ", std::strerror(err),
                                      "; 500 sent")));
    return;
  }
  answered_ = true;
  tmr_cancel(&timers_->ring);
  // CONNECTED once the caller's ACK arrives (OnEstablished).
  SipLogInfo(*ctx_, absl::StrCat("call ", call_id_, ": answered (200 OK sent)"), session_id_);
}

std::string SipCall::HangupWord() const {
  if (inbound_) {
    if (answered_) return "BYE";
    return absl::StrCat(reject_.code, " ", reject_.reason);
  }
  return established_ ? "BYE" : "CANCEL";
}

void SipCall::GotResponse() {
  got_response_ = true;
  tmr_cancel(&timers_->no_response);
}

void SipCall::OnProgress(const struct sip_msg* msg, void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  self->GotResponse();
  if (IsRingingResponse(msg->scode) && !self->rang_) {
    self->rang_ = true;
    self->Emit(ProviderEventKind::kRinging);
  }
  // Early media (183 with SDP): learn where the far end's audio comes from.
  // We only start sending once answered.
  if (self->rtp_ != nullptr && HasSdp(msg)) {
    if (absl::Status s = self->sdp_->ApplyAnswer(msg->mb, self->rtp_.get()); !s.ok()) {
      SipLogWarn(*self->ctx_,
                 absl::StrCat("call ", self->call_id_, ": ignoring the early SDP: ", s.message()),
                 self->session_id_);
    }
  }
}

int SipCall::OnAnswer(const struct sip_msg* msg, void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  self->GotResponse();
  if (self->rtp_ == nullptr) return 0;
  if (absl::Status s = self->sdp_->ApplyAnswer(msg->mb, self->rtp_.get()); !s.ok()) {
    // libre ACKs, then hangs up with BYE and reports OnClose(EPROTO, 200).
    self->media_failure_ = std::string(s.message());
    return EPROTO;
  }
  return 0;
}

int SipCall::OnOffer(struct mbuf** descp, const struct sip_msg* msg, void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  if (!self->established_) {
    self->GotResponse();
    // A 200 to our offer-less INVITE (media: none) without any SDP: ACK
    // without a body, there is nothing to answer.
    if (!HasSdp(msg)) return 0;
  }
  absl::StatusOr<struct mbuf*> answer = self->sdp_->AnswerOffer(msg->mb, self->rtp_.get());
  if (!answer.ok()) {
    // Before the answer libre hangs up (BYE); for a re-INVITE it replies 488
    // and the call goes on as it was.
    if (!self->established_) self->media_failure_ = std::string(answer.status().message());
    return EPROTO;
  }
  *descp = *answer;
  return 0;
}

void SipCall::OnEstablished(const struct sip_msg*, void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  self->GotResponse();
  tmr_cancel(&self->timers_->ring);
  self->established_ = true;
  self->Emit(ProviderEventKind::kAnswered);
  if (self->rtp_ != nullptr) {
    self->rtp_->StartSending(MediaClock::NowMs());
    self->ctx_->clock->Add(self->rtp_.get());
  }
}

void SipCall::OnClose(int err, const struct sip_msg* msg, void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  self->Terminate(self->ClosedEvent(err, msg));
}

ProviderEvent SipCall::ClosedEvent(int err, const struct sip_msg* msg) const {
  using voip::v1::HANGUP_SOURCE_REMOTE;
  using voip::v1::HANGUP_SOURCE_SYSTEM;
  if (peer_bye_ || (established_ && err == ECONNRESET && msg == nullptr)) {
    ProviderEvent ended = EndedEvent(EndOutcome::kDisconnected, HANGUP_SOURCE_REMOTE,
                                     voip::v1::ERROR_CODE_UNSPECIFIED,
                                     "the far end hung up (BYE)");
    ended.cause.set_q850_cause(peer_bye_q850_);
    return ended;
  }
  if (inbound_) {
    if (!answered_ && err == ECONNRESET) {
      // libre answered the CANCEL and the INVITE (487): a missed call.
      ProviderEvent ended = EndedEvent(EndOutcome::kDisconnected, HANGUP_SOURCE_REMOTE,
                                       voip::v1::ERROR_CODE_UNSPECIFIED,
                                       "the caller hung up before the answer (CANCEL)");
      ended.cause.set_sip_code(487);
      ended.cause.set_sip_reason(ReasonPhrase(487));
      return ended;
    }
    if (!media_failure_.empty()) {
      return EndedEvent(EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::PROVIDER_ERROR,
                        absl::StrCat("the caller's SDP answer in the ACK is unusable (",
                                     media_failure_, "); BYE sent"));
    }
    if (answered_ && !established_ && err == ETIMEDOUT) {
      return EndedEvent(EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::NETWORK_ERROR,
                        "the caller never acknowledged the 200 OK (no ACK)");
    }
    return EndedEvent(EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::NETWORK_ERROR,
                      absl::StrCat("the SIP session with the caller failed: ",
                                   std::strerror(err != 0 ? err : EPROTO)));
  }
  if (msg != nullptr && !msg->req && msg->scode >= 300) {
    const FinalResponseOutcome mapped = MapFinalResponse(msg->scode);
    const std::string status = StatusLine(msg);
    std::string message;
    if (mapped.error_code == voip::v1::CONFIGURATION_ERROR) {
      const SipSettings& s = ctx_->settings;
      if (err == ENOSYS) {
        message = absl::StrCat("the server wants a digest algorithm libre cannot do (only MD5) (",
                               status, ")");
      } else if (s.username.empty() || ctx_->password.empty()) {
        message = absl::StrCat("the server requires authentication (", status,
                               "); set username and password_file");
      } else {
        message = absl::StrCat("the server refused the credentials of '", s.username, "' (",
                               status, ")");
      }
    } else if (mapped.outcome == EndOutcome::kBusy) {
      message = absl::StrCat("the far end is busy (", status, ")");
    } else if (mapped.outcome == EndOutcome::kUnavailable) {
      message = absl::StrCat("the far end is unavailable (", status, ")");
    } else {
      message = absl::StrCat("the far end rejected the call (", status, ")");
    }
    ProviderEvent ended =
        EndedEvent(mapped.outcome, mapped.source, mapped.error_code, std::move(message));
    ended.cause = CauseOf(msg);
    return ended;
  }
  if (msg != nullptr && !msg->req && !media_failure_.empty()) {
    ProviderEvent ended = EndedEvent(
        EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::PROVIDER_ERROR,
        absl::StrCat("the far end answered with unusable SDP (", media_failure_, "); BYE sent"));
    ended.cause = CauseOf(msg);
    return ended;
  }
  if (err != 0) {
    return EndedEvent(EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::NETWORK_ERROR,
                      err == ETIMEDOUT
                          ? absl::StrCat("no final response via ", ctx_->route)
                          : absl::StrCat("transport error via ", ctx_->route, ": ",
                                         std::strerror(err)));
  }
  return EndedEvent(EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::PROVIDER_ERROR,
                    "the SIP session closed without a final response");
}

void SipCall::OnNoResponse(void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  if (self->got_response_ || self->ended_) return;
  self->Terminate(self->EndedEvent(
      EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM, voip::v1::NETWORK_ERROR,
      absl::StrCat("no response via ", self->ctx_->route, " within ",
                   absl::FormatDuration(self->ctx_->settings.response_timeout))));
}

void SipCall::OnRingTimeout(void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  if (self->established_ || self->ended_) return;
  if (self->inbound_) {
    if (self->answered_) return;
    self->reject_ = {480, ReasonPhrase(480)};
    ProviderEvent ended = self->EndedEvent(
        EndOutcome::kUnavailable, voip::v1::HANGUP_SOURCE_SYSTEM,
        voip::v1::ERROR_CODE_UNSPECIFIED,
        absl::StrCat("nobody answered within ", absl::FormatDuration(self->ring_timeout_),
                     " (ring timeout); 480 sent"));
    ended.cause.set_sip_code(480);
    ended.cause.set_sip_reason(self->reject_.reason);
    self->Terminate(std::move(ended));
    return;
  }
  if (!self->got_response_) {
    OnNoResponse(arg);
    return;
  }
  self->Terminate(self->EndedEvent(
      EndOutcome::kUnavailable, voip::v1::HANGUP_SOURCE_SYSTEM, voip::v1::ERROR_CODE_UNSPECIFIED,
      absl::StrCat("no answer within ", absl::FormatDuration(self->ring_timeout_),
                   " (ring timeout); CANCEL sent")));
}

void SipCall::End(DoneCallback done) {
  if (!ended_ && inbound_ && !answered_) {
    // Rejects the ringing call. 486 rather than 603 Decline: a forking
    // proxy or PBX may still try other targets (or voicemail).
    reject_ = {486, ReasonPhrase(486)};
    ProviderEvent ended =
        EndedEvent(EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_LOCAL,
                   voip::v1::ERROR_CODE_UNSPECIFIED, "rejected by request (486 Busy Here sent)");
    ended.cause.set_sip_code(reject_.code);
    ended.cause.set_sip_reason(reject_.reason);
    Terminate(std::move(ended));
  }
  if (!ended_) {
    Terminate(EndedEvent(EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_LOCAL,
                         voip::v1::ERROR_CODE_UNSPECIFIED,
                         established_ ? "hung up by request (BYE sent)"
                                      : "cancelled by request (CANCEL sent)"));
  }
  std::move(done)(absl::OkStatus());
}

void SipCall::Shutdown() {
  if (inbound_ && !answered_) reject_ = {503, ReasonPhrase(503)};
  Terminate(EndedEvent(EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_SYSTEM,
                       voip::v1::DAEMON_SHUTDOWN,
                       absl::StrCat("the sip system stopped; ", HangupWord(), " sent")));
}

void SipCall::Mute(bool mute, DoneCallback done) {
  if (ended_ || !established_) {
    std::move(done)(InvalidStateError(session_id_, "session_id: the call is not connected"));
    return;
  }
  if (rtp_ == nullptr) {
    std::move(done)(UnsupportedOperationError(ctx_->system, "Mute (media: none)"));
    return;
  }
  // Takes effect with the next 20 ms frame; no renegotiation.
  rtp_->SetMuted(mute);
  Emit(mute ? ProviderEventKind::kMuted : ProviderEventKind::kUnmuted);
  std::move(done)(absl::OkStatus());
}

void SipCall::OnPeerBye(const struct sip_msg* msg) {
  peer_bye_ = true;
  peer_bye_q850_ = ReasonQ850(msg);
}

void SipCall::Emit(ProviderEventKind kind) {
  ProviderEvent event;
  event.session_id = session_id_;
  event.kind = kind;
  if (kind == ProviderEventKind::kRinging || kind == ProviderEventKind::kAnswered) {
    event.provider_call_id = call_id_;
  }
  ctx_->events->OnProviderEvent(std::move(event));
}

ProviderEvent SipCall::EndedEvent(EndOutcome outcome, voip::v1::HangupSource source,
                                  voip::v1::ErrorCode code, std::string message) const {
  ProviderEvent event;
  event.session_id = session_id_;
  event.kind = ProviderEventKind::kEnded;
  event.outcome = outcome;
  event.source = source;
  event.error_code = code;
  event.message = std::move(message);
  return event;
}

std::string SipCall::MediaStats() const {
  if (rtp_ == nullptr) return "media none";
  return absl::StrCat("media ", CodecName(rtp_->codec()), " rx=", rtp_->rx_packets(),
                      " tx=", rtp_->tx_packets(), " packets");
}

void SipCall::LogEnd(const ProviderEvent& ended) const {
  SipLogInfo(*ctx_, absl::StrCat("call ", call_id_, " ended: ", ended.message, "; ", MediaStats()),
             session_id_);
}

void SipCall::Terminate(ProviderEvent ended) {
  if (ended_) return;
  ended_ = true;
  tmr_cancel(&timers_->no_response);
  tmr_cancel(&timers_->ring);
  tmr_cancel(&timers_->answer);
  LogEnd(ended);
  if (rtp_ != nullptr) {
    ctx_->clock->Remove(rtp_.get());
    rtp_.reset();
  }
  // An inbound call still ringing gets its final response here (libre
  // would send 486 otherwise); not when libre closed it (CANCEL: 487).
  if (inbound_ && !answered_ && sess_ != nullptr && reject_.code != 0) {
    (void)sipsess_reject(sess_, reject_.code, reject_.reason.c_str(), nullptr);
  }
  // Releasing the session sends CANCEL (before a final response) or BYE
  // (after the answer) unless libre already closed it; libre then finishes
  // that transaction on its own.
  sess_ = static_cast<struct sipsess*>(mem_deref(sess_));
  ctx_->events->OnProviderEvent(std::move(ended));
  // A pending hold/resume can no longer be confirmed.
  if (reinvite_done_) {
    FinishReinvite(InvalidStateError(session_id_,
                                     "session_id: the call ended before the far end answered "
                                     "the re-INVITE"));
  } else {
    tmr_cancel(&timers_->reinvite);
    reinvite_ = static_cast<struct sip_request*>(mem_deref(reinvite_));
  }
  ctx_->on_call_finished(this);
}

}  // namespace voipd::adapters::sip
