// Per-token limits on StartCall: a token bucket for the rate and a cap on
// the token's calls that are active at once. Both answer RESOURCE_EXHAUSTED
// with RATE_LIMITED. State is kept by token name, so a reload that changes
// a limit keeps the counts.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/security/security_settings.h"

namespace voipd {

class CallLimiter {
 public:
  // Whether a session is still active (not terminal, still known).
  using IsActive = std::function<bool(const std::string& session_id)>;
  using Clock = std::function<absl::Time()>;

  explicit CallLimiter(IsActive is_active, Clock clock = [] { return absl::Now(); });

  void SetLimits(const std::vector<TokenSpec>& tokens);

  // Reserves one StartCall for `token`. Every OK must be followed by exactly
  // one Release, with the session id when a call was created.
  absl::Status Acquire(const std::string& token);
  void Release(const std::string& token, std::optional<std::string> session_id);

 private:
  struct Limits {
    double per_second = 0;  // 0 = no rate limit
    double burst = 0;
    uint32_t max_concurrent = 0;  // 0 = no cap
  };
  struct State {
    double tokens = 0;
    absl::Time refilled;
    bool primed = false;
    int pending = 0;  // StartCalls admitted and still running
    std::set<std::string> active;
  };

  const IsActive is_active_;
  const Clock clock_;
  absl::Mutex mu_;
  std::map<std::string, Limits> limits_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, State> state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd
