#include "adapters/twilio/twilio_rest_client.h"

#include <utility>  // before asio (toolchain notes)
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "adapters/api/voip_error.h"
#include "adapters/twilio/twilio_errors.h"
#include "adapters/twilio/twilio_form.h"

namespace voipd::adapters::twilio {
namespace {

using Json = nlohmann::json;
using RawCallback = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>) &&>;

std::string StringField(const Json& json, const char* name) {
  auto it = json.find(name);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

// One REST operation across its attempts.
struct TwilioRestClient::Operation {
  std::string what;    // "creating the call", for messages
  std::string method;  // GET or POST
  std::string path;    // below /2010-04-01/Accounts/{AccountSid}/
  std::string query;   // GET parameters, already encoded
  std::string body;    // POST form, already encoded
  bool repeatable = true;  // safe to repeat after an ambiguous failure
  RawCallback done;
  int attempts = 0;
  absl::Time started;
};

// Shared with timer and transport callbacks so that they never outlive
// what they touch.
struct TwilioRestClient::Core : std::enable_shared_from_this<Core> {
  boost::asio::io_context* io;
  RestClientOptions options;
  std::shared_ptr<TwilioCredentials> credentials;
  AttemptObserver observer;
  HttpTransport transport;

  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  std::set<std::shared_ptr<boost::asio::steady_timer>> timers ABSL_GUARDED_BY(mu);
  absl::BitGen jitter ABSL_GUARDED_BY(mu);

  Core(boost::asio::io_context* io_in, RestClientOptions opts,
       std::shared_ptr<TwilioCredentials> creds, AttemptObserver obs)
      : io(io_in),
        options(std::move(opts)),
        credentials(std::move(creds)),
        observer(std::move(obs)),
        transport(options.transport) {}

  void Attempt(std::shared_ptr<Operation> op);
  void OnResult(std::shared_ptr<Operation> op, HttpResult result);
  void RetryLater(std::shared_ptr<Operation> op, absl::Duration delay);
  void Observe(const absl::Status& s, bool transient, bool auth) {
    if (observer) observer(s, transient, auth);
  }
};

void TwilioRestClient::Core::Attempt(std::shared_ptr<Operation> op) {
  absl::StatusOr<TwilioAuth> auth = credentials->Get();
  if (!auth.ok()) {
    std::move(op->done)(auth.status());
    return;
  }
  ++op->attempts;
  HttpRequest request;
  request.method = op->method;
  request.url = absl::StrCat(options.base_url, "/2010-04-01/Accounts/",
                             UrlEscape(auth->account_sid), "/", op->path,
                             op->query.empty() ? "" : "?", op->query);
  request.body = op->body;
  request.user = auth->rest_user;
  request.password = auth->rest_password;
  request.fresh_connection = !op->repeatable;
  transport.Send(std::move(request), [self = shared_from_this(), op](HttpResult result) mutable {
    self->OnResult(std::move(op), std::move(result));
  });
}

void TwilioRestClient::Core::OnResult(std::shared_ptr<Operation> op, HttpResult result) {
  std::optional<absl::Duration> retry_after;
  bool retryable = false;
  absl::Status error;
  if (result.response) {
    const HttpResponse& r = *result.response;
    if (r.status >= 200 && r.status < 300) {
      Observe(absl::OkStatus(), false, false);
      std::move(op->done)(std::move(*result.response));
      return;
    }
    const std::string what = op->attempts > 1
                                 ? absl::StrCat(op->what, " (", op->attempts, " attempts)")
                                 : op->what;
    error = ErrorFromResponse(options.system_name, what, r);
    const bool transient = r.status == 429 || r.status >= 500;
    const bool auth = r.status == 401 || r.status == 403;
    Observe(error, transient, auth);
    if (auth) {
      // The token may have been rotated on disk: the next request uses the
      // new one without a restart.
      (void)credentials->Reload();
    }
    if (transient) {
      retryable = true;
      retry_after = ParseRetryAfter(r.retry_after, absl::Now());
    }
  } else {
    const std::string what = op->attempts > 1
                                 ? absl::StrCat(op->what, " (", op->attempts, " attempts)")
                                 : op->what;
    error = ErrorFromFailure(options.system_name, what, result);
    switch (result.failure) {
      case TransportFailure::kNotSent:
        retryable = true;
        break;
      case TransportFailure::kTimeout:
      case TransportFailure::kIo:
        retryable = op->repeatable;
        break;
      default:
        break;
    }
    if (result.failure != TransportFailure::kShutdown) Observe(error, true, false);
  }
  if (retryable) {
    double jitter;
    {
      absl::MutexLock lock(&mu);
      jitter = absl::Uniform<double>(this->jitter, 0.0, 1.0);
    }
    std::optional<absl::Duration> delay = NextRetryDelay(
        options.retry, op->attempts, absl::Now() - op->started, retry_after, jitter);
    if (delay) {
      RetryLater(std::move(op), *delay);
      return;
    }
  }
  std::move(op->done)(std::move(error));
}

void TwilioRestClient::Core::RetryLater(std::shared_ptr<Operation> op, absl::Duration delay) {
  auto timer = std::make_shared<boost::asio::steady_timer>(*io);
  bool was_stopped;
  {
    absl::MutexLock lock(&mu);
    was_stopped = stopped;
    if (!stopped) timers.insert(timer);
  }
  if (was_stopped) {
    std::move(op->done)(NetworkError(
        options.system_name,
        absl::StrCat("twilio: ", op->what, " failed: the adapter is shutting down")));
    return;
  }
  timer->expires_after(absl::ToChronoNanoseconds(delay));
  timer->async_wait([self = shared_from_this(), op, timer](boost::system::error_code ec) mutable {
    {
      absl::MutexLock lock(&self->mu);
      self->timers.erase(timer);
      if (self->stopped) ec = boost::asio::error::operation_aborted;
    }
    if (ec) {
      std::move(op->done)(NetworkError(self->options.system_name,
                                       absl::StrCat("twilio: ", op->what,
                                                    " failed: the adapter is shutting down")));
      return;
    }
    self->Attempt(std::move(op));
  });
}

TwilioRestClient::TwilioRestClient(boost::asio::io_context* io, RestClientOptions options,
                                   std::shared_ptr<TwilioCredentials> credentials,
                                   AttemptObserver observer)
    : core_(std::make_shared<Core>(io, std::move(options), std::move(credentials),
                                   std::move(observer))) {}

TwilioRestClient::~TwilioRestClient() { Stop(); }

void TwilioRestClient::CheckAlive(absl::AnyInvocable<void() &&> alive) {
  core_->transport.CheckAlive(std::move(alive));
}

void TwilioRestClient::Stop() {
  std::set<std::shared_ptr<boost::asio::steady_timer>> timers;
  {
    absl::MutexLock lock(&core_->mu);
    if (core_->stopped) return;
    core_->stopped = true;
    timers.swap(core_->timers);
  }
  // A cancelled timer's handler completes its operation if the io_context
  // still runs; the adapter has already answered its callers by then.
  for (auto& t : timers) t->cancel();
  core_->transport.Stop();
}

namespace {

// Parses a 2xx body with `parse`; a body that is not the expected JSON
// becomes PROVIDER_ERROR (never a crash, never a guess).
template <typename T, typename Parse>
absl::AnyInvocable<void(absl::StatusOr<HttpResponse>) &&> Typed(std::string system,
                                                                std::string what,
                                                                RestCallback<T> done,
                                                                Parse parse) {
  return [system = std::move(system), what = std::move(what), done = std::move(done),
          parse = std::move(parse)](absl::StatusOr<HttpResponse> r) mutable {
    if (!r.ok()) {
      std::move(done)(r.status());
      return;
    }
    const Json json = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) {
      std::move(done)(MalformedResponseError(system, what, *r, "not a JSON object"));
      return;
    }
    std::string why;
    std::optional<T> value = parse(json, &why);
    if (!value) {
      std::move(done)(MalformedResponseError(system, what, *r, why));
      return;
    }
    std::move(done)(*std::move(value));
  };
}

std::optional<CallResource> ParseCall(const Json& json, std::string* why) {
  CallResource call;
  call.sid = StringField(json, "sid");
  call.status = StringField(json, "status");
  if (call.sid.empty() || call.status.empty()) {
    *why = "no call sid or status";
    return std::nullopt;
  }
  return call;
}

std::optional<ParticipantResource> ParseParticipant(const Json& json, std::string* why) {
  ParticipantResource p;
  p.call_sid = StringField(json, "call_sid");
  p.conference_sid = StringField(json, "conference_sid");
  if (p.call_sid.empty() && p.conference_sid.empty()) {
    *why = "no participant call_sid or conference_sid";
    return std::nullopt;
  }
  return p;
}

}  // namespace

void TwilioRestClient::CreateCall(const FormParams& params, RestCallback<CallResource> done) {
  auto op = std::make_shared<Operation>();
  op->what = "creating the call";
  op->method = "POST";
  op->path = "Calls.json";
  op->body = EncodeForm(params);
  op->repeatable = false;
  op->started = absl::Now();
  op->done = Typed<CallResource>(core_->options.system_name, op->what, std::move(done), ParseCall);
  core_->Attempt(std::move(op));
}

void TwilioRestClient::UpdateCall(const std::string& call_sid, const FormParams& params,
                                  RestCallback<CallResource> done) {
  auto op = std::make_shared<Operation>();
  op->what = "updating the call";
  op->method = "POST";
  op->path = absl::StrCat("Calls/", UrlEscape(call_sid), ".json");
  op->body = EncodeForm(params);
  op->started = absl::Now();
  op->done = Typed<CallResource>(core_->options.system_name, op->what, std::move(done), ParseCall);
  core_->Attempt(std::move(op));
}

void TwilioRestClient::FetchCall(const std::string& call_sid, RestCallback<CallResource> done) {
  auto op = std::make_shared<Operation>();
  op->what = "fetching the call";
  op->method = "GET";
  op->path = absl::StrCat("Calls/", UrlEscape(call_sid), ".json");
  op->started = absl::Now();
  op->done = Typed<CallResource>(core_->options.system_name, op->what, std::move(done), ParseCall);
  core_->Attempt(std::move(op));
}

void TwilioRestClient::FindConference(const std::string& friendly_name,
                                      RestCallback<std::string> done) {
  auto op = std::make_shared<Operation>();
  op->what = "finding the call's conference";
  op->method = "GET";
  op->path = "Conferences.json";
  op->query = EncodeForm({{"FriendlyName", friendly_name}, {"Status", "in-progress"}});
  op->started = absl::Now();
  op->done = Typed<std::string>(
      core_->options.system_name, op->what, std::move(done),
      [](const Json& json, std::string* why) -> std::optional<std::string> {
        auto list = json.find("conferences");
        if (list == json.end() || !list->is_array()) {
          *why = "no conferences list";
          return std::nullopt;
        }
        for (const Json& c : *list) {
          if (c.is_object() && !StringField(c, "sid").empty()) return StringField(c, "sid");
        }
        return std::string();  // none in progress yet: an answer, not an error
      });
  core_->Attempt(std::move(op));
}

void TwilioRestClient::UpdateParticipant(const std::string& conference_sid,
                                         const std::string& call_sid, const FormParams& params,
                                         RestCallback<ParticipantResource> done) {
  auto op = std::make_shared<Operation>();
  op->what = "updating the conference participant";
  op->method = "POST";
  op->path = absl::StrCat("Conferences/", UrlEscape(conference_sid), "/Participants/",
                          UrlEscape(call_sid), ".json");
  op->body = EncodeForm(params);
  op->started = absl::Now();
  op->done = Typed<ParticipantResource>(core_->options.system_name, op->what, std::move(done),
                                        ParseParticipant);
  core_->Attempt(std::move(op));
}

void TwilioRestClient::CreateParticipant(const std::string& conference, const FormParams& params,
                                         RestCallback<ParticipantResource> done) {
  auto op = std::make_shared<Operation>();
  op->what = "dialling the agent into the conference";
  op->method = "POST";
  op->path = absl::StrCat("Conferences/", UrlEscape(conference), "/Participants.json");
  op->body = EncodeForm(params);
  op->repeatable = false;  // like a create call: a repeat could ring the agent twice
  op->started = absl::Now();
  op->done = Typed<ParticipantResource>(core_->options.system_name, op->what, std::move(done),
                                        ParseParticipant);
  core_->Attempt(std::move(op));
}

}  // namespace voipd::adapters::twilio
