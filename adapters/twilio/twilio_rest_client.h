// Twilio's REST API v2010 as voipd uses it: create, update and fetch a Call,
// find a Conference by name, update or create a conference Participant.
// Adds Basic authentication per attempt (credentials may be re-read), and
// retries 429, 5xx and connection failures with backoff (RetryPolicy),
// honouring Retry-After; Twilio's errors become VoipErrors (twilio_errors.h).
//
// A create is never repeated after a failure that may have reached Twilio
// (timeout, broken connection): Twilio has no idempotency key for calls, and
// a second POST could ring the callee twice.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "adapters/twilio/http_transport.h"
#include "adapters/twilio/retry_policy.h"
#include "adapters/twilio/twilio_credentials.h"
#include "adapters/twilio/twilio_signature.h"

namespace boost::asio {
class io_context;
}

namespace voipd::adapters::twilio {

struct CallResource {
  std::string sid;     // "CA..."
  std::string status;  // Twilio CallStatus
};

struct ParticipantResource {
  std::string call_sid;
  std::string conference_sid;
};

struct RestClientOptions {
  std::string system_name;
  std::string base_url;  // no trailing '/'
  TransportOptions transport;
  RetryPolicy retry;
};

// How each attempt went, for the adapter's health: `transient` is a 429,
// 5xx or network failure; `auth` a 401/403. OK means Twilio answered.
using AttemptObserver = std::function<void(const absl::Status& status, bool transient, bool auth)>;

template <typename T>
using RestCallback = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;

class TwilioRestClient {
 public:
  TwilioRestClient(boost::asio::io_context* io, RestClientOptions options,
                   std::shared_ptr<TwilioCredentials> credentials, AttemptObserver observer);
  ~TwilioRestClient();  // Stop()

  // Callbacks run exactly once, on the transport thread or an io thread
  // (or inline with an error once stopped).
  void CreateCall(const FormParams& params, RestCallback<CallResource> done);
  void UpdateCall(const std::string& call_sid, const FormParams& params,
                  RestCallback<CallResource> done);
  void FetchCall(const std::string& call_sid, RestCallback<CallResource> done);
  // The SID of the in-progress conference called `friendly_name`, or ""
  // when there is none (yet).
  void FindConference(const std::string& friendly_name, RestCallback<std::string> done);
  void UpdateParticipant(const std::string& conference_sid, const std::string& call_sid,
                         const FormParams& params, RestCallback<ParticipantResource> done);
  // Dials a new participant into the conference `conference` (SID or name).
  void CreateParticipant(const std::string& conference, const FormParams& params,
                         RestCallback<ParticipantResource> done);

  // Runs `alive` on the transport thread (HttpTransport::CheckAlive).
  void CheckAlive(absl::AnyInvocable<void() &&> alive);

  // Cancels retry timers, stops the transport; pending operations complete
  // with NETWORK_ERROR. Idempotent.
  void Stop();

 private:
  struct Core;
  struct Operation;
  std::shared_ptr<Core> core_;
};

}  // namespace voipd::adapters::twilio
