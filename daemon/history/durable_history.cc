#include "daemon/history/durable_history.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "daemon/logging.h"

namespace voipd::history {

absl::StatusOr<std::unique_ptr<DurableHistory>> DurableHistory::Open(
    const std::string& state_dir, const HistorySettings& settings, absl::Duration idempotency_ttl,
    size_t window) {
  if (mkdir(state_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("state_dir ", state_dir, ": cannot create: ", std::strerror(errno)));
  }
  HistoryOptions options;
  options.path = absl::StrCat(state_dir, "/voipd.db");
  options.synchronous_full = settings.synchronous_full;
  options.retention = settings.retention;
  absl::StatusOr<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(options);
  if (!store.ok()) {
    if (absl::IsDataLoss(store.status())) {
      return absl::DataLossError(absl::StrCat(
          store.status().message(),
          " — voipd will not overwrite it; move the file away (keep it for recovery) to start "
          "with an empty history"));
    }
    return store.status();
  }
  const absl::Time now = absl::Now();
  absl::StatusOr<int64_t> pruned = (*store)->Prune(now, now - idempotency_ttl);
  if (!pruned.ok()) return pruned.status();
  absl::StatusOr<Recovered> recovered = (*store)->Recover(window, now - idempotency_ttl);
  if (!recovered.ok()) return recovered.status();
  LogInfo("history",
          absl::StrCat("history in ", options.path, ": last sequence ", recovered->last_sequence,
                       ", ", recovered->active_calls.size(), " calls were active, ",
                       *pruned, " calls pruned"));
  return std::unique_ptr<DurableHistory>(
      new DurableHistory(std::move(*store), std::move(*recovered)));
}

DurableHistory::~DurableHistory() { Stop(); }

void DurableHistory::Start(EventBus* bus, IdempotencyCache* keys, absl::Duration idempotency_ttl) {
  bus_ = bus;
  keys_ = keys;
  bus->Restore(recovered_.recent_events, recovered_.last_sequence);
  for (const IdempotencyRecord& record : recovered_.idempotency) {
    keys->Restore(record.key, record.fingerprint, record.claimed_at, record.result);
  }
  recovered_.recent_events.clear();
  recovered_.idempotency.clear();
  HistoryJournal::Hooks hooks;
  hooks.on_durable = [bus](uint64_t sequence) { bus->MarkDurable(sequence); };
  hooks.keys_cutoff = [idempotency_ttl] { return absl::Now() - idempotency_ttl; };
  journal_ = std::make_unique<HistoryJournal>(store_.get(), std::move(hooks));
  HistoryJournal* journal = journal_.get();
  keys->SetRecorder([journal](const std::string& key, uint64_t fingerprint, absl::Time claimed_at,
                              const IdempotencyCache::Result& result) {
    journal->AppendKey(IdempotencyRecord{key, fingerprint, claimed_at, result});
  });
  bus->SetJournal([journal](const CallEventPtr& event) { journal->Append(event); });
}

void DurableHistory::Stop() {
  if (!journal_) return;
  if (!journal_->Flush(absl::Seconds(5))) {
    LogWarn("history", "stopping with history writes still queued");
  }
  bus_->SetJournal(nullptr);
  keys_->SetRecorder(nullptr);
  journal_.reset();  // writes anything left, then joins
}

bool DurableHistory::Sync(absl::Duration timeout) {
  return journal_ ? journal_->Flush(timeout) : true;
}

absl::StatusOr<voip::v1::ListCallsResponse> DurableHistory::List(
    const voip::v1::ListCallsRequest& request, const std::string& number) {
  return store_->List(request, number);
}

absl::StatusOr<std::optional<voip::v1::CallSession>> DurableHistory::Get(
    const std::string& session_id) {
  return store_->Get(session_id);
}

void DurableHistory::WhenDurable(uint64_t sequence, absl::AnyInvocable<void() &&> fn) {
  // Events up to the recovered last sequence were read from disk; the new
  // journal has written nothing yet and would wait for the next batch (e.g.
  // EndCall of a call that ended before the restart hung until then).
  if (!journal_ || sequence <= recovered_.last_sequence) {
    std::move(fn)();
    return;
  }
  journal_->WhenDurable(sequence, std::move(fn));
}

}  // namespace voipd::history
