// Remembers request_id keys so that a retried mutating RPC neither acts twice
// nor answers differently (Stripe/Twilio-style idempotency keys).
//
// A key is first *claimed* by the request that will do the work; retries that
// arrive while it runs wait for its result, and later retries get the stored
// result at once. A retry whose parameters differ from the first request's is
// refused (IDEMPOTENCY_MISMATCH) rather than silently answered with another
// request's result.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace voipd {

class IdempotencyCache {
 public:
  // The stored outcome: a session id, or the error the first request got.
  using Result = absl::StatusOr<std::string>;
  using Waiter = absl::AnyInvocable<void(Result) &&>;

  IdempotencyCache(absl::Duration ttl, size_t max_keys);

  enum class ClaimOutcome {
    kClaimed,  // new key: do the work, then call Complete()
    kReplayed, // `on_result` has been / will be called with the stored result
  };
  // `fingerprint` identifies the request's parameters. Errors:
  // IDEMPOTENCY_MISMATCH when the key was used for different parameters.
  absl::StatusOr<ClaimOutcome> Claim(const std::string& key, uint64_t fingerprint,
                                     Waiter on_result, absl::Time now);
  // Stores the result of a claimed key and releases the waiters (outside the
  // lock). Unknown keys are ignored.
  // Expiry counts from the claim, on the clock Claim() was given.
  void Complete(const std::string& key, Result result);

  // Durable history: `recorder` is told every completed key (outside the
  // lock), and Restore() puts keys read back after a restart (in claim
  // order) into the cache as completed.
  using Recorder = std::function<void(const std::string& key, uint64_t fingerprint,
                                      absl::Time claimed_at, const Result& result)>;
  void SetRecorder(Recorder recorder);
  void Restore(const std::string& key, uint64_t fingerprint, absl::Time claimed_at, Result result);

  void SetLimits(absl::Duration ttl, size_t max_keys);
  size_t size() const;

 private:
  struct Entry {
    uint64_t fingerprint = 0;
    absl::Time claimed_at;
    bool done = false;
    Result result = absl::UnknownError("pending");
    std::vector<Waiter> waiters;
  };
  void Prune(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::Duration ttl_ ABSL_GUARDED_BY(mu_);
  size_t max_keys_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Completed keys in completion order = expiry order (one TTL for all).
  // Pending keys are not in it: they are never forgotten while their
  // retries wait, and their number is bounded by the requests in flight.
  std::deque<std::pair<absl::Time, std::string>> expiry_ ABSL_GUARDED_BY(mu_);
  Recorder recorder_ ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd
