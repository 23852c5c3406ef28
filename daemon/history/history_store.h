// Durable call history in SQLite (WAL): every call and every event, the
// idempotency keys, and what a restart needs to carry on (the last sequence
// number, the recent events, the calls that were active). One connection
// writes (the journal's thread, in batches); another serves reads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/history/sqlite_db.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd::history {

struct HistoryOptions {
  std::string path;  // the database file
  // FULL: a committed batch survives power loss; NORMAL: survives a crash
  // of voipd (kill -9) but maybe not of the machine.
  bool synchronous_full = true;
  // Ended calls older than this are pruned (with their events).
  absl::Duration retention = absl::Hours(24 * 90);
};

struct IdempotencyRecord {
  std::string key;
  uint64_t fingerprint = 0;
  absl::Time claimed_at;
  absl::StatusOr<std::string> result = std::string();  // session id or the error
};

struct Recovered {
  uint64_t last_sequence = 0;
  std::vector<voip::v1::CallEvent> recent_events;  // oldest first
  std::vector<voip::v1::CallSession> active_calls;
  std::vector<IdempotencyRecord> idempotency;
};

struct WriteBatch {
  std::vector<std::shared_ptr<const voip::v1::CallEvent>> events;
  std::vector<IdempotencyRecord> keys;
  bool empty() const { return events.empty() && keys.empty(); }
};

class HistoryStore {
 public:
  // Creates or migrates the schema. DATA_LOSS for a file that is not a
  // readable database, FAILED_PRECONDITION for one voipd must not touch;
  // never replaces or empties an existing file.
  static absl::StatusOr<std::unique_ptr<HistoryStore>> Open(const HistoryOptions& options);

  // Keys claimed before `idempotency_since` are not returned (expired).
  absl::StatusOr<Recovered> Recover(size_t window, absl::Time idempotency_since);

  // One transaction: all or nothing.
  absl::Status Write(const WriteBatch& batch);
  // Deletes ended calls (and their events) that ended before now-retention
  // and idempotency keys claimed before `keys_before`. Returns rows deleted.
  absl::StatusOr<int64_t> Prune(absl::Time now, absl::Time keys_before);

  // ListCalls over the whole history. `number` (already normalized when it
  // parses) matches the dialled number, the number as typed, or the caller.
  absl::StatusOr<voip::v1::ListCallsResponse> List(const voip::v1::ListCallsRequest& request,
                                                   const std::string& number);
  absl::StatusOr<std::optional<voip::v1::CallSession>> Get(const std::string& session_id);

  void SetRetention(absl::Duration retention);
  const std::string& path() const { return options_.path; }

 private:
  explicit HistoryStore(HistoryOptions options) : options_(std::move(options)) {}
  absl::Status PrepareWriter();
  absl::Status InsertEvent(const voip::v1::CallEvent& event);
  // The call's row from its newest event in a batch; `first_sequence` is
  // the batch's first event of the call (its creation order if it is new).
  absl::Status UpsertCall(const voip::v1::CallEvent& latest, uint64_t first_sequence);
  absl::Status WriteKey(const IdempotencyRecord& record);

  HistoryOptions options_;
  absl::Mutex retention_mu_;
  // Writer side: only the journal thread (and Open/Recover before it runs).
  std::unique_ptr<Database> writer_;
  std::unique_ptr<Statement> insert_event_;
  std::unique_ptr<Statement> upsert_call_;
  std::unique_ptr<Statement> insert_label_;
  std::unique_ptr<Statement> upsert_key_;
  // Reader side.
  absl::Mutex reader_mu_;
  std::unique_ptr<Database> reader_ ABSL_GUARDED_BY(reader_mu_);
};

}  // namespace voipd::history
