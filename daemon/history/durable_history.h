// Durable call history as the daemon uses it: opens (or creates, or
// migrates) state_dir/voipd.db, reads back what a restart needs, and then
// journals every event and idempotency key while serving history reads.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/config/config_loader.h"
#include "daemon/core/call_history.h"
#include "daemon/core/event_bus.h"
#include "daemon/core/idempotency_cache.h"
#include "daemon/history/history_journal.h"
#include "daemon/history/history_store.h"

namespace voipd::history {

class DurableHistory final : public CallHistory {
 public:
  // Creates state_dir if needed. Errors are startup errors: a corrupt or
  // foreign database is reported, never replaced.
  static absl::StatusOr<std::unique_ptr<DurableHistory>> Open(const std::string& state_dir,
                                                              const HistorySettings& settings,
                                                              absl::Duration idempotency_ttl,
                                                              size_t window);
  ~DurableHistory() override;

  // What was on disk at Open: the last sequence, the recent events, the
  // calls that were active, the live idempotency keys.
  const Recovered& recovered() const { return recovered_; }

  // Seeds `bus` and `keys` from recovered() and starts journaling both.
  void Start(EventBus* bus, IdempotencyCache* keys, absl::Duration idempotency_ttl);
  // Writes what is queued (bounded wait) and detaches from the bus.
  void Stop();

  bool healthy() const { return journal_ ? journal_->healthy() : true; }
  absl::Status last_error() const { return journal_ ? journal_->last_error() : absl::OkStatus(); }
  uint64_t write_errors() const { return journal_ ? journal_->write_errors() : 0; }
  const std::string& path() const { return store_->path(); }
  void SetRetention(absl::Duration retention) { store_->SetRetention(retention); }

  // CallHistory
  bool Sync(absl::Duration timeout) override;
  absl::StatusOr<voip::v1::ListCallsResponse> List(const voip::v1::ListCallsRequest& request,
                                                   const std::string& number) override;
  absl::StatusOr<std::optional<voip::v1::CallSession>> Get(const std::string& session_id) override;
  void WhenDurable(uint64_t sequence, absl::AnyInvocable<void() &&> fn) override;

 private:
  DurableHistory(std::unique_ptr<HistoryStore> store, Recovered recovered)
      : store_(std::move(store)), recovered_(std::move(recovered)) {}

  std::unique_ptr<HistoryStore> store_;
  Recovered recovered_;
  EventBus* bus_ = nullptr;
  IdempotencyCache* keys_ = nullptr;
  std::unique_ptr<HistoryJournal> journal_;
};

}  // namespace voipd::history
