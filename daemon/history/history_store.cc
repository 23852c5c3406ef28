#include "daemon/history/history_store.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/api/voip_error.h"
#include "daemon/history/history_schema.h"
#include "google/rpc/status.pb.h"

namespace voipd::history {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

int64_t Micros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

// An idempotency key's stored error: code, message and payloads (the
// VoipError) as a google.rpc.Status.
std::string EncodeStatus(const absl::Status& status) {
  google::rpc::Status out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    auto* any = out.add_details();
    any->set_type_url(std::string(url));
    any->set_value(std::string(payload));
  });
  return out.SerializeAsString();
}

absl::Status DecodeStatus(const std::string& bytes) {
  google::rpc::Status in;
  if (!in.ParseFromString(bytes) || in.code() == 0) {
    return absl::InternalError("stored idempotency result cannot be decoded");
  }
  absl::Status status(static_cast<absl::StatusCode>(in.code()), in.message());
  for (const auto& any : in.details()) status.SetPayload(any.type_url(), absl::Cord(any.value()));
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HistoryStore>> HistoryStore::Open(const HistoryOptions& options) {
  std::unique_ptr<HistoryStore> store(new HistoryStore(options));
  absl::StatusOr<std::unique_ptr<Database>> writer = Database::Open(options.path, true);
  if (!writer.ok()) return writer.status();
  store->writer_ = std::move(*writer);
  if (absl::Status s = MigrateToCurrent(*store->writer_); !s.ok()) return s;
  // WAL: readers never wait for the writer; the journal commits in batches.
  if (absl::Status s = store->writer_->Exec(absl::StrCat(
          "PRAGMA journal_mode=WAL; PRAGMA synchronous=",
          options.synchronous_full ? "FULL" : "NORMAL", "; PRAGMA foreign_keys=OFF;"));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = store->PrepareWriter(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<Database>> reader = Database::Open(options.path, false);
  if (!reader.ok()) return reader.status();
  {
    absl::MutexLock lock(&store->reader_mu_);
    store->reader_ = std::move(*reader);
  }
  return store;
}

absl::Status HistoryStore::PrepareWriter() {
  auto prepare = [&](std::unique_ptr<Statement>* out, absl::string_view sql) {
    absl::StatusOr<std::unique_ptr<Statement>> stmt = writer_->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    *out = std::move(*stmt);
    return absl::OkStatus();
  };
  if (absl::Status s = prepare(&insert_event_,
                               "INSERT OR REPLACE INTO events(sequence, session_id, time_us, event) "
                               "VALUES(?, ?, ?, ?)");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = prepare(
          &upsert_call_,
          "INSERT INTO calls(session_id, created_seq, system, direction, status, from_number, "
          "to_number, to_normalized, created_at_us, ended_at_us, last_sequence, session) "
          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
          "ON CONFLICT(session_id) DO UPDATE SET status = ?5, from_number = ?6, "
          "ended_at_us = ?10, last_sequence = ?11, session = ?12 "
          "WHERE excluded.last_sequence > calls.last_sequence");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = prepare(&insert_label_,
                               "INSERT OR IGNORE INTO call_labels(session_id, key, value) "
                               "VALUES(?, ?, ?)");
      !s.ok()) {
    return s;
  }
  return prepare(&upsert_key_,
                 "INSERT OR REPLACE INTO idempotency(key, fingerprint, session_id, error, "
                 "claimed_at_us) VALUES(?, ?, ?, ?, ?)");
}

absl::StatusOr<Recovered> HistoryStore::Recover(size_t window, absl::Time idempotency_since) {
  Recovered out;
  {
    absl::StatusOr<std::unique_ptr<Statement>> stmt = writer_->Prepare(
        "SELECT max(coalesce((SELECT max(sequence) FROM events), 0), "
        "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_sequence'), 0))");
    if (!stmt.ok()) return stmt.status();
    absl::StatusOr<bool> row = (*stmt)->Step();
    if (!row.ok()) return row.status();
    out.last_sequence = *row ? static_cast<uint64_t>((*stmt)->Int(0)) : 0;
  }
  {
    absl::StatusOr<std::unique_ptr<Statement>> stmt = writer_->Prepare(
        "SELECT event FROM (SELECT sequence, event FROM events ORDER BY sequence DESC LIMIT ?) "
        "ORDER BY sequence");
    if (!stmt.ok()) return stmt.status();
    (*stmt)->Bind(1, static_cast<int64_t>(window));
    for (;;) {
      absl::StatusOr<bool> row = (*stmt)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      voip::v1::CallEvent event;
      if (!event.ParseFromString((*stmt)->Blob(0))) {
        return absl::DataLossError(
            absl::StrCat("history database ", options_.path, ": an event cannot be decoded"));
      }
      out.recent_events.push_back(std::move(event));
    }
  }
  {
    absl::StatusOr<std::unique_ptr<Statement>> stmt = writer_->Prepare(
        "SELECT session FROM calls WHERE status IN (1, 2, 3, 4) ORDER BY created_seq");
    if (!stmt.ok()) return stmt.status();
    for (;;) {
      absl::StatusOr<bool> row = (*stmt)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      voip::v1::CallSession session;
      if (!session.ParseFromString((*stmt)->Blob(0))) {
        return absl::DataLossError(
            absl::StrCat("history database ", options_.path, ": a call cannot be decoded"));
      }
      out.active_calls.push_back(std::move(session));
    }
  }
  {
    absl::StatusOr<std::unique_ptr<Statement>> stmt = writer_->Prepare(
        "SELECT key, fingerprint, session_id, error, claimed_at_us FROM idempotency "
        "WHERE claimed_at_us >= ? ORDER BY claimed_at_us");
    if (!stmt.ok()) return stmt.status();
    (*stmt)->Bind(1, absl::ToUnixMicros(idempotency_since));
    for (;;) {
      absl::StatusOr<bool> row = (*stmt)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      IdempotencyRecord record;
      record.key = (*stmt)->Text(0);
      record.fingerprint = static_cast<uint64_t>((*stmt)->Int(1));
      record.claimed_at = absl::FromUnixMicros((*stmt)->Int(4));
      if ((*stmt)->IsNull(2)) {
        record.result = DecodeStatus((*stmt)->Blob(3));
      } else {
        record.result = (*stmt)->Text(2);
      }
      out.idempotency.push_back(std::move(record));
    }
  }
  return out;
}

absl::Status HistoryStore::InsertEvent(const voip::v1::CallEvent& event) {
  insert_event_->Bind(1, static_cast<int64_t>(event.sequence()))
      .Bind(2, event.session().session_id())
      .Bind(3, Micros(event.time()))
      .BindBlob(4, event.SerializeAsString());
  return insert_event_->Run();
}

absl::Status HistoryStore::UpsertCall(const voip::v1::CallEvent& latest, uint64_t first_sequence) {
  const voip::v1::CallSession& session = latest.session();
  upsert_call_->Bind(1, session.session_id())
      .Bind(2, static_cast<int64_t>(first_sequence))
      .Bind(3, session.system_name())
      .Bind(4, static_cast<int64_t>(session.direction() == voip::v1::CALL_DIRECTION_UNSPECIFIED
                                        ? voip::v1::CALL_DIRECTION_OUTBOUND
                                        : session.direction()))
      .Bind(5, static_cast<int64_t>(session.status()))
      .Bind(6, session.from())
      .Bind(7, session.to().number())
      .Bind(8, session.to_normalized())
      .Bind(9, Micros(session.created_at()));
  if (session.has_ended_at()) {
    upsert_call_->Bind(10, Micros(session.ended_at()));
  } else {
    upsert_call_->BindNull(10);
  }
  upsert_call_->Bind(11, static_cast<int64_t>(latest.sequence()))
      .BindBlob(12, session.SerializeAsString());
  if (absl::Status s = upsert_call_->Run(); !s.ok()) return s;
  // With every batch that touches the call, not only its first: when the
  // batch holding a call's first event was dropped (disk full), a later one
  // creates the row, and its labels must come with it. Labels never change,
  // so this only ignores.
  for (const auto& [key, value] : session.labels()) {
    insert_label_->Bind(1, session.session_id()).Bind(2, key).Bind(3, value);
    if (absl::Status s = insert_label_->Run(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status HistoryStore::WriteKey(const IdempotencyRecord& record) {
  upsert_key_->Bind(1, record.key).Bind(2, static_cast<int64_t>(record.fingerprint));
  if (record.result.ok()) {
    upsert_key_->Bind(3, *record.result).BindNull(4);
  } else {
    upsert_key_->BindNull(3).BindBlob(4, EncodeStatus(record.result.status()));
  }
  upsert_key_->Bind(5, absl::ToUnixMicros(record.claimed_at));
  return upsert_key_->Run();
}

absl::Status HistoryStore::Write(const WriteBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  if (absl::Status s = writer_->Exec("BEGIN"); !s.ok()) return s;
  absl::Status status;
  // Every event gets its row, but a call's row is written once per batch,
  // from its newest event: under load a batch holds most of a call's
  // events, and rewriting the session for each was half the journal's cost
  // (bench scenario a with history).
  struct CallRange {
    const voip::v1::CallEvent* latest;
    uint64_t first_sequence;
  };
  std::map<uint64_t, std::string> order;  // first sequence -> session id
  std::unordered_map<std::string, CallRange> calls;
  for (const auto& event : batch.events) {
    status = InsertEvent(*event);
    if (!status.ok()) break;
    auto [it, added] = calls.try_emplace(event->session().session_id(),
                                         CallRange{event.get(), event->sequence()});
    if (added) {
      order.emplace(event->sequence(), it->first);
    } else if (event->sequence() > it->second.latest->sequence()) {
      it->second.latest = event.get();
    }
  }
  for (auto it = order.begin(); status.ok() && it != order.end(); ++it) {
    const CallRange& range = calls.at(it->second);
    status = UpsertCall(*range.latest, range.first_sequence);
  }
  if (status.ok()) {
    for (const auto& key : batch.keys) {
      status = WriteKey(key);
      if (!status.ok()) break;
    }
  }
  if (status.ok()) status = writer_->Exec("COMMIT");
  if (!status.ok()) writer_->Exec("ROLLBACK").IgnoreError();
  return status;
}

absl::StatusOr<int64_t> HistoryStore::Prune(absl::Time now, absl::Time keys_before) {
  absl::Duration retention;
  {
    absl::MutexLock lock(&retention_mu_);
    retention = options_.retention;
  }
  const int64_t cutoff = absl::ToUnixMicros(now - retention);
  if (absl::Status s = writer_->Exec("BEGIN"); !s.ok()) return s;
  // The sequence must keep growing even if every event is pruned.
  std::string sql = absl::StrCat(
      // No row at all when there are no events (max() over no rows would be
      // one NULL row and break meta's NOT NULL, e.g. on a new database).
      "INSERT OR REPLACE INTO meta(key, value) SELECT 'last_sequence', sequence FROM events "
      "ORDER BY sequence DESC LIMIT 1; "
      "CREATE TEMP TABLE IF NOT EXISTS pruned(session_id TEXT PRIMARY KEY); DELETE FROM pruned; "
      "INSERT INTO pruned SELECT session_id FROM calls WHERE ended_at_us IS NOT NULL AND "
      "ended_at_us < ", cutoff, "; "
      "DELETE FROM events WHERE session_id IN (SELECT session_id FROM pruned); "
      "DELETE FROM call_labels WHERE session_id IN (SELECT session_id FROM pruned); "
      "DELETE FROM calls WHERE session_id IN (SELECT session_id FROM pruned); "
      "DELETE FROM idempotency WHERE claimed_at_us < ", absl::ToUnixMicros(keys_before), ";");
  absl::Status status = writer_->Exec(sql);
  int64_t deleted = 0;
  if (status.ok()) {
    absl::StatusOr<std::unique_ptr<Statement>> count =
        writer_->Prepare("SELECT count(*) FROM pruned");
    if (count.ok() && (*count)->Step().value_or(false)) deleted = (*count)->Int(0);
    status = writer_->Exec("COMMIT");
  }
  if (!status.ok()) {
    writer_->Exec("ROLLBACK").IgnoreError();
    return status;
  }
  return deleted;
}

void HistoryStore::SetRetention(absl::Duration retention) {
  absl::MutexLock lock(&retention_mu_);
  options_.retention = retention;
}

absl::StatusOr<voip::v1::ListCallsResponse> HistoryStore::List(
    const voip::v1::ListCallsRequest& request, const std::string& number) {
  if (request.page_size() < 0) {
    return InvalidArgumentError("page_size", "page_size: must not be negative");
  }
  const int page_size = request.page_size() == 0 ? kDefaultPageSize
                                                 : std::min(request.page_size(), kMaxPageSize);
  int64_t after = 0;
  if (!request.page_token().empty() && (!absl::SimpleAtoi(request.page_token(), &after) ||
                                        after < 0)) {
    return InvalidArgumentError("page_token",
                                "page_token: not a token returned by a previous ListCalls");
  }
  // Every value is bound, never spliced into the SQL.
  std::vector<std::string> where = {"created_seq > ?"};
  if (request.active_only()) where.push_back("status IN (1, 2, 3, 4)");
  if (request.status() != voip::v1::CALL_STATUS_UNSPECIFIED) where.push_back("status = ?");
  if (!request.system_name().empty()) where.push_back("system = ?");
  if (request.direction() != voip::v1::CALL_DIRECTION_UNSPECIFIED) where.push_back("direction = ?");
  if (request.has_created_after()) where.push_back("created_at_us >= ?");
  if (request.has_created_before()) where.push_back("created_at_us < ?");
  if (!number.empty()) {
    where.push_back("(to_normalized = ? OR to_number = ? OR from_number = ?)");
  }
  for (size_t i = 0; i < request.labels().size(); ++i) {
    where.push_back(
        "EXISTS (SELECT 1 FROM call_labels l WHERE l.session_id = calls.session_id AND "
        "l.key = ? AND l.value = ?)");
  }
  const std::string sql =
      absl::StrCat("SELECT created_seq, session FROM calls WHERE ", absl::StrJoin(where, " AND "),
                   " ORDER BY created_seq LIMIT ?");
  absl::MutexLock lock(&reader_mu_);
  absl::StatusOr<std::unique_ptr<Statement>> stmt = reader_->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  Statement& s = **stmt;
  int i = 1;
  s.Bind(i++, after);
  if (request.status() != voip::v1::CALL_STATUS_UNSPECIFIED) {
    s.Bind(i++, static_cast<int64_t>(request.status()));
  }
  if (!request.system_name().empty()) s.Bind(i++, request.system_name());
  if (request.direction() != voip::v1::CALL_DIRECTION_UNSPECIFIED) {
    s.Bind(i++, static_cast<int64_t>(request.direction()));
  }
  if (request.has_created_after()) s.Bind(i++, Micros(request.created_after()));
  if (request.has_created_before()) s.Bind(i++, Micros(request.created_before()));
  if (!number.empty()) {
    s.Bind(i++, number).Bind(i++, number).Bind(i++, number);
  }
  for (const auto& [key, value] : request.labels()) s.Bind(i++, key).Bind(i++, value);
  s.Bind(i++, static_cast<int64_t>(page_size) + 1);
  voip::v1::ListCallsResponse response;
  int64_t last_seq = 0;
  for (;;) {
    absl::StatusOr<bool> row = s.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (response.calls_size() == page_size) {
      response.set_next_page_token(absl::StrCat(last_seq));
      break;
    }
    last_seq = s.Int(0);
    if (!response.add_calls()->ParseFromString(s.Blob(1))) {
      return absl::DataLossError(
          absl::StrCat("history database ", options_.path, ": a call cannot be decoded"));
    }
  }
  return response;
}

absl::StatusOr<std::optional<voip::v1::CallSession>> HistoryStore::Get(
    const std::string& session_id) {
  absl::MutexLock lock(&reader_mu_);
  absl::StatusOr<std::unique_ptr<Statement>> stmt =
      reader_->Prepare("SELECT session FROM calls WHERE session_id = ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(1, session_id);
  absl::StatusOr<bool> row = (*stmt)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<voip::v1::CallSession>();
  voip::v1::CallSession session;
  if (!session.ParseFromString((*stmt)->Blob(0))) {
    return absl::DataLossError(
        absl::StrCat("history database ", options_.path, ": call ", session_id,
                     " cannot be decoded"));
  }
  return std::optional<voip::v1::CallSession>(std::move(session));
}

}  // namespace voipd::history
