// Group commit: events and idempotency keys are queued from any thread (a
// cheap append under a mutex) and one thread writes whatever has queued up
// in one SQLite transaction. StartCall therefore never waits for an fsync,
// yet with synchronous=FULL a batch is on disk before its events are shown
// to anyone (EventBus::MarkDurable) — the "acknowledged means durable" rule.
//
// When the disk fails (full, read-only, I/O error) the batch is dropped
// from history, the journal reports itself unhealthy and logs the error, and
// events are still released: calls keep working without durable history.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/history/history_store.h"

namespace voipd::history {

class HistoryJournal {
 public:
  struct Hooks {
    // After each batch (written or failed): the highest event sequence in it.
    std::function<void(uint64_t sequence)> on_durable;
    // The oldest idempotency claim still worth keeping (now - ttl).
    std::function<absl::Time()> keys_cutoff;
  };
  HistoryJournal(HistoryStore* store, Hooks hooks, absl::Duration prune_every = absl::Hours(1));
  ~HistoryJournal();  // writes what is queued, then stops

  void Append(std::shared_ptr<const voip::v1::CallEvent> event);
  void AppendKey(IdempotencyRecord record);
  // Runs `fn` (on the writer thread, or here if already done) once the
  // event with `sequence` has been through a batch.
  void WhenDurable(uint64_t sequence, absl::AnyInvocable<void() &&> fn);
  // Waits until everything appended before this call went through a batch.
  bool Flush(absl::Duration timeout);

  bool healthy() const;
  // The last write error, OK when healthy.
  absl::Status last_error() const;
  uint64_t write_errors() const;
  uint64_t batches() const;

 private:
  void Run();

  HistoryStore* const store_;
  const Hooks hooks_;
  const absl::Duration prune_every_;
  mutable absl::Mutex mu_;
  WriteBatch pending_ ABSL_GUARDED_BY(mu_);
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;  // items ever queued
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;   // items through a batch
  uint64_t durable_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::multimap<uint64_t, absl::AnyInvocable<void() &&>> waiters_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  uint64_t write_errors_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace voipd::history
