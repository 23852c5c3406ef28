#include "daemon/security/call_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd {

CallLimiter::CallLimiter(IsActive is_active, Clock clock)
    : is_active_(std::move(is_active)), clock_(std::move(clock)) {}

void CallLimiter::SetLimits(const std::vector<TokenSpec>& tokens) {
  std::map<std::string, Limits> limits;
  for (const TokenSpec& t : tokens) {
    Limits l;
    l.per_second = t.start_calls_per_minute / 60.0;
    l.burst = t.start_call_burst > 0 ? t.start_call_burst : t.start_calls_per_minute;
    l.max_concurrent = t.max_concurrent_calls;
    limits[t.name] = l;
  }
  absl::MutexLock lock(&mu_);
  limits_ = std::move(limits);
}

absl::Status CallLimiter::Acquire(const std::string& token) {
  absl::MutexLock lock(&mu_);
  auto it = limits_.find(token);
  if (it == limits_.end()) return absl::OkStatus();  // anonymous or unlimited
  const Limits& limits = it->second;
  State& state = state_[token];

  if (limits.max_concurrent > 0) {
    // Forget calls that ended; the set holds at most max_concurrent entries,
    // so this stays cheap.
    for (auto s = state.active.begin(); s != state.active.end();) {
      s = is_active_(*s) ? std::next(s) : state.active.erase(s);
    }
    if (state.active.size() + state.pending >= limits.max_concurrent) {
      return RateLimitedError(absl::StrCat("token '", token, "' already has ",
                                           limits.max_concurrent,
                                           " active calls (max_concurrent_calls)"),
                              "max_concurrent_calls");
    }
  }
  if (limits.per_second > 0) {
    const absl::Time now = clock_();
    if (!state.primed) {
      state.tokens = limits.burst;
      state.refilled = now;
      state.primed = true;
    }
    const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - state.refilled));
    state.tokens = std::min(limits.burst, state.tokens + elapsed * limits.per_second);
    state.refilled = now;
    if (state.tokens < 1.0) {
      return RateLimitedError(absl::StrCat("token '", token,
                                           "' exceeded its StartCall rate (start_calls_per_minute)"),
                              "start_calls_per_minute");
    }
    state.tokens -= 1.0;
  }
  ++state.pending;
  return absl::OkStatus();
}

void CallLimiter::Release(const std::string& token, std::optional<std::string> session_id) {
  absl::MutexLock lock(&mu_);
  auto it = state_.find(token);
  if (it == state_.end()) return;
  if (it->second.pending > 0) --it->second.pending;
  if (session_id.has_value()) it->second.active.insert(*std::move(session_id));
}

}  // namespace voipd
