// One SIP system's libre objects (struct sip with its transport, the sipsess
// socket, listeners, registration) and its calls. Created, used and
// destroyed on the libre loop thread only; SipAdapter posts into it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "adapters/api/adapter.h"
#include "adapters/api/adapter_context.h"
#include "adapters/sip/health_cell.h"
#include "adapters/sip/media_clock.h"
#include "adapters/sip/sip_call.h"
#include "adapters/sip/sip_context.h"
#include "adapters/sip/sip_registration.h"

struct dnsc;
struct sip_lsnr;
struct sip_msg;
struct tls;

namespace voipd::adapters::sip {

class SipStack {
 public:
  struct Options {
    std::string system;
    SipSettings settings;
    CallEventSink* events = nullptr;
    const Logger* logger = nullptr;
    std::string password;
    std::shared_ptr<const WavPrompt> prompt;
    std::shared_ptr<HealthCell> health;
    // Where inbound calls are reported (AcceptInbound); nullptr: refused.
    CallHost* host = nullptr;
  };
  // Binds the transport and starts registering. Errors name the setting at
  // fault (ConfigurationError), e.g. a local port already in use.
  static absl::StatusOr<std::unique_ptr<SipStack>> Create(Options options);
  // Hangs up every call (reported ended), closes sockets.
  ~SipStack();

  void StartCall(const DialRequest& request, DialCallback done);
  void EndCall(const CallRef& call, DoneCallback done);
  void Hold(const CallRef& call, bool hold, DoneCallback done);
  void Mute(const CallRef& call, bool mute, DoneCallback done);

 private:
  explicit SipStack(Options options);
  absl::Status Init();
  SipCall* Find(const std::string& session_id) const;
  void OnCallFinished(SipCall* call);
  absl::StatusOr<std::string> FromUri(const std::string& requested) const;

  static bool OnRequest(const struct sip_msg* msg, void* arg);
  static bool OnResponse(const struct sip_msg* msg, void* arg);
  static void OnIncomingInvite(const struct sip_msg* msg, void* arg);
  // An INVITE outside any dialog: rejected, or reported to the core and
  // taken (docs/adapters/sip.md, "Inbound calls").
  void TakeInbound(const struct sip_msg* msg);
  void RejectInvite(const struct sip_msg* msg, const SipReply& reply, absl::string_view why);
  static void OnReap(void* arg);

  Options options_;
  SipContext ctx_;
  MediaClock clock_;
  struct ::dnsc* dns_ = nullptr;
  struct ::tls* tls_ = nullptr;
  struct ::sip_lsnr* request_listener_ = nullptr;
  struct ::sip_lsnr* response_listener_ = nullptr;
  std::unique_ptr<SipRegistration> registration_;
  absl::flat_hash_map<std::string, std::unique_ptr<SipCall>> calls_;  // by session id
  absl::flat_hash_map<std::string, SipCall*> by_call_id_;
  size_t inbound_calls_ = 0;  // of calls_
  // Calls that ended inside one of their own libre callbacks: deleted on a
  // later loop turn, never under their own feet.
  std::vector<std::unique_ptr<SipCall>> finished_;
  struct Reaper;
  std::unique_ptr<Reaper> reaper_;
};

}  // namespace voipd::adapters::sip
