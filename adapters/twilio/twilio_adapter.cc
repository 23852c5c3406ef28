#include "adapters/twilio/twilio_adapter.h"

#include <utility>  // before asio (toolchain notes)
#include <algorithm>
#include <cmath>

#include <boost/asio/post.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "adapters/api/voip_error.h"
#include "adapters/twilio/twilio_call.h"
#include "adapters/twilio/twilio_form.h"
#include "adapters/twilio/twilio_log.h"
#include "adapters/twilio/twilio_twiml.h"

namespace voipd::adapters::twilio {
namespace {

// How long Shutdown waits for the strand to answer pending callers.
constexpr absl::Duration kShutdownWait = absl::Seconds(2);
// Unreadable credential files are retried at most this often.
constexpr absl::Duration kCredentialRetry = absl::Seconds(1);

int TimeoutSeconds(absl::Duration ring_timeout) {
  // Twilio takes whole seconds, 1..600.
  const double s = std::ceil(absl::ToDoubleSeconds(ring_timeout));
  return static_cast<int>(std::clamp(s, 1.0, 600.0));
}

}  // namespace

TwilioAdapter::TwilioAdapter(const TwilioSettings& settings, const AdapterContext& context)
    : settings_(settings),
      context_(context),
      strand_(boost::asio::make_strand(*context.io)),
      credentials_(std::make_shared<TwilioCredentials>(context.secrets, settings)) {}

absl::StatusOr<std::shared_ptr<TwilioAdapter>> TwilioAdapter::Create(
    const TwilioSettings& settings, const AdapterContext& context) {
  if (context.io == nullptr || context.events == nullptr) {
    return ConfigurationError("twilio: the adapter needs an io_context and an event sink");
  }
  std::shared_ptr<TwilioAdapter> adapter(new TwilioAdapter(settings, context));
  if (absl::Status s = adapter->credentials_->Reload(); !s.ok()) {
    LogTwilioWarn(context, absl::StrCat("unhealthy until fixed: ", s.message()));
  }
  RestClientOptions rest;
  rest.system_name = context.system_name;
  rest.base_url = settings.base_url;
  rest.transport.connect_timeout = settings.connect_timeout;
  rest.transport.request_timeout = settings.request_timeout;
  rest.retry.max_attempts = settings.max_attempts;
  rest.retry.budget = settings.retry_budget;
  rest.retry.initial_backoff = settings.retry_initial_backoff;
  adapter->rest_ = std::make_unique<TwilioRestClient>(
      context.io, rest, adapter->credentials_,
      [health = adapter->request_health_](const absl::Status& status, bool transient, bool auth) {
        health->Observe(status, transient, auth);
      });
  std::weak_ptr<TwilioAdapter> weak = adapter;
  if (settings.webhooks_enabled) {
    WebhookServerOptions options;
    options.listen = settings.webhook_listen;
    options.max_body_bytes = settings.max_body_bytes;
    options.read_timeout = settings.webhook_read_timeout;
    options.max_connections = settings.max_connections;
    absl::StatusOr<std::shared_ptr<WebhookServer>> server = WebhookServer::Start(
        context.io, options, [weak](WebhookRequest request, WebhookResponder respond) {
          if (auto self = weak.lock()) {
            self->OnWebhook(std::move(request), std::move(respond));
          } else {
            std::move(respond)(WebhookResponse{503, "shutting down\n"});
          }
        });
    if (!server.ok()) return server.status();
    adapter->webhook_ = *std::move(server);
    LogTwilioInfo(context,
                  absl::StrCat("webhooks on ", adapter->webhook_->local_address(), " for ",
                               settings.public_url));
  }
  return adapter;
}

TwilioAdapter::~TwilioAdapter() {
  // Nothing else references the adapter now, so its state may be touched
  // here; callers still waiting get an answer (adapter.h: every callback
  // runs exactly once).
  if (webhook_) webhook_->Stop();
  if (rest_) rest_->Stop();
  ShutdownOnStrand();
}

std::string TwilioAdapter::webhook_address() const {
  return webhook_ ? webhook_->local_address() : "";
}

Capabilities TwilioAdapter::capabilities() const {
  Capabilities caps;
  caps.can_end = caps.can_hold = caps.can_mute = true;
  caps.accepts_sip_uri = true;  // Twilio dials "sip:" URIs itself
  caps.accepts_extension = false;
  return caps;
}

Health TwilioAdapter::health() const {
  Health health;
  // Files fixed by the operator are noticed without a restart.
  credentials_->RetryIfFailing(kCredentialRetry);
  absl::StatusOr<TwilioAuth> auth = credentials_->Get();
  if (!auth.ok()) {
    health.state = Health::State::kUnhealthy;
    health.message = std::string(auth.status().message());
    return health;
  }
  RequestHealth& r = *request_health_;
  absl::MutexLock lock(&r.mu);
  if (r.auth_refused) {
    health.state = Health::State::kUnhealthy;
    health.message = absl::StrCat("Twilio refuses the credentials: ", r.last_failure);
  } else if (r.transient_failures > 0) {
    health.state = Health::State::kDegraded;
    health.message = absl::StrCat(r.transient_failures,
                                  " failed Twilio request(s) in a row; last: ", r.last_failure);
  }
  return health;
}

void TwilioAdapter::RequestHealth::Observe(const absl::Status& status, bool transient, bool auth) {
  absl::MutexLock lock(&mu);
  if (status.ok() || (!transient && !auth)) {
    // Twilio answered (even a 400 for one bad number): reachable, and the
    // credentials work.
    transient_failures = 0;
    auth_refused = false;
    return;
  }
  last_failure = std::string(status.message());
  if (auth) auth_refused = true;
  if (transient) ++transient_failures;
}

std::string TwilioAdapter::ConferenceName(const std::string& session_id) const {
  return absl::StrCat(settings_.conference_prefix, session_id);
}

std::string TwilioAdapter::CallbackUrl(absl::string_view path, const std::string& session_id) const {
  // The session id in the URL lets a callback that overtakes the create's
  // 201 find its call; the signature covers it, so it cannot be forged.
  return absl::StrCat(settings_.public_url, path, "?session=", UrlEscape(session_id));
}

uint64_t TwilioAdapter::Park(DoneCallback done) {
  const uint64_t id = next_pending_id_++;
  pending_.emplace(id, std::move(done));
  return id;
}

void TwilioAdapter::Complete(uint64_t id, absl::Status status) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // already answered (shutdown)
  DoneCallback done = std::move(it->second);
  pending_.erase(it);
  std::move(done)(std::move(status));
}

// ---------------------------------------------------------------- StartCall

void TwilioAdapter::StartCall(const DialRequest& request, DialCallback done) {
  OnStrand([request, done = std::move(done)](TwilioAdapter& self) mutable {
    self.DoStartCall(request, std::move(done));
  });
}

void TwilioAdapter::DoStartCall(const DialRequest& request, DialCallback done) {
  const std::string& system = context_.system_name;
  if (shut_down_) {
    std::move(done)(NetworkError(system, "twilio: the adapter is shutting down"));
    return;
  }
  credentials_->RetryIfFailing(kCredentialRetry);
  if (absl::StatusOr<TwilioAuth> auth = credentials_->Get(); !auth.ok()) {
    std::move(done)(auth.status());
    return;
  }
  const std::string from = request.from.empty() ? settings_.default_from : request.from;
  if (from.empty()) {
    std::move(done)(InvalidArgumentError(
        "from", absl::StrCat("from: system '", system,
                             "' has no default_from; give the caller id (a Twilio number)")));
    return;
  }
  if (calls_.count(request.session_id) != 0) {
    std::move(done)(InvalidStateError(request.session_id, "session_id: already dialled"));
    return;
  }
  auto call = std::make_shared<Call>();
  call->session_id = request.session_id;
  call->from = from;
  call->agent_endpoint = settings_.agent_endpoint;
  call->dial_done = std::move(done);
  calls_[request.session_id] = call;

  const absl::Duration ring = request.ring_timeout > absl::ZeroDuration()
                                  ? request.ring_timeout
                                  : settings_.default_ring_timeout;
  FormParams params = {
      {"To", request.target},
      {"From", from},
      {"Twiml", ConferenceTwiml(ConferenceName(request.session_id),
                                settings_.webhooks_enabled
                                    ? CallbackUrl("/conference", request.session_id)
                                    : "")},
      {"Timeout", absl::StrCat(TimeoutSeconds(ring))},
  };
  if (settings_.webhooks_enabled) {
    params.emplace_back("StatusCallback", CallbackUrl("/status", request.session_id));
    params.emplace_back("StatusCallbackMethod", "POST");
    // Twilio takes a list as repeated keys.
    for (const char* event : {"initiated", "ringing", "answered", "completed"}) {
      params.emplace_back("StatusCallbackEvent", event);
    }
  }
  rest_->CreateCall(params, Back<CallResource>([session = request.session_id](
                                                   TwilioAdapter& self,
                                                   absl::StatusOr<CallResource> result) mutable {
    self.OnCreated(session, std::move(result));
  }));
}

void TwilioAdapter::OnCreated(const std::string& session_id, absl::StatusOr<CallResource> result) {
  CallPtr call = Find(session_id);
  if (call == nullptr || !call->dial_done) {
    // Answered already (shutdown): a call Twilio made anyway must not ring on.
    if (result.ok() && !shut_down_) HangUpOrphan(result->sid);
    return;
  }
  DialCallback done = std::move(call->dial_done);
  call->dial_done = nullptr;
  if (!result.ok()) {
    calls_.erase(session_id);
    RememberAbandoned(session_id);
    // A callback that overtook the failure proves Twilio made the call
    // after all (the create timed out on our side): do not let it ring.
    for (const auto& [sid, report] : call->early) {
      std::optional<StatusMapping> mapping = MapCallStatus(report.call_status);
      if (mapping && mapping->phase != CallPhase::kEnded && !shut_down_) {
        abandoned_.erase(session_id);
        HangUpOrphan(sid);
        break;
      }
    }
    for (uint64_t id : call->end_waiters) Complete(id, absl::OkStatus());
    std::move(done)(result.status());
    return;
  }
  call->call_sid = result->sid;
  call->created = true;
  call->last_heard = absl::Now();
  sessions_by_sid_[call->call_sid] = session_id;
  DialResult dial;
  dial.provider_call_id = result->sid;
  dial.from = call->from;
  std::move(done)(std::move(dial));

  std::vector<std::pair<std::string, StatusReport>> early;
  early.swap(call->early);
  for (const auto& [sid, report] : early) {
    if (sid == call->call_sid) ApplyReport(call, report);
  }
  if (call->progress.ended()) return;
  if (call->end_requested) {
    std::vector<uint64_t> waiters;
    waiters.swap(call->end_waiters);
    HangUp(call, false, [this, waiters](absl::Status status) {
      for (uint64_t id : waiters) Complete(id, status);
    });
  }
  SchedulePoll(call, settings_.webhooks_enabled ? settings_.callback_timeout
                                                : settings_.poll_interval);
}

// ------------------------------------------------------------------ EndCall

void TwilioAdapter::EndCall(const CallRef& ref, DoneCallback done) {
  OnStrand([ref, done = std::move(done)](TwilioAdapter& self) mutable {
    self.DoEndCall(ref, std::move(done));
  });
}

void TwilioAdapter::DoEndCall(const CallRef& ref, DoneCallback done) {
  CallPtr call = Find(ref.session_id);
  if (call == nullptr || call->progress.ended()) {
    std::move(done)(absl::OkStatus());  // already over: the terminal event exists
    return;
  }
  call->end_requested = true;
  if (!call->created) {
    // The create is in flight: hang up as soon as Twilio names the call.
    call->end_waiters.push_back(Park(std::move(done)));
    return;
  }
  HangUp(call, false, std::move(done));
}

void TwilioAdapter::HangUp(const CallPtr& call, bool force_completed, DoneCallback done) {
  // Twilio: "canceled" ends a queued or ringing call and leaves an answered
  // one alone; "completed" hangs up an answered call.
  const bool answered = call->progress.phase() >= CallPhase::kConnected;
  const std::string status = force_completed || answered ? "completed" : "canceled";
  const uint64_t id = Park(std::move(done));
  rest_->UpdateCall(
      call->call_sid, {{"Status", status}},
      Back<CallResource>([session = call->session_id, status, id](
                             TwilioAdapter& self, absl::StatusOr<CallResource> result) mutable {
        CallPtr call = self.Find(session);
        if (result.ok()) {
          if (call != nullptr && status == "canceled" && result->status == "in-progress") {
            // Answered between our decision and Twilio's: hang up instead.
            self.HangUp(call, true, [&self, id](absl::Status s) { self.Complete(id, s); });
            return;
          }
          if (call != nullptr) {
            StatusReport report;
            report.call_status = result->status;
            self.ApplyReport(call, report);
          }
          self.Complete(id, absl::OkStatus());
          return;
        }
        if (call == nullptr) {
          self.Complete(id, absl::OkStatus());  // ended meanwhile
          return;
        }
        // Twilio refuses to update a call that already ended: check before
        // reporting an error for a hangup that in effect happened.
        absl::Status error = result.status();
        self.rest_->FetchCall(
            call->call_sid,
            self.Back<CallResource>([session, id, error](TwilioAdapter& self,
                                                         absl::StatusOr<CallResource> fetched) {
              CallPtr call = self.Find(session);
              if (fetched.ok() && call != nullptr) {
                StatusReport report;
                report.call_status = fetched->status;
                self.ApplyReport(call, report);
              }
              const bool over = call == nullptr || call->progress.ended();
              self.Complete(id, over ? absl::OkStatus() : error);
            }));
      }));
}

// -------------------------------------------------------------- Hold / Mute

void TwilioAdapter::Hold(const CallRef& ref, bool hold, DoneCallback done) {
  OnStrand([ref, hold, done = std::move(done)](TwilioAdapter& self) mutable {
    self.DoToggle(ref, /*hold_not_mute=*/true, hold, std::move(done));
  });
}

void TwilioAdapter::Mute(const CallRef& ref, bool mute, DoneCallback done) {
  OnStrand([ref, mute, done = std::move(done)](TwilioAdapter& self) mutable {
    self.DoToggle(ref, /*hold_not_mute=*/false, mute, std::move(done));
  });
}

void TwilioAdapter::DoToggle(const CallRef& ref, bool hold_not_mute, bool on, DoneCallback done) {
  CallPtr call = Find(ref.session_id);
  if (call == nullptr || call->progress.ended()) {
    std::move(done)(InvalidStateError(ref.session_id, "session_id: the call has ended"));
    return;
  }
  if (!call->created || call->progress.phase() < CallPhase::kConnected) {
    std::move(done)(InvalidStateError(ref.session_id,
                                      "session_id: the call is not connected at Twilio yet"));
    return;
  }
  const uint64_t id = Park(std::move(done));
  WithConference(call, [this, session = call->session_id, hold_not_mute, on, id](
                           absl::StatusOr<std::string> conference) mutable {
    CallPtr call = Find(session);
    if (!conference.ok()) {
      Complete(id, conference.status());
      return;
    }
    if (call == nullptr) {
      Complete(id, InvalidStateError(session, "session_id: the call has ended"));
      return;
    }
    FormParams params = {{hold_not_mute ? "Hold" : "Muted", on ? "true" : "false"}};
    if (hold_not_mute && on && !settings_.hold_url.empty()) {
      params.emplace_back("HoldUrl", settings_.hold_url);
    }
    rest_->UpdateParticipant(
        *conference, call->call_sid, params,
        Back<ParticipantResource>([session, hold_not_mute, on, id](
                                      TwilioAdapter& self,
                                      absl::StatusOr<ParticipantResource> result) {
          if (!result.ok()) {
            self.Complete(id, result.status());  // nothing changed
            return;
          }
          CallPtr call = self.Find(session);
          if (call == nullptr || call->progress.ended()) {
            self.Complete(id, InvalidStateError(session, "session_id: the call has ended"));
            return;
          }
          // Confirmed by Twilio: only now does voipd's state change.
          ProviderEvent event;
          event.session_id = session;
          event.kind = hold_not_mute
                           ? (on ? ProviderEventKind::kHeld : ProviderEventKind::kResumed)
                           : (on ? ProviderEventKind::kMuted : ProviderEventKind::kUnmuted);
          self.Emit(std::move(event));
          self.Complete(id, absl::OkStatus());
        }));
  });
}

void TwilioAdapter::WithConference(const CallPtr& call,
                                   absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> next) {
  if (!call->conference_sid.empty()) {
    std::move(next)(call->conference_sid);
    return;
  }
  // No conference callback seen (polling mode, or it is still on its way):
  // ask Twilio for the conference by its name.
  const std::string name = ConferenceName(call->session_id);
  rest_->FindConference(
      name, Back<std::string>([session = call->session_id, name, next = std::move(next)](
                                  TwilioAdapter& self, absl::StatusOr<std::string> sid) mutable {
        if (sid.ok() && sid->empty()) {
          voip::v1::ProviderCause cause;
          cause.set_text("no in-progress conference named " + name);
          sid = ProviderError(self.context_.system_name,
                              absl::StrCat("twilio: the call's conference '", name,
                                           "' is not in progress (the contact has not joined)"),
                              cause);
        }
        if (sid.ok()) {
          if (CallPtr call = self.Find(session)) call->conference_sid = *sid;
        }
        std::move(next)(std::move(sid));
      }));
}

// ----------------------------------------------------------------- Shutdown

void TwilioAdapter::CheckAlive(absl::AnyInvocable<void() &&> alive) {
  rest_->CheckAlive(std::move(alive));
}

void TwilioAdapter::Shutdown() {
  if (strand_.running_in_this_thread()) {
    ShutdownOnStrand();
  } else {
    auto flushed = std::make_shared<absl::Notification>();
    OnStrand([flushed](TwilioAdapter& self) {
      self.ShutdownOnStrand();
      flushed->Notify();
    });
    if (!flushed->WaitForNotificationWithTimeout(kShutdownWait)) {
      LogTwilioWarn(context_, "shutdown: the io_context did not run; callers may "
                                          "wait for their answers until it does");
    }
  }
  if (webhook_) webhook_->Stop();
  rest_->Stop();
}

void TwilioAdapter::ShutdownOnStrand() {
  if (shut_down_) return;
  shut_down_ = true;
  std::map<std::string, CallPtr> calls;
  calls.swap(calls_);
  sessions_by_sid_.clear();
  for (auto& [id, call] : calls) {
    if (call->poll_timer) call->poll_timer->cancel();
    if (call->dial_done) {
      DialCallback done = std::move(call->dial_done);
      call->dial_done = nullptr;
      std::move(done)(NetworkError(context_.system_name, "twilio: the adapter is shutting down"));
    }
  }
  // One at a time: answering one may complete others through Complete().
  while (!pending_.empty()) {
    Complete(pending_.begin()->first,
             NetworkError(context_.system_name, "twilio: the adapter is shutting down"));
  }
}

}  // namespace voipd::adapters::twilio
