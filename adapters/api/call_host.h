// What an adapter may ask of the core besides reporting events: a call that
// started on the provider's side (inbound), a call that an endpoint served by
// the adapter asks to place (a browser agent pressing "call"), and a check
// of an API token presented on the adapter's own listener. Keeps adapters
// away from the core's internals (containerd's InitContext, not globals).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voip/v1/call.pb.h"

namespace voipd::adapters {

struct InboundCall {
  // The provider's own id, so that later operations can find the call.
  std::string provider_call_id;
  // The caller as the provider reports it (caller id, URI, identity).
  std::string from;
  // What was dialled (DID, extension, identity).
  std::string to;
  std::map<std::string, std::string> labels;
};

// A call an adapter's own endpoint asks the core to place on that adapter's
// system; it takes the same path (validation, idempotency, events) as the
// StartCall RPC with preferred_system set to the adapter's system.
struct PlaceCallRequest {
  std::string from;
  std::string to;  // as typed: identity, number, URI or extension
  std::string request_id;
  std::map<std::string, std::string> labels;
  // The name of the token the call is placed for (ApiCaller::name): its
  // per-token limits and request_id namespace apply as to its StartCalls.
  std::string token;
};

// Who presented an API token, reduced to what an adapter may need.
struct ApiCaller {
  std::string name;
  bool can_read = false;   // calls:read
  bool can_write = false;  // calls:write
  // Tenant restriction of the token: calls it starts carry these labels.
  std::map<std::string, std::string> labels;
  // The SHA-256 of the token presented (what the config holds; never the
  // token itself), for Reauthenticate; nullopt when none was presented.
  std::optional<std::string> token_sha256;
};

// Stops a WatchSystem feed when destroyed.
class CallWatch {
 public:
  virtual ~CallWatch() = default;
};

class CallHost {
 public:
  using SessionCallback = absl::AnyInvocable<void(absl::StatusOr<voip::v1::CallSession>) &&>;
  virtual ~CallHost() = default;

  // A call reached the provider. The core creates a session with
  // direction INBOUND, announces it (initiating, then ringing) and returns
  // its session_id; the adapter then reports the call's events (answered,
  // ended...) with that id, and receives EndCall/Hold/Mute for it.
  // UNAVAILABLE while the daemon shuts down.
  virtual absl::StatusOr<voip::v1::CallSession> AcceptInbound(absl::string_view system_name,
                                                               InboundCall call) = 0;

  // Places an outbound call on `system_name`; `done` gets the session (or
  // the same error StartCall would return), exactly once, on any thread —
  // possibly before PlaceCall returns, and the core calls back into the
  // adapter's StartCall on this thread: never call it holding your locks.
  virtual void PlaceCall(absl::string_view system_name, PlaceCallRequest request,
                         SessionCallback done) = 0;

  // Every event the core publishes for calls on `system_name` from now on,
  // in order, as clients see them (the core's state, not the adapter's
  // facts): for endpoints the adapter serves that show call state (a
  // browser's call-status widget). `on_event` runs on a core thread and must
  // not block; it stops being called once the returned watch is destroyed
  // (a call already running may finish).
  virtual absl::StatusOr<std::unique_ptr<CallWatch>> WatchSystem(
      absl::string_view system_name,
      std::function<void(const voip::v1::CallEvent& event)> on_event) = 0;

  // Checks a bearer token against the API's token table. When the daemon
  // has no tokens configured it returns an "anonymous" caller with every
  // scope: the adapter's listener policy must then be loopback-only too.
  virtual absl::StatusOr<ApiCaller> Authenticate(absl::string_view bearer_token) const = 0;
  // False when no tokens are configured (everyone is "anonymous"): an
  // adapter must then keep its own listener on loopback.
  virtual bool AuthenticationRequired() const = 0;

  // Tokens change on reload (rotated, revoked, scopes or labels changed), and
  // a session the adapter authenticated earlier (a registered page) must not
  // outlive its token's rights. Reauthenticate: `caller` (from
  // Authenticate) as the current table has it, or UNAUTHENTICATED when its
  // token was removed or rotated or a token is now required.
  virtual absl::StatusOr<ApiCaller> Reauthenticate(const ApiCaller& caller) const = 0;
  // Runs `on_change` after each reload of the token table, on the reloading
  // thread (it must not block), until the returned watch is destroyed.
  virtual std::unique_ptr<CallWatch> WatchTokens(std::function<void()> on_change) = 0;
};

}  // namespace voipd::adapters
