// The twilio adapter's inbound half: signed status callbacks, polling, and
// turning both into ProviderEvents through CallProgress. Operations that
// clients start live in twilio_adapter.cc.
#include <utility>  // before asio (toolchain notes)

#include <boost/asio/bind_executor.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "adapters/api/voip_error.h"
#include "adapters/twilio/twilio_adapter.h"
#include "adapters/twilio/twilio_call.h"
#include "adapters/twilio/twilio_form.h"
#include "adapters/twilio/twilio_log.h"
#include "adapters/twilio/twilio_signature.h"
#include "adapters/twilio/twilio_twiml.h"

namespace voipd::adapters::twilio {
namespace {

// Callbacks that overtake the create's 201 are few (initiated, ringing);
// more than this for one call is not Twilio.
constexpr size_t kMaxEarlyReports = 16;
// Failed creates remembered for the orphan guard.
constexpr size_t kMaxAbandoned = 1024;
// At most one rejected-webhook log line per this interval (a scanner or a
// misconfigured public_url must not flood the log).
constexpr absl::Duration kRejectionLogInterval = absl::Seconds(10);
// The Voice URL of the account's numbers (inbound.enabled).
constexpr absl::string_view kIncomingPath = "/voice/incoming";
// Inbound CallSids remembered against duplicate deliveries.
constexpr size_t kMaxInboundSeen = 4096;

bool IsSid(absl::string_view value, absl::string_view prefix) {
  if (value.size() != 34 || !absl::StartsWith(value, prefix)) return false;
  for (char c : value.substr(2)) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

StatusReport ReportFrom(const FormParams& params) {
  StatusReport report;
  report.call_status = FormValue(params, "CallStatus");
  int64_t sequence = 0;
  if (absl::SimpleAtoi(FormValue(params, "SequenceNumber"), &sequence)) report.sequence = sequence;
  report.timestamp = ParseTwilioTimestamp(FormValue(params, "Timestamp"));
  report.error_code = FormValue(params, "ErrorCode");
  report.error_message = FormValue(params, "ErrorMessage");
  int sip = 0;
  if (absl::SimpleAtoi(FormValue(params, "SipResponseCode"), &sip)) report.sip_code = sip;
  return report;
}

}  // namespace

TwilioAdapter::CallPtr TwilioAdapter::Find(const std::string& session_id) const {
  auto it = calls_.find(session_id);
  return it == calls_.end() ? nullptr : it->second;
}

void TwilioAdapter::Emit(ProviderEvent event) { context_.events->OnProviderEvent(std::move(event)); }

// ------------------------------------------------------------------ reports

void TwilioAdapter::ApplyReport(const CallPtr& call, const StatusReport& report) {
  std::optional<ProviderEvent> event =
      call->progress.Apply(call->session_id, report, call->end_requested);
  if (!event) return;
  const ProviderEventKind kind = event->kind;
  Emit(*std::move(event));
  if (kind == ProviderEventKind::kEnded) {
    OnEnded(call);
  } else if (kind == ProviderEventKind::kAnswered) {
    DialAgent(call);
  }
}

void TwilioAdapter::EndLocally(const CallPtr& call, ProviderEvent event) {
  if (call->progress.ended()) return;
  call->progress.MarkEnded();
  Emit(std::move(event));
  OnEnded(call);
}

void TwilioAdapter::OnEnded(const CallPtr& call) {
  if (call->poll_timer) call->poll_timer->cancel();
  calls_.erase(call->session_id);
  sessions_by_sid_.erase(call->call_sid);
  std::vector<uint64_t> waiters;
  waiters.swap(call->end_waiters);
  for (uint64_t id : waiters) Complete(id, absl::OkStatus());
  if (!call->agent_sid.empty() && !call->agent_ended) {
    // Normally the conference ending takes the agent leg with it; a leg
    // still ringing would not notice.
    rest_->UpdateCall(call->agent_sid,
                      {{"Status", call->agent_answered ? "completed" : "canceled"}},
                      [](absl::StatusOr<CallResource>) {});
  }
}

// ------------------------------------------------------------------ polling

void TwilioAdapter::SchedulePoll(const CallPtr& call, absl::Duration delay) {
  if (shut_down_) return;
  if (!call->poll_timer) {
    call->poll_timer = std::make_shared<boost::asio::steady_timer>(*context_.io);
  }
  call->poll_timer->expires_after(absl::ToChronoNanoseconds(delay));
  call->poll_timer->async_wait(boost::asio::bind_executor(
      strand_, [weak = weak_from_this(), session = call->session_id](boost::system::error_code ec) {
        if (ec) return;  // rescheduled, ended or stopped
        if (auto self = weak.lock()) self->OnPollTimer(session);
      }));
}

void TwilioAdapter::OnPollTimer(const std::string& session_id) {
  CallPtr call = Find(session_id);
  if (call == nullptr || call->progress.ended() || !call->created) return;
  const absl::Duration interval =
      settings_.webhooks_enabled ? settings_.callback_timeout : settings_.poll_interval;
  if (settings_.webhooks_enabled) {
    // Callbacks are the normal path; fetch only after a silence, in case
    // one was lost (Twilio does not retry status callbacks).
    const absl::Duration silence = absl::Now() - call->last_heard;
    if (silence < settings_.callback_timeout) {
      SchedulePoll(call, settings_.callback_timeout - silence);
      return;
    }
  }
  if (call->poll_in_flight) {
    SchedulePoll(call, interval);
    return;
  }
  Fetch(call, interval);
}

// ----------------------------------------------------------------- webhooks

void TwilioAdapter::OnWebhook(WebhookRequest request, WebhookResponder respond) {
  // Everything here is checked before any state is touched: a request that
  // fails a check changes nothing.
  auto refuse = [&](unsigned status, absl::string_view why) {
    {
      absl::MutexLock lock(&log_mu_);
      if (absl::Now() - last_rejection_log_ >= kRejectionLogInterval) {
        last_rejection_log_ = absl::Now();
        LogTwilioWarn(context_,
                      absl::StrCat("webhook refused with ", status, ": ", why,
                                   " (further refusals in the next ",
                                   absl::FormatDuration(kRejectionLogInterval), " not logged)"));
      }
    }
    std::move(respond)(WebhookResponse{status, absl::StrCat(why, "\n")});
  };
  if (request.method != "POST") return refuse(405, "only POST is accepted");
  const size_t q = request.target.find('?');
  const std::string path = request.target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : request.target.substr(q + 1);
  const bool incoming = path == kIncomingPath;
  if (path != "/status" && path != "/conference" && path != "/agent" &&
      !(incoming && settings_.inbound_enabled)) {
    return refuse(404, "unknown path");
  }
  const std::string type = absl::AsciiStrToLower(request.content_type);
  if (!absl::StartsWith(type, "application/x-www-form-urlencoded")) {
    return refuse(415, "expected application/x-www-form-urlencoded");
  }
  absl::StatusOr<FormParams> params = DecodeForm(request.body);
  absl::StatusOr<FormParams> query_params = DecodeForm(query);
  if (!params.ok() || !query_params.ok()) return refuse(400, "malformed form encoding");
  absl::StatusOr<TwilioAuth> auth = credentials_->Get();
  if (!auth.ok()) return refuse(503, "credentials unavailable; cannot verify signatures");
  if (!request.has_signature) return refuse(403, "no X-Twilio-Signature");
  // The URL Twilio signed is the configured public one, never what the
  // Host header or the proxy claims.
  const std::string url = settings_.public_url + request.target;
  if (!ValidateSignature(auth->auth_token, url, *params, request.signature)) {
    return refuse(403, "invalid X-Twilio-Signature (is webhook.public_url exactly the URL "
                       "Twilio calls?)");
  }
  OnStrand([path, query = *std::move(query_params), params = *std::move(params),
            respond = std::move(respond)](TwilioAdapter& self) mutable {
    if (self.shut_down_) {
      std::move(respond)(WebhookResponse{503, "shutting down\n"});
      return;
    }
    if (path == kIncomingPath) {
      std::move(respond)(self.OnIncomingCall(params));
      return;
    }
    self.DispatchWebhook(path, query, params);
    std::move(respond)(WebhookResponse{204, ""});
  });
}

void TwilioAdapter::DispatchWebhook(const std::string& path, const FormParams& query,
                                    const FormParams& params) {
  if (path == "/status") {
    OnStatusCallback(query, params);
  } else if (path == "/conference") {
    OnConferenceCallback(query, params);
  } else {
    OnAgentCallback(query, params);
  }
}

void TwilioAdapter::OnStatusCallback(const FormParams& query, const FormParams& params) {
  const std::string sid = FormValue(params, "CallSid");
  std::string session = FormValue(query, "session");
  if (session.empty()) {
    auto it = sessions_by_sid_.find(sid);
    if (it != sessions_by_sid_.end()) session = it->second;
  }
  const StatusReport report = ReportFrom(params);
  CallPtr call = Find(session);
  if (call == nullptr) {
    // A call voipd reported as failed to start, alive at Twilio after all
    // (the create timed out after Twilio had accepted it): hang it up.
    std::optional<StatusMapping> mapping = MapCallStatus(report.call_status);
    if (abandoned_.count(session) != 0 && IsSid(sid, "CA") && mapping &&
        mapping->phase != CallPhase::kEnded) {
      abandoned_.erase(session);
      HangUpOrphan(sid);
    }
    return;  // late callbacks for ended calls land here too
  }
  if (!call->created) {
    if (call->early.size() < kMaxEarlyReports) call->early.emplace_back(sid, report);
    return;
  }
  if (sid != call->call_sid) return;  // another leg's callback
  call->last_heard = absl::Now();
  ApplyReport(call, report);
}

void TwilioAdapter::OnConferenceCallback(const FormParams& query, const FormParams& params) {
  CallPtr call = Find(FormValue(query, "session"));
  const std::string conference = FormValue(params, "ConferenceSid");
  if (call != nullptr && IsSid(conference, "CF")) call->conference_sid = conference;
  if (call == nullptr || !call->inbound || FormValue(params, "CallSid") != call->call_sid) return;
  // An inbound caller is answered by the TwiML that puts it into the
  // conference, and a number's status callback reports only the end, so
  // the caller's join is the answer and its leave is worth a fetch (the
  // end, unless the number's status callback says so first).
  call->last_heard = absl::Now();
  const std::string event = FormValue(params, "StatusCallbackEvent");
  if (event == "participant-join") {
    StatusReport report;
    report.call_status = "in-progress";
    ApplyReport(call, report);
  } else if (event == "participant-leave") {
    FetchNow(call);
  }
}

void TwilioAdapter::FetchNow(const CallPtr& call) {
  if (call->poll_in_flight || call->progress.ended()) return;
  Fetch(call, std::nullopt);
}

void TwilioAdapter::Fetch(const CallPtr& call, std::optional<absl::Duration> repoll) {
  call->poll_in_flight = true;
  rest_->FetchCall(call->call_sid, Back<CallResource>([session = call->session_id, repoll](
                                                          TwilioAdapter& self,
                                                          absl::StatusOr<CallResource> r) {
                     CallPtr call = self.Find(session);
                     if (call == nullptr) return;
                     call->poll_in_flight = false;
                     // A failed fetch changes nothing; health shows it.
                     if (r.ok()) {
                       StatusReport report;
                       report.call_status = r->status;
                       self.ApplyReport(call, report);
                     }
                     if (repoll && !call->progress.ended()) self.SchedulePoll(call, *repoll);
                   }));
}

// ------------------------------------------------------------ inbound calls

void TwilioAdapter::RememberInbound(const std::string& call_sid, const std::string& session_id) {
  if (!inbound_seen_.emplace(call_sid, session_id).second) return;
  inbound_seen_order_.push_back(call_sid);
  while (inbound_seen_order_.size() > kMaxInboundSeen) {
    inbound_seen_.erase(inbound_seen_order_.front());
    inbound_seen_order_.pop_front();
  }
}

WebhookResponse TwilioAdapter::OnIncomingCall(const FormParams& params) {
  auto twiml = [](std::string body) {
    return WebhookResponse{200, std::move(body), "application/xml"};
  };
  const std::string sid = FormValue(params, "CallSid");
  if (!IsSid(sid, "CA")) return WebhookResponse{400, "CallSid missing or malformed\n"};
  if (auto seen = inbound_seen_.find(sid); seen != inbound_seen_.end()) {
    // The same call delivered again (Twilio retried, a proxy repeated it):
    // the same answer, never a second session.
    if (seen->second.empty()) return twiml(RejectTwiml());
    CallPtr call = Find(seen->second);
    if (call == nullptr) return twiml(HangupTwiml());  // already over
    return twiml(InboundTwiml(settings_.inbound_greeting, ConferenceName(call->session_id),
                              CallbackUrl("/conference", call->session_id)));
  }
  InboundCall inbound;
  inbound.provider_call_id = sid;
  inbound.from = FormValue(params, "From");
  inbound.to = FormValue(params, "To");
  absl::StatusOr<voip::v1::CallSession> session =
      context_.host != nullptr
          ? context_.host->AcceptInbound(context_.system_name, inbound)
          : absl::StatusOr<voip::v1::CallSession>(
                absl::UnavailableError("the core takes no inbound calls from this system"));
  if (!session.ok()) {
    LogTwilioWarn(context_, absl::StrCat("refusing inbound call ", sid, " from ", inbound.from,
                                         " to ", inbound.to, ": ", session.status().message()));
    RememberInbound(sid, "");
    return twiml(RejectTwiml());
  }
  auto call = std::make_shared<Call>();
  call->session_id = session->session_id();
  call->call_sid = sid;
  call->inbound = true;
  call->created = true;
  call->from = inbound.to;  // our number: the caller id of the agent leg
  call->agent_endpoint = settings_.inbound_agent_endpoint;
  call->progress.Restore(CallPhase::kRinging);  // the core announced ringing
  call->last_heard = absl::Now();
  calls_[call->session_id] = call;
  sessions_by_sid_[sid] = call->session_id;
  RememberInbound(sid, call->session_id);
  LogTwilioInfo(context_, absl::StrCat("inbound call ", sid, " is session ", call->session_id));
  SchedulePoll(call, settings_.callback_timeout);
  return twiml(InboundTwiml(settings_.inbound_greeting, ConferenceName(call->session_id),
                            CallbackUrl("/conference", call->session_id)));
}

// -------------------------------------------------------------- re-adoption

void TwilioAdapter::Readopt(const voip::v1::CallSession& session,
                            absl::AnyInvocable<void(absl::StatusOr<bool>) &&> done) {
  OnStrand([session, done = std::move(done)](TwilioAdapter& self) mutable {
    self.DoReadopt(session, std::move(done));
  });
}

void TwilioAdapter::DoReadopt(const voip::v1::CallSession& session,
                              absl::AnyInvocable<void(absl::StatusOr<bool>) &&> done) {
  if (shut_down_) {
    std::move(done)(NetworkError(context_.system_name, "twilio: the adapter is shutting down"));
    return;
  }
  const std::string sid = session.provider_call_id();
  if (!IsSid(sid, "CA")) {
    // Crashed before Twilio answered the create: no CallSid to ask about.
    std::move(done)(false);
    return;
  }
  if (Find(session.session_id()) != nullptr) {
    std::move(done)(true);
    return;
  }
  rest_->FetchCall(sid, Back<CallResource>([session, done = std::move(done)](
                                               TwilioAdapter& self,
                                               absl::StatusOr<CallResource> fetched) mutable {
    const std::string& id = session.session_id();
    if (!fetched.ok()) {
      LogTwilioWarn(self.context_, absl::StrCat("re-adopting session ", id, ": fetching ",
                                                session.provider_call_id(), " failed: ",
                                                fetched.status().message()));
      std::move(done)(fetched.status());
      return;
    }
    ReadoptDecision decision = DecideReadopt(id, session.status(), fetched->status);
    if (!decision.alive || self.shut_down_) {
      LogTwilioInfo(self.context_,
                    absl::StrCat("not re-adopting session ", id, ": Twilio says ",
                                 session.provider_call_id(), " is '", fetched->status, "'"));
      std::move(done)(false);
      return;
    }
    if (self.Find(id) != nullptr) {
      std::move(done)(true);
      return;
    }
    auto call = std::make_shared<Call>();
    call->session_id = id;
    call->call_sid = session.provider_call_id();
    call->created = true;
    call->inbound = session.direction() == voip::v1::CALL_DIRECTION_INBOUND;
    // The caller id of an agent leg: our Twilio number.
    call->from = call->inbound ? session.to_normalized() : session.from();
    if (call->from.empty()) call->from = self.settings_.default_from;
    call->agent_endpoint = call->inbound ? self.settings_.inbound_agent_endpoint
                                         : self.settings_.agent_endpoint;
    call->progress = decision.progress;
    call->last_heard = absl::Now();
    self.calls_[id] = call;
    self.sessions_by_sid_[call->call_sid] = id;
    if (call->inbound) self.RememberInbound(call->call_sid, id);
    LogTwilioInfo(self.context_, absl::StrCat("re-adopted session ", id, " (", call->call_sid,
                                              " is '", fetched->status, "' at Twilio)"));
    if (decision.event) {
      const ProviderEventKind kind = decision.event->kind;
      self.Emit(*std::move(decision.event));
      // Answered while voipd was down: the agent leg was never dialled.
      if (kind == ProviderEventKind::kAnswered) self.DialAgent(call);
    }
    std::move(done)(true);
    self.SchedulePoll(call, self.settings_.webhooks_enabled ? self.settings_.callback_timeout
                                                            : self.settings_.poll_interval);
  }));
}

void TwilioAdapter::OnAgentCallback(const FormParams& query, const FormParams& params) {
  CallPtr call = Find(FormValue(query, "session"));
  const std::string sid = FormValue(params, "CallSid");
  if (call == nullptr || !IsSid(sid, "CA")) return;
  if (call->agent_sid.empty()) call->agent_sid = sid;  // overtook the create's 201
  if (sid != call->agent_sid) return;
  const std::string status = FormValue(params, "CallStatus");
  std::optional<StatusMapping> mapping = MapCallStatus(status);
  if (!mapping) return;
  if (mapping->phase == CallPhase::kConnected) call->agent_answered = true;
  if (mapping->phase != CallPhase::kEnded || call->agent_ended) return;
  call->agent_ended = true;
  if (call->agent_answered) {
    // The agent hung up; the conference (endConferenceOnExit) ends the
    // contact leg, whose own callback reports the end as a local hangup.
    call->end_requested = true;
    return;
  }
  // The agent never joined: do not leave the contact alone in the
  // conference.
  HangUp(call, true, [](absl::Status) {});
  ProviderEvent event;
  event.session_id = call->session_id;
  event.kind = ProviderEventKind::kEnded;
  event.outcome = EndOutcome::kFailed;
  event.source = voip::v1::HANGUP_SOURCE_SYSTEM;
  event.error_code = voip::v1::PROVIDER_ERROR;
  event.message = absl::StrCat("the agent leg ended (", status, ") before it answered");
  event.cause.set_provider_status(status);
  EndLocally(call, std::move(event));
}

// ---------------------------------------------------------------- agent leg

void TwilioAdapter::DialAgent(const CallPtr& call) {
  if (call->agent_endpoint.empty()) return;
  FormParams params = {
      {"From", call->from},
      {"To", call->agent_endpoint},
      {"EndConferenceOnExit", "true"},
      {"Beep", "false"},
  };
  if (settings_.webhooks_enabled) {
    params.emplace_back("StatusCallback", CallbackUrl("/agent", call->session_id));
    params.emplace_back("StatusCallbackMethod", "POST");
    for (const char* event : {"initiated", "ringing", "answered", "completed"}) {
      params.emplace_back("StatusCallbackEvent", event);
    }
  }
  rest_->CreateParticipant(
      ConferenceName(call->session_id), params,
      Back<ParticipantResource>([session = call->session_id](
                                    TwilioAdapter& self,
                                    absl::StatusOr<ParticipantResource> result) {
        CallPtr call = self.Find(session);
        if (!result.ok()) {
          if (call == nullptr) return;
          self.HangUp(call, true, [](absl::Status) {});
          ProviderEvent event;
          event.session_id = session;
          event.kind = ProviderEventKind::kEnded;
          event.outcome = EndOutcome::kFailed;
          event.source = voip::v1::HANGUP_SOURCE_SYSTEM;
          event.error_code = GetErrorCode(result.status());
          event.message = absl::StrCat("the agent leg could not be dialled: ",
                                       result.status().message());
          if (auto error = GetVoipError(result.status())) event.cause = error->provider_cause();
          self.EndLocally(call, std::move(event));
          return;
        }
        if (call == nullptr) {
          if (IsSid(result->call_sid, "CA")) self.HangUpOrphan(result->call_sid);
          return;
        }
        if (call->agent_sid.empty()) call->agent_sid = result->call_sid;
        if (call->conference_sid.empty() && IsSid(result->conference_sid, "CF")) {
          call->conference_sid = result->conference_sid;
        }
      }));
}

// ----------------------------------------------------------- orphan guard

void TwilioAdapter::RememberAbandoned(const std::string& session_id) {
  if (!settings_.webhooks_enabled || !abandoned_.insert(session_id).second) return;
  abandoned_order_.push_back(session_id);
  while (abandoned_order_.size() > kMaxAbandoned) {
    abandoned_.erase(abandoned_order_.front());
    abandoned_order_.pop_front();
  }
}

void TwilioAdapter::HangUpOrphan(const std::string& call_sid) {
  if (!IsSid(call_sid, "CA")) return;  // it goes into a REST path
  LogTwilioWarn(context_,
                absl::StrCat("hanging up ", call_sid,
                             ": Twilio created it although voipd reported its start as failed"));
  rest_->UpdateCall(call_sid, {{"Status", "canceled"}},
                    Back<CallResource>([call_sid](TwilioAdapter& self,
                                                  absl::StatusOr<CallResource> r) {
                      if (r.ok() && r->status == "in-progress") {
                        self.rest_->UpdateCall(call_sid, {{"Status", "completed"}},
                                               [](absl::StatusOr<CallResource>) {});
                      }
                    }));
}

}  // namespace voipd::adapters::twilio
