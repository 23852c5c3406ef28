// The hold/resume half of SipCall: the re-INVITE and its ACK. libre's
// sipsess_modify() would send the re-INVITE too, but it never tells its
// caller that the far end rejected it, and "on hold only once confirmed"
// needs exactly that; so the re-INVITE is sent here on the session's dialog
// (still libre's transaction layer and digest code).
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "adapters/sip/sdp_negotiator.h"
#include "adapters/sip/sip_call.h"
#include "adapters/sip/sip_credentials.h"
#include "adapters/sip/sip_log.h"
#include "adapters/sip/sip_message_util.h"

#include "adapters/sip/sip_call_timers.h"  // last: pulls in libre's macro-heavy headers

namespace voipd::adapters::sip {
namespace {

constexpr char kSdpType[] = "application/sdp";

uint64_t Ms(absl::Duration d) { return static_cast<uint64_t>(absl::ToInt64Milliseconds(d)); }

// Contact for our re-INVITEs (sipsess adds its own to the INVITE).
int AddContact(enum sip_transp tp, const struct sa* src, const struct sa*, struct mbuf* mb,
               void* arg) {
  const auto* call = static_cast<const SipCall*>(arg);
  struct sip_contact contact;
  sip_contact_set(&contact, call->contact_user().c_str(), src, tp);
  return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}

}  // namespace

void SipCall::Hold(bool hold, DoneCallback done) {
  if (ended_ || !established_) {
    std::move(done)(InvalidStateError(session_id_, "session_id: the call is not connected"));
    return;
  }
  if (rtp_ == nullptr) {
    std::move(done)(UnsupportedOperationError(ctx_->system, "Hold (media: none)"));
    return;
  }
  if (reinvite_done_) {
    std::move(done)(
        InvalidStateError(session_id_, "session_id: a hold or resume is already in progress"));
    return;
  }
  if (reinvite_auth_ == nullptr) {
    if (int err = sip_auth_alloc(&reinvite_auth_, &ProvideCredentials, ctx_, false); err != 0) {
      std::move(done)(ProviderError(ctx_->system, "out of memory"));
      return;
    }
  }
  absl::StatusOr<struct mbuf*> offer = sdp_->Offer(hold);
  if (!offer.ok()) {
    sdp_->RevertDirection();
    std::move(done)(ProviderError(ctx_->system, std::string(offer.status().message())));
    return;
  }
  reinvite_body_ = *offer;
  reinvite_hold_ = hold;
  reinvite_auth_retried_ = false;
  reinvite_done_ = std::move(done);
  if (absl::Status s = SendReinvite(); !s.ok()) {
    FinishReinvite(s);
    return;
  }
  tmr_start(&timers_->reinvite, Ms(ctx_->settings.response_timeout), &SipCall::OnReinviteTimeout,
            this);
}

absl::Status SipCall::SendReinvite() {
  struct mbuf* body = reinvite_body_;
  const int err = sip_drequestf(
      &reinvite_, ctx_->stack, true, "INVITE", sipsess_dialog(sess_), 0, reinvite_auth_,
      &AddContact, &SipCall::OnReinviteResponse, this,
      "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%b", kSdpType, mbuf_get_left(body),
      mbuf_buf(body), mbuf_get_left(body));
  if (err != 0) {
    return NetworkError(ctx_->system,
                        absl::StrCat("cannot send the re-INVITE: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

void SipCall::SendAck(uint32_t cseq) {
  last_reinvite_ack_cseq_ = cseq;
  (void)sip_drequestf(nullptr, ctx_->stack, false, "ACK", sipsess_dialog(sess_), cseq,
                      reinvite_auth_, nullptr, nullptr, nullptr, "Content-Length: 0\r\n\r\n");
}

bool SipCall::OnRetransmitted2xx(const struct sip_msg* msg) {
  if (ended_ || last_reinvite_ack_cseq_ == 0 || msg->cseq.num != last_reinvite_ack_cseq_) {
    return false;
  }
  SendAck(msg->cseq.num);
  return true;
}

void SipCall::FinishReinvite(absl::Status status) {
  tmr_cancel(&timers_->reinvite);
  reinvite_ = static_cast<struct sip_request*>(mem_deref(reinvite_));
  reinvite_body_ = static_cast<struct mbuf*>(mem_deref(reinvite_body_));
  // Rejected: the session description stays what was last agreed.
  if (!status.ok()) sdp_->RevertDirection();
  if (reinvite_done_) {
    DoneCallback done = std::move(reinvite_done_);
    reinvite_done_ = nullptr;
    std::move(done)(std::move(status));
  }
}

void SipCall::OnReinviteTimeout(void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  const std::string why = absl::StrCat("no final answer to the re-INVITE within ",
                                       absl::FormatDuration(self->ctx_->settings.response_timeout));
  self->FinishReinvite(NetworkError(self->ctx_->system, why));
  // RFC 3261 14.1: a re-INVITE that times out ends the dialog.
  self->Terminate(self->EndedEvent(EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM,
                                   voip::v1::NETWORK_ERROR, absl::StrCat(why, "; BYE sent")));
}

void SipCall::OnReinviteResponse(int err, const struct sip_msg* msg, void* arg) {
  auto* self = static_cast<SipCall*>(arg);
  if (err == 0 && msg != nullptr && msg->scode < 200) return;
  // libre has cleared self->reinvite_ (it was given its address).
  if (err != 0 || msg == nullptr) {
    const std::string why =
        absl::StrCat("the re-INVITE failed: ", std::strerror(err != 0 ? err : EPROTO));
    self->FinishReinvite(NetworkError(self->ctx_->system, why));
    self->Terminate(self->EndedEvent(EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_SYSTEM,
                                     voip::v1::NETWORK_ERROR, absl::StrCat(why, "; BYE sent")));
    return;
  }
  if (msg->scode < 300) {
    (void)sip_dialog_update(sipsess_dialog(self->sess_), msg);
    self->SendAck(msg->cseq.num);
    if (HasSdp(msg)) {
      if (absl::Status s = self->sdp_->ApplyAnswer(msg->mb, self->rtp_.get()); !s.ok()) {
        SipLogWarn(*self->ctx_,
                   absl::StrCat("call ", self->call_id_, ": keeping the previous media: ",
                                s.message()),
                   self->session_id_);
      }
    }
    // The far end accepted: only now is the call held (or resumed).
    self->Emit(self->reinvite_hold_ ? ProviderEventKind::kHeld : ProviderEventKind::kResumed);
    self->FinishReinvite(absl::OkStatus());
    return;
  }
  if ((msg->scode == 401 || msg->scode == 407) && !self->reinvite_auth_retried_) {
    self->reinvite_auth_retried_ = true;
    if (sip_auth_authenticate(self->reinvite_auth_, msg) == 0 && self->SendReinvite().ok()) return;
  }
  const std::string status = StatusLine(msg);
  const voip::v1::ProviderCause cause = CauseOf(msg);
  self->FinishReinvite(ProviderError(
      self->ctx_->system,
      absl::StrCat("the far end rejected the ", self->reinvite_hold_ ? "hold" : "resume",
                   " re-INVITE (", status, "); the call is unchanged"),
      cause));
  if (msg->scode == 408 || msg->scode == 481) {
    // RFC 3261 14.1: the dialog is gone at the far end.
    ProviderEvent ended =
        self->EndedEvent(EndOutcome::kFailed, voip::v1::HANGUP_SOURCE_REMOTE,
                         voip::v1::PROVIDER_ERROR,
                         absl::StrCat("the far end lost the dialog (", status, ")"));
    ended.cause = cause;
    self->Terminate(std::move(ended));
  }
}

}  // namespace voipd::adapters::sip
