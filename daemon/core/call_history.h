// What the controller needs from durable history (daemon/history), as an
// interface so that the core does not depend on SQLite: past calls for
// ListCalls/GetCallStatus, and "tell me when this event is on disk".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd {

class CallHistory {
 public:
  virtual ~CallHistory() = default;
  // Waits (bounded) until what was published so far is written, so that a
  // read after a write sees it. False on timeout.
  virtual bool Sync(absl::Duration timeout) = 0;
  virtual absl::StatusOr<voip::v1::ListCallsResponse> List(
      const voip::v1::ListCallsRequest& request, const std::string& number) = 0;
  virtual absl::StatusOr<std::optional<voip::v1::CallSession>> Get(
      const std::string& session_id) = 0;
  // Runs `fn` once the event with `sequence` went through a write batch.
  virtual void WhenDurable(uint64_t sequence, absl::AnyInvocable<void() &&> fn) = 0;
};

}  // namespace voipd
