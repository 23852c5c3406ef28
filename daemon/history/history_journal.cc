#include "daemon/history/history_journal.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"
#include "daemon/logging.h"

namespace voipd::history {

HistoryJournal::HistoryJournal(HistoryStore* store, Hooks hooks, absl::Duration prune_every)
    : store_(store), hooks_(std::move(hooks)), prune_every_(prune_every) {
  thread_ = std::thread([this] { Run(); });
}

HistoryJournal::~HistoryJournal() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void HistoryJournal::Append(std::shared_ptr<const voip::v1::CallEvent> event) {
  absl::MutexLock lock(&mu_);
  pending_.events.push_back(std::move(event));
  ++appended_;
}

void HistoryJournal::AppendKey(IdempotencyRecord record) {
  absl::MutexLock lock(&mu_);
  pending_.keys.push_back(std::move(record));
  ++appended_;
}

void HistoryJournal::WhenDurable(uint64_t sequence, absl::AnyInvocable<void() &&> fn) {
  {
    absl::MutexLock lock(&mu_);
    if (durable_sequence_ < sequence && !stop_) {
      waiters_.emplace(sequence, std::move(fn));
      return;
    }
  }
  std::move(fn)();
}

bool HistoryJournal::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const uint64_t target = appended_;
  auto done = [&] { return written_ >= target; };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

bool HistoryJournal::healthy() const {
  absl::MutexLock lock(&mu_);
  return last_error_.ok();
}

absl::Status HistoryJournal::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

uint64_t HistoryJournal::write_errors() const {
  absl::MutexLock lock(&mu_);
  return write_errors_;
}

uint64_t HistoryJournal::batches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

void HistoryJournal::Run() {
  pthread_setname_np(pthread_self(), "voipd-history");
  absl::Time next_prune = absl::Now() + prune_every_;
  for (;;) {
    WriteBatch batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&] { return stop_ || !pending_.empty(); };
      // Wake at least every prune period so that pruning happens when idle.
      mu_.AwaitWithTimeout(absl::Condition(&ready), prune_every_);
      if (pending_.empty() && stop_) break;
      std::swap(batch, pending_);
    }
    if (!batch.empty()) {
      const uint64_t items = batch.events.size() + batch.keys.size();
      uint64_t max_sequence = 0;
      for (const auto& e : batch.events) max_sequence = std::max(max_sequence, e->sequence());
      absl::Status status = store_->Write(batch);
      bool was_healthy;
      {
        absl::MutexLock lock(&mu_);
        was_healthy = last_error_.ok();
        if (!status.ok()) ++write_errors_;
        last_error_ = status;
      }
      if (!status.ok() && was_healthy) {
        LogError("history", absl::StrCat("cannot write call history (", items,
                                         " records dropped from history; calls continue): ",
                                         status.message()));
      } else if (status.ok() && !was_healthy) {
        LogInfo("history", "call history is written again");
      }
      if (max_sequence > 0 && hooks_.on_durable) hooks_.on_durable(max_sequence);
      std::vector<absl::AnyInvocable<void() &&>> ready;
      {
        absl::MutexLock lock(&mu_);
        written_ += items;
        ++batches_;
        durable_sequence_ = std::max(durable_sequence_, max_sequence);
        auto end = waiters_.upper_bound(durable_sequence_);
        for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
        waiters_.erase(waiters_.begin(), end);
      }
      for (auto& fn : ready) std::move(fn)();
    }
    if (absl::Now() >= next_prune) {
      next_prune = absl::Now() + prune_every_;
      const absl::Time keys_before =
          hooks_.keys_cutoff ? hooks_.keys_cutoff() : absl::InfinitePast();
      absl::StatusOr<int64_t> pruned = store_->Prune(absl::Now(), keys_before);
      if (!pruned.ok()) {
        LogWarn("history", absl::StrCat("pruning old history failed: ", pruned.status().message()));
      } else if (*pruned > 0) {
        LogInfo("history", absl::StrCat("pruned ", *pruned, " calls past the retention period"));
      }
    }
  }
  // Stopping: nobody waits for durability any more.
  std::multimap<uint64_t, absl::AnyInvocable<void() &&>> rest;
  {
    absl::MutexLock lock(&mu_);
    rest.swap(waiters_);
  }
  for (auto& [seq, fn] : rest) std::move(fn)();
}

}  // namespace voipd::history
