#include "adapters/twilio/retry_policy.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"

namespace voipd::adapters::twilio {

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  // RFC 9110 IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT".
  absl::Time at;
  std::string error;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(), &at, &error)) {
    return std::max(absl::ZeroDuration(), at - now);
  }
  return std::nullopt;
}

std::optional<absl::Duration> NextRetryDelay(const RetryPolicy& policy, int failed_attempts,
                                             absl::Duration elapsed,
                                             std::optional<absl::Duration> retry_after,
                                             double jitter) {
  if (failed_attempts >= policy.max_attempts) return std::nullopt;
  absl::Duration backoff = policy.initial_backoff;
  for (int i = 1; i < failed_attempts && backoff < policy.max_backoff; ++i) backoff *= 2;
  backoff = std::min(backoff, policy.max_backoff);
  backoff = backoff * (0.5 + std::clamp(jitter, 0.0, 1.0) / 2);
  // Twilio's Retry-After is a floor, never shortened by our own schedule.
  const absl::Duration delay = retry_after ? std::max(*retry_after, backoff) : backoff;
  // Waiting past the budget would only delay the same error.
  if (elapsed + delay > policy.budget) return std::nullopt;
  return delay;
}

}  // namespace voipd::adapters::twilio
