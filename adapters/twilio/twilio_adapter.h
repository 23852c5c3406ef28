// The `twilio` adapter: places calls with Twilio's REST API and follows
// them through signed status callbacks (or polling), bridging each call
// through its own conference so that hold and mute work. See
// docs/adapters/twilio.md for the call model.
//
// Concurrency: every piece of call state is touched only on `strand_` (on
// the core's io_context), so one call's events are reported in order and no
// lock is held while a callback or the event sink runs. REST I/O runs on the
// REST client's own thread; its results are posted back to the strand.
#pragma once

#include <utility>  // before asio (toolchain notes)
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "absl/synchronization/mutex.h"
#include "adapters/api/adapter.h"
#include "adapters/api/adapter_context.h"
#include "adapters/twilio/call_progress.h"
#include "adapters/twilio/twilio_config.h"
#include "adapters/twilio/twilio_credentials.h"
#include "adapters/twilio/twilio_rest_client.h"
#include "adapters/twilio/webhook_server.h"

namespace voipd::adapters::twilio {

class TwilioAdapter final : public Adapter, public std::enable_shared_from_this<TwilioAdapter> {
 public:
  // Starts the webhook listener when configured. Unreadable credential
  // files do not fail creation: the system reports itself unhealthy and
  // StartCall answers CONFIGURATION_ERROR until the files are readable.
  static absl::StatusOr<std::shared_ptr<TwilioAdapter>> Create(const TwilioSettings& settings,
                                                               const AdapterContext& context);
  ~TwilioAdapter() override;

  Capabilities capabilities() const override;
  Health health() const override;
  void StartCall(const DialRequest& request, DialCallback done) override;
  void EndCall(const CallRef& call, DoneCallback done) override;
  void Hold(const CallRef& call, bool hold, DoneCallback done) override;
  void Mute(const CallRef& call, bool mute, DoneCallback done) override;
  // GET Calls/{CallSid}: queued/ringing/in-progress -> taken over (and
  // kAnswered if it answered meanwhile), done(true); finished or unknown
  // status -> done(false); a REST error -> that error.
  void Readopt(const voip::v1::CallSession& session,
               absl::AnyInvocable<void(absl::StatusOr<bool>) &&> done) override;
  // Answers from the REST client's HTTP thread; the strand runs on the
  // daemon's io_context, which the watchdog keepalive itself runs on.
  void CheckAlive(absl::AnyInvocable<void() &&> alive) override;
  void Shutdown() override;

  // The webhook listener's bound address ("127.0.0.1:8089"); "" without
  // webhooks. For tests that listen on port 0.
  std::string webhook_address() const;

 private:
  struct Call;
  using CallPtr = std::shared_ptr<Call>;

  TwilioAdapter(const TwilioSettings& settings, const AdapterContext& context);

  // Runs fn(*this) on the strand if the adapter still exists.
  template <typename Fn>
  void OnStrand(Fn fn);
  // A REST callback that continues with fn(*this, result) on the strand.
  template <typename T, typename Fn>
  RestCallback<T> Back(Fn fn);

  // --- twilio_adapter.cc: operations ---
  void DoStartCall(const DialRequest& request, DialCallback done);
  void OnCreated(const std::string& session_id, absl::StatusOr<CallResource> result);
  void DoEndCall(const CallRef& ref, DoneCallback done);
  void HangUp(const CallPtr& call, bool force_completed, DoneCallback done);
  void DoToggle(const CallRef& ref, bool hold_not_mute, bool on, DoneCallback done);
  void WithConference(const CallPtr& call,
                      absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> next);
  void DoReadopt(const voip::v1::CallSession& session,
                 absl::AnyInvocable<void(absl::StatusOr<bool>) &&> done);
  void ShutdownOnStrand();
  uint64_t Park(DoneCallback done);
  void Complete(uint64_t id, absl::Status status);
  std::string ConferenceName(const std::string& session_id) const;
  std::string CallbackUrl(absl::string_view path, const std::string& session_id) const;

  // --- twilio_adapter_status.cc: status from webhooks and polling ---
  void ApplyReport(const CallPtr& call, const StatusReport& report);
  void EndLocally(const CallPtr& call, ProviderEvent event);
  void OnEnded(const CallPtr& call);
  void SchedulePoll(const CallPtr& call, absl::Duration delay);
  void OnPollTimer(const std::string& session_id);
  void OnWebhook(WebhookRequest request, WebhookResponder respond);
  void DispatchWebhook(const std::string& path, const FormParams& query, const FormParams& params);
  void OnStatusCallback(const FormParams& query, const FormParams& params);
  // /voice/incoming: a call arrived at one of the account's numbers.
  WebhookResponse OnIncomingCall(const FormParams& params);
  void RememberInbound(const std::string& call_sid, const std::string& session_id);
  void FetchNow(const CallPtr& call);
  // GET Calls/{Sid} and apply its status; with `repoll`, poll again after
  // it unless the call ended (the poll timer's path).
  void Fetch(const CallPtr& call, std::optional<absl::Duration> repoll);
  void OnConferenceCallback(const FormParams& query, const FormParams& params);
  void OnAgentCallback(const FormParams& query, const FormParams& params);
  void DialAgent(const CallPtr& call);
  void HangUpOrphan(const std::string& call_sid);
  void RememberAbandoned(const std::string& session_id);
  CallPtr Find(const std::string& session_id) const;
  void Emit(ProviderEvent event);

  const TwilioSettings settings_;
  const AdapterContext context_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::shared_ptr<TwilioCredentials> credentials_;
  std::unique_ptr<TwilioRestClient> rest_;
  std::shared_ptr<WebhookServer> webhook_;

  // Strand-confined.
  std::map<std::string, CallPtr> calls_;                // by session id
  std::map<std::string, std::string> sessions_by_sid_;  // CallSid -> session id
  std::map<uint64_t, DoneCallback> pending_;            // EndCall/Hold/Mute in flight
  uint64_t next_pending_id_ = 1;
  // Sessions whose create failed; a callback for one means Twilio made the
  // call after all, and voipd hangs it up (see docs: "Idempotency").
  std::set<std::string> abandoned_;
  std::deque<std::string> abandoned_order_;
  bool shut_down_ = false;
  // Inbound CallSids seen on /voice/incoming (bounded), so that a
  // duplicate delivery gets the same answer and never a second session;
  // "" = the call was refused.
  std::map<std::string, std::string> inbound_seen_;
  std::deque<std::string> inbound_seen_order_;

  // How Twilio requests have been going, for health(). Shared with the
  // REST client's observer so that its thread never holds the adapter.
  struct RequestHealth {
    absl::Mutex mu;
    int transient_failures ABSL_GUARDED_BY(mu) = 0;
    bool auth_refused ABSL_GUARDED_BY(mu) = false;
    std::string last_failure ABSL_GUARDED_BY(mu);
    void Observe(const absl::Status& status, bool transient, bool auth);
  };
  const std::shared_ptr<RequestHealth> request_health_ = std::make_shared<RequestHealth>();

  absl::Mutex log_mu_;
  absl::Time last_rejection_log_ ABSL_GUARDED_BY(log_mu_) = absl::InfinitePast();
};

}  // namespace voipd::adapters::twilio
