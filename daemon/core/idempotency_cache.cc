#include "daemon/core/idempotency_cache.h"

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd {

IdempotencyCache::IdempotencyCache(absl::Duration ttl, size_t max_keys)
    : ttl_(ttl), max_keys_(max_keys == 0 ? 1 : max_keys) {}

void IdempotencyCache::Prune(absl::Time now) {
  while (!expiry_.empty() &&
         (expiry_.front().first + ttl_ <= now || expiry_.size() > max_keys_)) {
    entries_.erase(expiry_.front().second);
    expiry_.pop_front();
  }
}

absl::StatusOr<IdempotencyCache::ClaimOutcome> IdempotencyCache::Claim(
    const std::string& key, uint64_t fingerprint, Waiter on_result, absl::Time now) {
  Result stored;
  {
    absl::MutexLock lock(&mu_);
    Prune(now);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      Entry& entry = entries_[key];
      entry.fingerprint = fingerprint;
      entry.claimed_at = now;
      return ClaimOutcome::kClaimed;
    }
    Entry& entry = it->second;
    if (entry.fingerprint != fingerprint) {
      return MakeVoipError(voip::v1::IDEMPOTENCY_MISMATCH,
                           absl::StrCat("request_id: '", key,
                                        "' was already used for a request with other parameters"),
                           "request_id");
    }
    if (!entry.done) {
      entry.waiters.push_back(std::move(on_result));
      return ClaimOutcome::kReplayed;
    }
    stored = entry.result;
  }
  std::move(on_result)(std::move(stored));
  return ClaimOutcome::kReplayed;
}

void IdempotencyCache::Complete(const std::string& key, Result result) {
  std::vector<Waiter> waiters;
  Recorder recorder;
  uint64_t fingerprint = 0;
  absl::Time claimed_at;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.done) return;
    it->second.done = true;
    it->second.result = result;
    waiters.swap(it->second.waiters);
    expiry_.emplace_back(it->second.claimed_at, key);
    fingerprint = it->second.fingerprint;
    claimed_at = it->second.claimed_at;
    recorder = recorder_;
    Prune(it->second.claimed_at);
  }
  if (recorder) recorder(key, fingerprint, claimed_at, result);
  for (auto& waiter : waiters) std::move(waiter)(result);
}

void IdempotencyCache::SetRecorder(Recorder recorder) {
  absl::MutexLock lock(&mu_);
  recorder_ = std::move(recorder);
}

void IdempotencyCache::Restore(const std::string& key, uint64_t fingerprint, absl::Time claimed_at,
                               Result result) {
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[key];
  if (entry.done) return;
  entry.fingerprint = fingerprint;
  entry.claimed_at = claimed_at;
  entry.done = true;
  entry.result = std::move(result);
  expiry_.emplace_back(claimed_at, key);
}

void IdempotencyCache::SetLimits(absl::Duration ttl, size_t max_keys) {
  absl::MutexLock lock(&mu_);
  ttl_ = ttl;
  max_keys_ = max_keys == 0 ? 1 : max_keys;
}

size_t IdempotencyCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace voipd
