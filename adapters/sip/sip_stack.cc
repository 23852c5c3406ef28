#include "adapters/sip/sip_stack.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "adapters/sip/sip_inbound.h"
#include "adapters/sip/sip_log.h"
#include "adapters/sip/sip_message_util.h"
#include "adapters/sip/udp_buffers.h"
#include "adapters/sip/uri_template.h"

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)

namespace voipd::adapters::sip {
namespace {

// Hash sizes (buckets) for transactions and dialogs: sized for thousands of
// simultaneous calls per system.
constexpr uint32_t kTransactionBuckets = 4096;
constexpr uint32_t kConnectionBuckets = 256;
constexpr int kSessionBuckets = 4096;
// Room for a burst of ~1000 INVITEs' responses (kernel-capped).
constexpr int kSipSocketBuffer = 4 << 20;

enum sip_transp SipTransportOf(SipTransport transport) {
  switch (transport) {
    case SipTransport::kUdp: return SIP_TRANSP_UDP;
    case SipTransport::kTcp: return SIP_TRANSP_TCP;
    case SipTransport::kTls: return SIP_TRANSP_TLS;
  }
  return SIP_TRANSP_UDP;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

struct SipStack::Reaper {
  struct tmr tmr;
};

SipStack::SipStack(Options options)
    : options_(std::move(options)), reaper_(std::make_unique<Reaper>()) {
  tmr_init(&reaper_->tmr);
}

absl::StatusOr<std::unique_ptr<SipStack>> SipStack::Create(Options options) {
  std::unique_ptr<SipStack> stack(new SipStack(std::move(options)));
  if (absl::Status s = stack->Init(); !s.ok()) return s;
  return stack;
}

absl::Status SipStack::Init() {
  const SipSettings& s = options_.settings;
  ctx_.system = options_.system;
  ctx_.settings = s;
  ctx_.events = options_.events;
  ctx_.logger = options_.logger;
  ctx_.route = s.OutboundRoute();
  ctx_.contact_user = s.username.empty() ? "voipd" : s.username;
  ctx_.password = options_.password;
  ctx_.prompt = options_.prompt;
  ctx_.clock = &clock_;
  ctx_.on_call_finished = [this](SipCall* call) { OnCallFinished(call); };

  struct sa laddr;
  if (!s.local_address.empty()) {
    ctx_.local_ip = s.local_address;
  } else {
    if (int err = net_default_source_addr_get(AF_INET, &laddr); err != 0) {
      return ConfigurationError(
          absl::StrCat("local_address: no default address to use (", std::strerror(err),
                       "); set local_address"),
          "local_address");
    }
    char text[64];
    re_snprintf(text, sizeof(text), "%j", &laddr);
    ctx_.local_ip = text;
  }
  if (int err = sa_set_str(&laddr, ctx_.local_ip.c_str(), s.local_port); err != 0) {
    return ConfigurationError(absl::StrCat("local_address: '", ctx_.local_ip, "' is unusable"),
                              "local_address");
  }

  // Name servers from /etc/resolv.conf, for servers given by name. Without
  // any, IP literals still work.
  struct sa servers[8];
  uint32_t server_count = 8;
  char domain[128] = "";
  if (dns_srv_get(domain, sizeof(domain), servers, &server_count) != 0) server_count = 0;
  if (dnsc_alloc(&dns_, nullptr, servers, server_count) != 0) dns_ = nullptr;

  int err = sip_alloc(&ctx_.stack, dns_, kTransactionBuckets, kTransactionBuckets,
                      kConnectionBuckets, "voipd", nullptr, nullptr);
  if (err != 0) {
    return ProviderError(options_.system,
                         absl::StrCat("cannot allocate the SIP stack: ", std::strerror(err)));
  }
  switch (s.transport) {
    case SipTransport::kUdp: {
      // Only the loop thread opens sockets, so the new UDP socket(s) are
      // the transport's (see udp_buffers.h).
      const std::set<int> before = OpenFds();
      err = sip_transp_add(ctx_.stack, SIP_TRANSP_UDP, &laddr);
      if (err == 0) EnlargeNewUdpBuffers(before, kSipSocketBuffer);
      break;
    }
    case SipTransport::kTcp:
      err = sip_transp_add(ctx_.stack, SIP_TRANSP_TCP, &laddr);
      break;
    case SipTransport::kTls: {
      err = tls_alloc(&tls_, TLS_METHOD_SSLV23, nullptr, nullptr);
      if (err == 0 && tls_add_ca(tls_, s.tls_ca_file.c_str()) != 0) {
        return ConfigurationError(
            absl::StrCat("tls_ca_file: cannot load CA certificates from '", s.tls_ca_file, "'"),
            "tls_ca_file");
      }
      if (err == 0) {
        // libre's TLS context trusts any peer by default; make OpenSSL
        // verify the chain against tls_ca_file and the name against
        // tls_server_name, failing the handshake otherwise.
        SSL_CTX* ssl = tls_openssl_context(tls_);
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ssl);
        const int ok = IsIpLiteral(s.tls_server_name)
                           ? X509_VERIFY_PARAM_set1_ip_asc(param, s.tls_server_name.c_str())
                           : X509_VERIFY_PARAM_set1_host(param, s.tls_server_name.c_str(), 0);
        if (ok != 1) {
          return ConfigurationError(
              absl::StrCat("tls_server_name: '", s.tls_server_name, "' is unusable"),
              "tls_server_name");
        }
        err = sip_transp_add(ctx_.stack, SIP_TRANSP_TLS, &laddr, tls_);
      }
      break;
    }
  }
  if (err != 0) {
    return ConfigurationError(
        absl::StrCat("local_port: cannot listen on ", ctx_.local_ip, ":", s.local_port, "/",
                     TransportName(s.transport), ": ", std::strerror(err)),
        "local_port");
  }
  // Registered before sipsess's own listeners, so these see each message
  // first (sip_listen appends).
  err = sip_listen(&request_listener_, ctx_.stack, true, &SipStack::OnRequest, this);
  if (err == 0) {
    err = sip_listen(&response_listener_, ctx_.stack, false, &SipStack::OnResponse, this);
  }
  if (err == 0) {
    err = sipsess_listen(&ctx_.sessions, ctx_.stack, kSessionBuckets, &SipStack::OnIncomingInvite,
                         this);
  }
  if (err != 0) {
    return ProviderError(options_.system,
                         absl::StrCat("cannot start the SIP listeners: ", std::strerror(err)));
  }
  if (s.register_) {
    absl::StatusOr<std::unique_ptr<SipRegistration>> reg =
        SipRegistration::Start(&ctx_, options_.health.get());
    if (!reg.ok()) return NetworkError(options_.system, std::string(reg.status().message()));
    registration_ = std::move(*reg);
  }
  struct sa bound;
  std::string listening = ctx_.local_ip;
  if (sip_transp_laddr(ctx_.stack, &bound, SipTransportOf(s.transport), nullptr) == 0) {
    char text[80];
    re_snprintf(text, sizeof(text), "%J", &bound);
    listening = text;
  }
  SipLogInfo(ctx_,
             absl::StrCat("listening on ", listening, "/", TransportName(s.transport),
                          "; requests go to ", ctx_.route,
                          s.media == MediaMode::kRtp
                              ? absl::StrCat("; RTP ports ", s.rtp_min, "-", s.rtp_max)
                              : std::string("; media none")));
  return absl::OkStatus();
}

SipStack::~SipStack() {
  std::vector<SipCall*> active;
  for (auto& [id, call] : calls_) active.push_back(call.get());
  for (SipCall* call : active) call->Shutdown();
  calls_.clear();
  finished_.clear();
  tmr_cancel(&reaper_->tmr);
  registration_.reset();  // un-REGISTER
  ctx_.sessions = static_cast<struct sipsess_sock*>(mem_deref(ctx_.sessions));
  request_listener_ = static_cast<struct sip_lsnr*>(mem_deref(request_listener_));
  response_listener_ = static_cast<struct sip_lsnr*>(mem_deref(response_listener_));
  // Aborts the transactions still running (BYE/CANCEL/un-REGISTER were
  // sent once already), which frees the sessions waiting on them.
  sip_close(ctx_.stack, true);
  ctx_.stack = static_cast<struct ::sip*>(mem_deref(ctx_.stack));
  tls_ = static_cast<struct tls*>(mem_deref(tls_));
  dns_ = static_cast<struct dnsc*>(mem_deref(dns_));
}

SipCall* SipStack::Find(const std::string& session_id) const {
  auto it = calls_.find(session_id);
  return it == calls_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::string> SipStack::FromUri(const std::string& requested) const {
  const SipSettings& s = ctx_.settings;
  if (requested.empty()) return s.from_uri;
  if (absl::StartsWithIgnoreCase(requested, "sip:") ||
      absl::StartsWithIgnoreCase(requested, "sips:")) {
    for (unsigned char c : requested) {
      if (c <= 0x20 || c == '<' || c == '>' || c == '"' || c == 0x7f) {
        return InvalidArgumentError("from", "from: not a usable SIP URI");
      }
    }
    return requested;
  }
  for (unsigned char c : requested) {
    if (!absl::ascii_isalnum(c) && c != '+' && c != '*' && c != '.' && c != '-' && c != '_') {
      return InvalidArgumentError(
          "from", "from: give a SIP URI, a number or a user name (letters, digits, + * . - _)");
    }
  }
  return absl::StrCat("sip:", requested, "@", s.server.HostForUri());
}

void SipStack::StartCall(const DialRequest& request, DialCallback done) {
  const SipSettings& s = ctx_.settings;
  if (calls_.size() >= s.max_calls) {
    std::move(done)(MakeVoipError(voip::v1::RATE_LIMITED,
                                  absl::StrCat("system '", options_.system, "' already has ",
                                               calls_.size(), " calls (max_calls)")));
    return;
  }
  absl::StatusOr<std::string> uri =
      ExpandUriTemplate(s.uri_template, request.target_kind, request.target);
  if (!uri.ok()) {
    std::move(done)(InvalidNumberError("to.number", std::string(uri.status().message())));
    return;
  }
  absl::StatusOr<std::string> from = FromUri(request.from);
  if (!from.ok()) {
    std::move(done)(from.status());
    return;
  }
  const absl::Duration ring =
      request.ring_timeout > absl::ZeroDuration() ? request.ring_timeout : s.ring_timeout;
  auto call = std::make_unique<SipCall>(&ctx_, request.session_id, ring);
  absl::StatusOr<std::string> call_id = call->Start(*uri, *from);
  if (!call_id.ok()) {
    std::move(done)(call_id.status());
    return;
  }
  SipLogInfo(ctx_, absl::StrCat("call ", *call_id, ": INVITE ", *uri, " via ", ctx_.route),
             request.session_id);
  by_call_id_[*call_id] = call.get();
  calls_[request.session_id] = std::move(call);
  DialResult result;
  result.provider_call_id = *call_id;
  result.from = *from;
  std::move(done)(std::move(result));
}

void SipStack::EndCall(const CallRef& ref, DoneCallback done) {
  SipCall* call = Find(ref.session_id);
  if (call == nullptr) {
    std::move(done)(absl::OkStatus());  // already ended and reported
    return;
  }
  call->End(std::move(done));
}

void SipStack::Hold(const CallRef& ref, bool hold, DoneCallback done) {
  SipCall* call = Find(ref.session_id);
  if (call == nullptr) {
    std::move(done)(InvalidStateError(ref.session_id, "session_id: the call has ended"));
    return;
  }
  call->Hold(hold, std::move(done));
}

void SipStack::Mute(const CallRef& ref, bool mute, DoneCallback done) {
  SipCall* call = Find(ref.session_id);
  if (call == nullptr) {
    std::move(done)(InvalidStateError(ref.session_id, "session_id: the call has ended"));
    return;
  }
  call->Mute(mute, std::move(done));
}

void SipStack::OnCallFinished(SipCall* call) {
  auto by_id = by_call_id_.find(call->call_id());
  if (by_id != by_call_id_.end() && by_id->second == call) by_call_id_.erase(by_id);
  auto it = calls_.find(call->session_id());
  if (it != calls_.end() && it->second.get() == call) {
    if (call->inbound()) --inbound_calls_;
    finished_.push_back(std::move(it->second));
    calls_.erase(it);
  }
  tmr_start(&reaper_->tmr, 0, &SipStack::OnReap, this);
}

void SipStack::OnReap(void* arg) { static_cast<SipStack*>(arg)->finished_.clear(); }

bool SipStack::OnRequest(const struct sip_msg* msg, void* arg) {
  auto* self = static_cast<SipStack*>(arg);
  if (pl_strcmp(&msg->met, "BYE") == 0) {
    // Peek only: sipsess answers the BYE, but does not pass the request (and
    // its Reason header) on to us.
    auto it = self->by_call_id_.find(Text(msg->callid));
    if (it != self->by_call_id_.end()) it->second->OnPeerBye(msg);
    return false;
  }
  if (pl_strcmp(&msg->met, "OPTIONS") == 0) {
    // PBXes probe registered contacts with OPTIONS; answer like a phone.
    (void)sip_treplyf(nullptr, nullptr, self->ctx_.stack, msg, false, 200, "OK",
                      "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n"
                      "Content-Length: 0\r\n\r\n");
    return true;
  }
  return false;
}

bool SipStack::OnResponse(const struct sip_msg* msg, void* arg) {
  auto* self = static_cast<SipStack*>(arg);
  if (msg->scode < 200 || msg->scode > 299 || pl_strcmp(&msg->cseq.met, "INVITE") != 0) {
    return false;
  }
  auto it = self->by_call_id_.find(Text(msg->callid));
  return it != self->by_call_id_.end() && it->second->OnRetransmitted2xx(msg);
}

void SipStack::OnIncomingInvite(const struct sip_msg* msg, void* arg) {
  static_cast<SipStack*>(arg)->TakeInbound(msg);
}

void SipStack::RejectInvite(const struct sip_msg* msg, const SipReply& reply,
                            absl::string_view why) {
  (void)sip_treply(nullptr, ctx_.stack, msg, reply.code, reply.reason.c_str());
  // A malformed INVITE may lack either header; say so rather than log blanks.
  const std::string call_id = Text(msg->callid);
  const std::string from = Text(msg->from.auri);
  SipLogInfo(ctx_, absl::StrCat("inbound call ", call_id.empty() ? "(no Call-ID)" : call_id,
                                " from ", from.empty() ? "(no From)" : from, " rejected with ",
                                reply.code, " ", reply.reason, ": ", why));
}

void SipStack::TakeInbound(const struct sip_msg* msg) {
  const SipSettings& s = ctx_.settings;
  const InboundAdmission admission = AdmitInbound(s, calls_.size(), inbound_calls_);
  if (!admission.accept) {
    RejectInvite(msg, admission.reject,
                 s.inbound.enabled ? "too many calls (max_calls / inbound.max_concurrent)"
                                   : "inbound calls are disabled (inbound.enabled)");
    return;
  }
  if (options_.host == nullptr) {
    RejectInvite(msg, {503, ReasonPhrase(503)}, "no core to report the call to");
    return;
  }
  if (sip_msg_hdr(msg, SIP_HDR_CONTACT) == nullptr) {
    RejectInvite(msg, {400, "Missing Contact"}, "the INVITE has no Contact header");
    return;
  }
  const std::string call_id = Text(msg->callid);
  if (by_call_id_.contains(call_id)) {
    // Retransmissions are absorbed by libre's transaction layer: this is a
    // second INVITE of the same call (a fork or loop).
    RejectInvite(msg, {482, ReasonPhrase(482)}, "a call with this Call-ID is already running");
    return;
  }
  auto call = std::make_unique<SipCall>(&ctx_, std::string(), s.ring_timeout);
  SipReply reject;
  if (absl::Status st = call->PrepareInbound(msg, &reject); !st.ok()) {
    RejectInvite(msg, reject, st.message());
    return;
  }
  const auto parts = [](const struct uri& u) {
    UriParts p;
    p.scheme = absl::string_view(u.scheme.p != nullptr ? u.scheme.p : "", u.scheme.l);
    p.user = absl::string_view(u.user.p != nullptr ? u.user.p : "", u.user.l);
    p.host = absl::string_view(u.host.p != nullptr ? u.host.p : "", u.host.l);
    p.port = u.port;
    p.ipv6 = u.af == AF_INET6;
    return p;
  };
  InboundCall inbound;
  inbound.provider_call_id = call_id;
  inbound.from = UriText(parts(msg->from.uri));
  inbound.to = DialledParty(parts(msg->to.uri), parts(msg->uri));
  const std::string display = SafeDisplayName(Text(msg->from.dname));
  if (!display.empty()) inbound.labels["sip_display_name"] = display;
  absl::StatusOr<voip::v1::CallSession> session =
      options_.host->AcceptInbound(options_.system, std::move(inbound));
  if (!session.ok()) {
    RejectInvite(msg, RejectionForCoreError(GetErrorCode(session.status())),
                 absl::StrCat("voipd refused the call: ", session.status().message()));
    return;
  }
  const std::string session_id = session->session_id();
  call->set_session_id(session_id);
  if (absl::Status st = call->AcceptInbound(msg, s.inbound.answer_after, &reject); !st.ok()) {
    // The call already reported itself ended.
    RejectInvite(msg, reject, st.message());
    return;
  }
  SipLogInfo(ctx_,
             absl::StrCat("call ", call_id, ": inbound from ", session->from(), " to ",
                          session->to_normalized(), ", ringing",
                          s.inbound.answer_after
                              ? absl::StrCat("; answering after ",
                                             absl::FormatDuration(*s.inbound.answer_after))
                              : std::string("; not answered by voipd")),
             session_id);
  by_call_id_[call_id] = call.get();
  calls_[session_id] = std::move(call);
  ++inbound_calls_;
}

}  // namespace voipd::adapters::sip
