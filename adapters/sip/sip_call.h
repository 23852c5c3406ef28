// One call: a libre sipsess dialog, its SDP state, its RTP endpoint
// and its timers (no response, ring timeout, re-INVITE). Turns libre's
// callbacks into ProviderEvents (sip_status_mapping.h). Hold and resume live
// in sip_call_reinvite.cc: the call runs that re-INVITE itself, because
// sipsess_modify() does not report a rejected re-INVITE to its caller.
// Outbound calls start with Start(); inbound ones (an INVITE to voipd) with
// PrepareInbound() and AcceptInbound(). Loop thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/api/adapter.h"
#include "adapters/api/provider_event.h"
#include "adapters/sip/sip_context.h"
#include "adapters/sip/sip_inbound.h"

struct mbuf;
struct sip_auth;
struct sip_msg;
struct sip_request;
struct sipsess;

namespace voipd::adapters::sip {

class RtpEndpoint;
class SdpNegotiator;

class SipCall {
 public:
  SipCall(SipContext* context, std::string session_id, absl::Duration ring_timeout);
  ~SipCall();
  SipCall(const SipCall&) = delete;
  SipCall& operator=(const SipCall&) = delete;

  // Sends the INVITE and returns its Call-ID. An error means no call exists
  // (nothing was sent, no event follows).
  absl::StatusOr<std::string> Start(const std::string& request_uri, const std::string& from_uri);

  // Inbound, step 1 (before the core knows the call): checks the INVITE's
  // SDP offer (if any) against our codecs, opens the RTP endpoint and
  // prepares the answer. An error fills `reject` (488, 503, ...); no
  // session exists and no event follows.
  absl::Status PrepareInbound(const struct sip_msg* invite, SipReply* reject);
  // Step 2, once the core created the session (set_session_id): 180
  // Ringing, the ring timeout, and the answer after `answer_after`
  // (nullopt = never by itself). An error reports kEnded (the core
  // already announced the call) and fills `reject` for the INVITE.
  absl::Status AcceptInbound(const struct sip_msg* invite,
                             std::optional<absl::Duration> answer_after, SipReply* reject);
  void set_session_id(std::string id) { session_id_ = std::move(id); }
  bool inbound() const { return inbound_; }

  // CANCEL before the answer, BYE after (inbound: 486 Busy Here before the
  // answer); reports kEnded (local).
  void End(DoneCallback done);
  void Hold(bool hold, DoneCallback done);
  void Mute(bool mute, DoneCallback done);
  // The adapter stops: pending operations fail, the call is hung up and
  // reported ended.
  void Shutdown();

  // From the stack's listeners, before sipsess sees the message.
  void OnPeerBye(const struct sip_msg* msg);
  // A retransmitted 2xx to our last re-INVITE: ACKs it again. False when the
  // response is not ours.
  bool OnRetransmitted2xx(const struct sip_msg* msg);

  const std::string& session_id() const { return session_id_; }
  const std::string& call_id() const { return call_id_; }
  const std::string& contact_user() const { return ctx_->contact_user; }

 private:
  // libre handlers (arg = this).
  static int OnOffer(struct mbuf** descp, const struct sip_msg* msg, void* arg);
  static int OnAnswer(const struct sip_msg* msg, void* arg);
  static void OnProgress(const struct sip_msg* msg, void* arg);
  static void OnEstablished(const struct sip_msg* msg, void* arg);
  static void OnClose(int err, const struct sip_msg* msg, void* arg);
  static void OnNoResponse(void* arg);
  static void OnRingTimeout(void* arg);
  static void OnReinviteTimeout(void* arg);
  static void OnReinviteResponse(int err, const struct sip_msg* msg, void* arg);
  static void OnAnswerTimer(void* arg);

  // Inbound: sends the 200 OK with the prepared SDP; the ACK establishes.
  void Answer();
  // What the hang-up sends: "BYE", "CANCEL" or the inbound rejection.
  std::string HangupWord() const;

  void GotResponse();
  absl::Status SendReinvite();
  void SendAck(uint32_t cseq);
  void FinishReinvite(absl::Status status);
  // Ends the call with `ended`: releases the sipsess (which sends CANCEL or
  // BYE unless libre already closed it), fails a pending re-INVITE, reports
  // kEnded and hands the call back to the stack. Idempotent.
  void Terminate(ProviderEvent ended);
  ProviderEvent EndedEvent(EndOutcome outcome, voip::v1::HangupSource source,
                           voip::v1::ErrorCode code, std::string message) const;
  ProviderEvent ClosedEvent(int err, const struct sip_msg* msg) const;
  void Emit(ProviderEventKind kind);
  void LogEnd(const ProviderEvent& ended) const;
  std::string MediaStats() const;

  SipContext* const ctx_;
  std::string session_id_;
  const absl::Duration ring_timeout_;
  std::string call_id_;

  struct ::sipsess* sess_ = nullptr;
  struct ::sip_auth* reinvite_auth_ = nullptr;
  struct ::sip_request* reinvite_ = nullptr;
  struct ::mbuf* reinvite_body_ = nullptr;
  std::unique_ptr<SdpNegotiator> sdp_;
  std::unique_ptr<RtpEndpoint> rtp_;
  struct Timers;
  std::unique_ptr<Timers> timers_;

  // Inbound: the INVITE is ours to answer.
  bool inbound_ = false;
  bool answered_ = false;  // inbound: 200 OK sent
  struct ::mbuf* answer_sdp_ = nullptr;  // inbound: the SDP for the 200 OK
  SipReply reject_;  // inbound: the final response Terminate sends while ringing

  bool got_response_ = false;
  bool rang_ = false;
  bool established_ = false;
  bool ended_ = false;
  bool peer_bye_ = false;
  int peer_bye_q850_ = 0;
  std::string media_failure_;  // why the far end's SDP was unusable
  // The re-INVITE in flight (hold or resume), with the caller waiting.
  bool reinvite_hold_ = false;
  bool reinvite_auth_retried_ = false;
  DoneCallback reinvite_done_;
  uint32_t last_reinvite_ack_cseq_ = 0;
};

}  // namespace voipd::adapters::sip
