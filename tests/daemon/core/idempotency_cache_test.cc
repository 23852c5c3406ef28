#include "daemon/core/idempotency_cache.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "adapters/api/voip_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using ClaimOutcome = IdempotencyCache::ClaimOutcome;
using Result = IdempotencyCache::Result;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::Duration kTtl = absl::Hours(24);

// Records what a waiter was called with (and how often).
struct Recorder {
  absl::Mutex mu;
  int calls ABSL_GUARDED_BY(mu) = 0;
  std::optional<Result> result ABSL_GUARDED_BY(mu);
  absl::Notification done;

  IdempotencyCache::Waiter Waiter() {
    return [this](Result r) {
      {
        absl::MutexLock lock(&mu);
        ++calls;
        result = std::move(r);
      }
      if (!done.HasBeenNotified()) done.Notify();
    };
  }
  int Calls() {
    absl::MutexLock lock(&mu);
    return calls;
  }
  std::optional<Result> Got() {
    absl::MutexLock lock(&mu);
    return result;
  }
};

IdempotencyCache::Waiter Ignore() {
  return [](Result) {};
}

ClaimOutcome MustClaim(IdempotencyCache& cache, const std::string& key, uint64_t fingerprint,
                       IdempotencyCache::Waiter waiter, absl::Time now) {
  absl::StatusOr<ClaimOutcome> outcome = cache.Claim(key, fingerprint, std::move(waiter), now);
  EXPECT_TRUE(outcome.ok()) << key << ": " << outcome.status();
  return outcome.value_or(ClaimOutcome::kClaimed);
}

// Claims `key` and completes it with a session id named after it.
void ClaimAndComplete(IdempotencyCache& cache, const std::string& key, absl::Time now) {
  ASSERT_EQ(MustClaim(cache, key, 1, Ignore(), now), ClaimOutcome::kClaimed) << key;
  cache.Complete(key, "session-" + key);
}

TEST(IdempotencyCacheTest, NewKeyIsClaimedWithoutCallingWaiter) {
  IdempotencyCache cache(kTtl, 100);
  Recorder rec;
  EXPECT_EQ(MustClaim(cache, "r1", 1, rec.Waiter(), kT0), ClaimOutcome::kClaimed);
  EXPECT_EQ(rec.Calls(), 0);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(IdempotencyCacheTest, ReplayAfterCompleteReturnsStoredSessionIdAtOnce) {
  // A retried StartCall must get the same session and never dial twice.
  IdempotencyCache cache(kTtl, 100);
  ASSERT_EQ(MustClaim(cache, "r1", 7, Ignore(), kT0), ClaimOutcome::kClaimed);
  cache.Complete("r1", std::string("s-123"));
  Recorder rec;
  EXPECT_EQ(MustClaim(cache, "r1", 7, rec.Waiter(), kT0 + absl::Minutes(1)),
            ClaimOutcome::kReplayed);
  ASSERT_EQ(rec.Calls(), 1);  // synchronously, before Claim returned
  ASSERT_TRUE(rec.Got()->ok());
  EXPECT_EQ(**rec.Got(), "s-123");
}

TEST(IdempotencyCacheTest, ReplayAfterCompleteReturnsStoredErrorWithPayload) {
  // A request that failed must fail the same way on retry, VoipError and all.
  IdempotencyCache cache(kTtl, 100);
  ASSERT_EQ(MustClaim(cache, "r1", 7, Ignore(), kT0), ClaimOutcome::kClaimed);
  cache.Complete("r1", InvalidNumberError("to.number", "to.number: bad"));
  Recorder rec;
  EXPECT_EQ(MustClaim(cache, "r1", 7, rec.Waiter(), kT0), ClaimOutcome::kReplayed);
  ASSERT_EQ(rec.Calls(), 1);
  const absl::Status status = rec.Got()->status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "to.number: bad");
  EXPECT_EQ(GetErrorCode(status), voip::v1::INVALID_NUMBER);
}

TEST(IdempotencyCacheTest, EveryReplayGetsTheSameResult) {
  IdempotencyCache cache(kTtl, 100);
  ClaimAndComplete(cache, "r1", kT0);
  for (int i = 0; i < 3; ++i) {
    Recorder rec;
    EXPECT_EQ(MustClaim(cache, "r1", 1, rec.Waiter(), kT0), ClaimOutcome::kReplayed);
    ASSERT_EQ(rec.Calls(), 1);
    EXPECT_EQ(**rec.Got(), "session-r1");
  }
}

TEST(IdempotencyCacheTest, RetryWhilePendingWaitsAndIsReleasedByComplete) {
  // A retry that races the first request must not start a second call; it
  // waits for the first request's outcome.
  IdempotencyCache cache(kTtl, 100);
  ASSERT_EQ(MustClaim(cache, "r1", 1, Ignore(), kT0), ClaimOutcome::kClaimed);
  Recorder first_retry;
  Recorder second_retry;
  EXPECT_EQ(MustClaim(cache, "r1", 1, first_retry.Waiter(), kT0), ClaimOutcome::kReplayed);
  EXPECT_EQ(MustClaim(cache, "r1", 1, second_retry.Waiter(), kT0), ClaimOutcome::kReplayed);
  EXPECT_EQ(first_retry.Calls(), 0);
  EXPECT_EQ(second_retry.Calls(), 0);

  std::thread worker([&cache] { cache.Complete("r1", std::string("s-9")); });
  ASSERT_TRUE(first_retry.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(second_retry.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  worker.join();
  EXPECT_EQ(first_retry.Calls(), 1);
  EXPECT_EQ(second_retry.Calls(), 1);
  EXPECT_EQ(**first_retry.Got(), "s-9");
  EXPECT_EQ(**second_retry.Got(), "s-9");
}

TEST(IdempotencyCacheTest, WaitersRunOutsideTheLock) {
  // Waiters finish RPCs and may touch the cache again; calling them under
  // the cache lock would deadlock.
  IdempotencyCache cache(kTtl, 100);
  ASSERT_EQ(MustClaim(cache, "r1", 1, Ignore(), kT0), ClaimOutcome::kClaimed);
  size_t seen_size = 0;
  ASSERT_EQ(MustClaim(cache, "r1", 1, [&](Result) { seen_size = cache.size(); }, kT0),
            ClaimOutcome::kReplayed);
  cache.Complete("r1", std::string("s"));
  EXPECT_EQ(seen_size, 1u);
  // Same for an immediate replay.
  seen_size = 0;
  ASSERT_EQ(MustClaim(cache, "r1", 1, [&](Result) { seen_size = cache.size(); }, kT0),
            ClaimOutcome::kReplayed);
  EXPECT_EQ(seen_size, 1u);
}

TEST(IdempotencyCacheTest, DifferentFingerprintIsIdempotencyMismatchNamingRequestId) {
  IdempotencyCache cache(kTtl, 100);
  ClaimAndComplete(cache, "order-77", kT0);
  Recorder rec;
  absl::StatusOr<ClaimOutcome> outcome = cache.Claim("order-77", 2, rec.Waiter(), kT0);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kInvalidArgument);
  std::optional<voip::v1::VoipError> error = GetVoipError(outcome.status());
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error_code(), voip::v1::IDEMPOTENCY_MISMATCH);
  EXPECT_EQ(error->field(), "request_id");
  EXPECT_THAT(outcome.status().message(), HasSubstr("order-77"));
  // Another request's result must never be handed out.
  EXPECT_EQ(rec.Calls(), 0);
}

TEST(IdempotencyCacheTest, MismatchWhilePendingIsRejectedAndDoesNotWait) {
  IdempotencyCache cache(kTtl, 100);
  ASSERT_EQ(MustClaim(cache, "r1", 1, Ignore(), kT0), ClaimOutcome::kClaimed);
  Recorder rec;
  absl::StatusOr<ClaimOutcome> outcome = cache.Claim("r1", 2, rec.Waiter(), kT0);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(GetErrorCode(outcome.status()), voip::v1::IDEMPOTENCY_MISMATCH);
  cache.Complete("r1", std::string("s"));
  EXPECT_EQ(rec.Calls(), 0);
}

TEST(IdempotencyCacheTest, MismatchLeavesTheOriginalResultIntact) {
  IdempotencyCache cache(kTtl, 100);
  ClaimAndComplete(cache, "r1", kT0);
  ASSERT_FALSE(cache.Claim("r1", 99, Ignore(), kT0).ok());
  Recorder rec;
  EXPECT_EQ(MustClaim(cache, "r1", 1, rec.Waiter(), kT0), ClaimOutcome::kReplayed);
  EXPECT_EQ(**rec.Got(), "session-r1");
}

TEST(IdempotencyCacheTest, KeysAreIndependent) {
  IdempotencyCache cache(kTtl, 100);
  ClaimAndComplete(cache, "a", kT0);
  EXPECT_EQ(MustClaim(cache, "b", 2, Ignore(), kT0), ClaimOutcome::kClaimed);
}

TEST(IdempotencyCacheTest, TtlExpiryForgetsTheKey) {
  IdempotencyCache cache(kTtl, 100);
  ClaimAndComplete(cache, "r1", kT0);
  // Just before expiry the key is remembered...
  Recorder rec;
  EXPECT_EQ(MustClaim(cache, "r1", 1, rec.Waiter(), kT0 + kTtl - absl::Nanoseconds(1)),
            ClaimOutcome::kReplayed);
  EXPECT_EQ(rec.Calls(), 1);
  // ...at expiry it is gone: even other parameters may use it now.
  EXPECT_EQ(MustClaim(cache, "r1", 2, Ignore(), kT0 + kTtl), ClaimOutcome::kClaimed);
}

TEST(IdempotencyCacheTest, PendingKeyIsNeverForgottenEvenPastTtl) {
  // A request that hangs longer than the TTL is still running; a retry must
  // wait for it rather than start a second call.
  IdempotencyCache cache(kTtl, 100);
  ASSERT_EQ(MustClaim(cache, "r1", 1, Ignore(), kT0), ClaimOutcome::kClaimed);
  Recorder rec;
  EXPECT_EQ(MustClaim(cache, "r1", 1, rec.Waiter(), kT0 + 10 * kTtl), ClaimOutcome::kReplayed);
  cache.Complete("r1", std::string("s-late"));
  ASSERT_EQ(rec.Calls(), 1);
  EXPECT_EQ(**rec.Got(), "s-late");
}

TEST(IdempotencyCacheTest, ExpiredDoneKeysBehindAPendingKeyAreStillForgotten) {
  // One hung request must not pin every later key in memory past its TTL.
  IdempotencyCache cache(kTtl, 100);
  ASSERT_EQ(MustClaim(cache, "hung", 1, Ignore(), kT0), ClaimOutcome::kClaimed);
  ClaimAndComplete(cache, "done", kT0 + absl::Seconds(1));
  // Well past the TTL of "done": it must be claimable afresh.
  EXPECT_EQ(MustClaim(cache, "done", 2, Ignore(), kT0 + 2 * kTtl), ClaimOutcome::kClaimed);
}

TEST(IdempotencyCacheTest, MaxKeysEvictsOldestDoneKeyFirst) {
  IdempotencyCache cache(kTtl, /*max_keys=*/2);
  ClaimAndComplete(cache, "a", kT0);
  ClaimAndComplete(cache, "b", kT0 + absl::Seconds(1));
  ClaimAndComplete(cache, "c", kT0 + absl::Seconds(2));
  // "b" and "c" are the two newest and must still replay.
  Recorder b;
  EXPECT_EQ(MustClaim(cache, "b", 1, b.Waiter(), kT0 + absl::Seconds(3)), ClaimOutcome::kReplayed);
  Recorder c;
  EXPECT_EQ(MustClaim(cache, "c", 1, c.Waiter(), kT0 + absl::Seconds(3)), ClaimOutcome::kReplayed);
  EXPECT_EQ(b.Calls(), 1);
  EXPECT_EQ(c.Calls(), 1);
  // "a" was evicted: a different request may take the key.
  EXPECT_EQ(MustClaim(cache, "a", 2, Ignore(), kT0 + absl::Seconds(3)), ClaimOutcome::kClaimed);
}

TEST(IdempotencyCacheTest, NeverHoldsMoreThanMaxKeys) {
  // idempotency_max_keys is documented as "at most this many keys are kept".
  IdempotencyCache cache(kTtl, /*max_keys=*/2);
  for (int i = 0; i < 5; ++i) {
    ClaimAndComplete(cache, absl::StrCat("k", i), kT0 + absl::Seconds(i));
    EXPECT_LE(cache.size(), 2u) << "after claiming k" << i;
  }
}

TEST(IdempotencyCacheTest, MaxKeysNeverEvictsAPendingKey) {
  IdempotencyCache cache(kTtl, /*max_keys=*/2);
  ASSERT_EQ(MustClaim(cache, "pending", 1, Ignore(), kT0), ClaimOutcome::kClaimed);
  for (int i = 0; i < 5; ++i) {
    ClaimAndComplete(cache, absl::StrCat("k", i), kT0 + absl::Seconds(i + 1));
  }
  Recorder rec;
  EXPECT_EQ(MustClaim(cache, "pending", 1, rec.Waiter(), kT0 + absl::Seconds(10)),
            ClaimOutcome::kReplayed);
  EXPECT_EQ(rec.Calls(), 0);  // still waiting for the first request
  cache.Complete("pending", std::string("s-p"));
  EXPECT_EQ(rec.Calls(), 1);
}

TEST(IdempotencyCacheTest, MaxKeysStillEvictsDoneKeysBehindAPendingKey) {
  // One hung request must not disable the key limit for everything after
  // it: the cache would grow without bound.
  constexpr size_t kMax = 10;
  IdempotencyCache cache(kTtl, kMax);
  ASSERT_EQ(MustClaim(cache, "hung", 1, Ignore(), kT0), ClaimOutcome::kClaimed);
  for (int i = 0; i < 100; ++i) {
    ClaimAndComplete(cache, absl::StrCat("k", i), kT0 + absl::Seconds(i + 1));
  }
  // Allow the one key just claimed on top of the limit.
  EXPECT_LE(cache.size(), kMax + 1);
}

TEST(IdempotencyCacheTest, CompleteOfUnknownKeyIsIgnored) {
  IdempotencyCache cache(kTtl, 100);
  cache.Complete("never-claimed", std::string("s"));
  EXPECT_EQ(cache.size(), 0u);
  // And the key is still free to claim.
  EXPECT_EQ(MustClaim(cache, "never-claimed", 1, Ignore(), kT0), ClaimOutcome::kClaimed);
}

TEST(IdempotencyCacheTest, SetLimitsShorterTtlAppliesToExistingKeys) {
  // A config reload that lowers idempotency_ttl takes effect at once.
  IdempotencyCache cache(kTtl, 100);
  ClaimAndComplete(cache, "r1", kT0);
  cache.SetLimits(absl::Minutes(5), 100);
  EXPECT_EQ(MustClaim(cache, "r1", 2, Ignore(), kT0 + absl::Minutes(5)), ClaimOutcome::kClaimed);
}

TEST(IdempotencyCacheTest, SetLimitsLowerMaxKeysEvictsOnNextClaim) {
  IdempotencyCache cache(kTtl, 100);
  for (int i = 0; i < 5; ++i) ClaimAndComplete(cache, absl::StrCat("k", i), kT0);
  cache.SetLimits(kTtl, 2);
  // The oldest key is gone after the next claim.
  ClaimAndComplete(cache, "new", kT0);
  EXPECT_EQ(MustClaim(cache, "k0", 2, Ignore(), kT0), ClaimOutcome::kClaimed);
}

}  // namespace
}  // namespace voipd

namespace voipd {
namespace {

TEST(IdempotencyCacheTest, RecorderSeesEveryCompletedKeyWithItsFingerprint) {
  IdempotencyCache cache(kTtl, 100);
  std::vector<std::tuple<std::string, uint64_t, absl::Time, std::string>> recorded;
  cache.SetRecorder([&](const std::string& key, uint64_t fingerprint, absl::Time claimed_at,
                        const IdempotencyCache::Result& result) {
    recorded.emplace_back(key, fingerprint, claimed_at, result.ok() ? *result : "error");
  });
  ASSERT_EQ(MustClaim(cache, "r1", 7, Ignore(), kT0), ClaimOutcome::kClaimed);
  EXPECT_TRUE(recorded.empty());  // a pending key is not durable state
  cache.Complete("r1", std::string("s-1"));
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0], std::make_tuple(std::string("r1"), uint64_t{7}, kT0, std::string("s-1")));
}

TEST(IdempotencyCacheTest, RestoredKeysReplayAndStillRefuseOtherParameters) {
  // After a restart: the key read back from history answers retries.
  IdempotencyCache cache(kTtl, 100);
  cache.Restore("r1", 7, kT0, std::string("s-restored"));
  Recorder rec;
  EXPECT_EQ(MustClaim(cache, "r1", 7, rec.Waiter(), kT0 + absl::Minutes(1)),
            ClaimOutcome::kReplayed);
  ASSERT_EQ(rec.Calls(), 1);
  EXPECT_EQ(**rec.Got(), "s-restored");
  absl::StatusOr<ClaimOutcome> mismatch = cache.Claim("r1", 8, Ignore(), kT0 + absl::Minutes(1));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(GetVoipError(mismatch.status())->error_code(), voip::v1::IDEMPOTENCY_MISMATCH);
  // Restored keys expire like any other.
  EXPECT_EQ(MustClaim(cache, "r1", 8, Ignore(), kT0 + kTtl + absl::Minutes(1)),
            ClaimOutcome::kClaimed);
}

}  // namespace
}  // namespace voipd
