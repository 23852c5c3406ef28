// The `webrtc` adapter: browser agents (clients/web/) register an identity
// over a WebSocket and call each other; voipd relays offer/answer/ICE
// between the two pages and never sees media. States come from what the
// pages report (docs/adapters/webrtc.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "adapters/api/adapter.h"
#include "adapters/api/adapter_context.h"
#include "adapters/webrtc/signaling_message.h"
#include "adapters/webrtc/web_server.h"
#include "adapters/webrtc/webrtc_call.h"
#include "voip/config/v1/webrtc.pb.h"

namespace voipd::adapters::webrtc {

class WebRtcAdapter final : public Adapter, public std::enable_shared_from_this<WebRtcAdapter> {
 public:
  // Reads the TLS files, checks the listener policy, binds `listen` and
  // subscribes to the system's events.
  static absl::StatusOr<std::shared_ptr<WebRtcAdapter>> Create(
      const voip::config::v1::WebRtcAdapterConfig& config, const AdapterContext& context);
  ~WebRtcAdapter() override;

  Capabilities capabilities() const override;
  Health health() const override;
  void StartCall(const DialRequest& request, DialCallback done) override;
  void EndCall(const CallRef& call, DoneCallback done) override;
  void Hold(const CallRef& call, bool hold, DoneCallback done) override;
  void Mute(const CallRef& call, bool mute, DoneCallback done) override;
  void Shutdown() override;

  // "127.0.0.1:8089": where the page is served.
  std::string local_address() const;

 private:
  struct Page {
    PageConnectionPtr conn;
    bool registered = false;
    std::string identity;
    ApiCaller caller;
  };
  struct Call {
    explicit Call(WebRtcCall s) : state(std::move(s)) {}
    WebRtcCall state;
    std::shared_ptr<void> timer;  // boost::asio::steady_timer, kept opaque here
    uint64_t timer_generation = 0;
  };
  struct PendingOp {
    std::string session_id;
    bool hold_not_mute = true;
    bool on = true;
    PageId page = 0;
    DoneCallback done;
    std::shared_ptr<void> timer;
  };
  // What a locked decision produced, delivered in order after mu_ is
  // released: provider events, then the operations' callbacks.
  struct Outbox {
    std::vector<ProviderEvent> events;
    std::vector<std::pair<DoneCallback, absl::Status>> dones;
  };

  WebRtcAdapter(const voip::config::v1::WebRtcAdapterConfig& config,
                const AdapterContext& context);

  // Web server callbacks (io threads).
  void OnPageOpen(PageConnectionPtr conn);
  void OnPageMessage(PageId id, std::string text);
  void OnPageClosed(PageId id);
  // The core's events for this system: the pages' call-status widgets.
  void OnCoreEvent(const voip::v1::CallEvent& event);

  void HandleRegister(PageId id, const SignalingMessage& msg);
  // Whether `caller` may hold a page registered as `identity`: calls:read,
  // and the identity's token if identity_tokens binds it. `why` prefixes the
  // refusal's message.
  absl::StatusOr<ApiCaller> AdmitCaller(absl::StatusOr<ApiCaller> caller,
                                        const std::string& identity, absl::string_view why) const;
  // After a reload of the token table: each registered page takes its
  // token's new scopes and labels, or is told why not and closed (which
  // ends its calls, as a closed page does).
  void RecheckPages();
  void HandleDial(PageId id, const SignalingMessage& msg);
  void HandleCallMessage(PageId id, const SignalingMessage& msg);
  absl::Status HandleCallMessageLocked(PageId id, const Page& page, const SignalingMessage& msg,
                                       Outbox& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReplyError(PageId id, const absl::Status& status, const char* in_reply_to,
                  const SignalingMessage* msg);

  // From the answer until both pages must report connected.
  absl::Duration ConnectTimeout() const;
  // The identity a StartCall target rings ("" if none).
  std::string CalleeFor(const std::string& target) const;
  bool PageBusyLocked(PageId id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendLocked(PageId id, const nlohmann::json& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EmitLocked(Outbox& out, const std::string& session_id, ProviderEventKind kind);
  void EndLocked(const std::string& session_id, EndOutcome outcome, voip::v1::HangupSource source,
                 const std::string& reason, const std::string& message, Outbox& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // (Re)arms the call's timer: ring timeout while alerting, connect timeout
  // after the answer.
  void ArmTimerLocked(Call& call, absl::Duration after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnCallTimer(const std::string& session_id, uint64_t generation);
  void StartToggle(const CallRef& ref, bool hold_not_mute, bool on, DoneCallback done);
  void OnToggleTimeout(uint64_t op);
  // The pending gRPC Hold/Mute `op` sent to `page` for this call, if it is
  // still waiting (not timed out, not answered).
  PendingOp* PendingOpLocked(std::optional<uint64_t> op, PageId page, const std::string& session_id,
                             bool hold_not_mute) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CompleteOpsLocked(PageId page, const std::string& session_id, bool hold_not_mute, bool on,
                         std::optional<uint64_t> op, const std::string& error, Outbox& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Releases mu_ (held on entry) and delivers `out`, keeping event order.
  void UnlockAndFlush(Outbox& out) ABSL_UNLOCK_FUNCTION(mu_);

  const voip::config::v1::WebRtcAdapterConfig config_;
  const AdapterContext context_;
  std::shared_ptr<WebServer> server_;
  std::unique_ptr<CallWatch> watch_;
  std::unique_ptr<CallWatch> token_watch_;

  mutable absl::Mutex mu_;
  // Taken before mu_ is released, so that events leave in decision order.
  absl::Mutex emit_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::map<PageId, Page> pages_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Call> calls_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, PendingOp> ops_ ABSL_GUARDED_BY(mu_);
  uint64_t next_op_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_call_ ABSL_GUARDED_BY(mu_) = 1;
  // Counts RecheckPages runs, so a registration that raced one re-checks.
  uint64_t token_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace voipd::adapters::webrtc
