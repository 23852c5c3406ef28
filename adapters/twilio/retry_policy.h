// When and how long to wait before repeating a failed Twilio request:
// exponential backoff with jitter, never sooner than Retry-After, bounded in
// attempts and in total time.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace voipd::adapters::twilio {

struct RetryPolicy {
  int max_attempts = 4;                               // the first attempt included
  absl::Duration budget = absl::Seconds(30);          // no retry starts later than this
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(8);
};

// Retry-After as delta-seconds ("3") or an HTTP-date; nullopt if absent or
// unparseable. A date in the past gives zero.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

// The delay before attempt `failed_attempts + 1`, or nullopt to give up.
// `elapsed`: time since the first attempt started. `jitter` in [0, 1)
// spreads retries of many clients (the backoff is scaled by 0.5 + jitter/2).
std::optional<absl::Duration> NextRetryDelay(const RetryPolicy& policy, int failed_attempts,
                                             absl::Duration elapsed,
                                             std::optional<absl::Duration> retry_after,
                                             double jitter);

}  // namespace voipd::adapters::twilio
