#include "daemon/history/history_schema.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "voip/v1/call.pb.h"

namespace voipd::history {

const char kSchemaV1[] = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE calls(
  session_id TEXT PRIMARY KEY,
  created_seq INTEGER NOT NULL UNIQUE,
  system TEXT NOT NULL,
  status INTEGER NOT NULL,
  from_number TEXT NOT NULL,
  to_number TEXT NOT NULL,
  to_normalized TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  ended_at_us INTEGER,
  last_sequence INTEGER NOT NULL,
  session BLOB NOT NULL);
CREATE INDEX calls_created_at ON calls(created_at_us);
CREATE INDEX calls_status ON calls(status);
CREATE TABLE events(
  sequence INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL,
  time_us INTEGER NOT NULL,
  event BLOB NOT NULL);
CREATE INDEX events_session ON events(session_id);
CREATE TABLE idempotency(
  key TEXT PRIMARY KEY,
  fingerprint INTEGER NOT NULL,
  session_id TEXT,
  error BLOB,
  claimed_at_us INTEGER NOT NULL);
INSERT INTO meta(key, value) VALUES('application', 'voipd-history');
PRAGMA user_version = 1;
)sql";

namespace {

// Version 2: calls learn their direction (inbound calls) and labels get a
// table of their own so that ListCalls can filter on them in SQL.
absl::Status MigrateV1ToV2(Database& db) {
  if (absl::Status s = db.Exec(R"sql(
ALTER TABLE calls ADD COLUMN direction INTEGER NOT NULL DEFAULT 1;
CREATE TABLE call_labels(
  session_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(session_id, key)) WITHOUT ROWID;
CREATE INDEX call_labels_kv ON call_labels(key, value);
)sql");
      !s.ok()) {
    return s;
  }
  // Labels so far lived only inside the serialized session.
  absl::StatusOr<std::unique_ptr<Statement>> read =
      db.Prepare("SELECT session_id, session FROM calls");
  if (!read.ok()) return read.status();
  absl::StatusOr<std::unique_ptr<Statement>> write =
      db.Prepare("INSERT OR IGNORE INTO call_labels(session_id, key, value) VALUES(?, ?, ?)");
  if (!write.ok()) return write.status();
  for (;;) {
    absl::StatusOr<bool> row = (*read)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    voip::v1::CallSession session;
    if (!session.ParseFromString((*read)->Blob(1))) {
      return absl::DataLossError(absl::StrCat("history database ", db.path(), ": call ",
                                              (*read)->Text(0), " cannot be decoded"));
    }
    for (const auto& [key, value] : session.labels()) {
      (*write)->Bind(1, session.session_id()).Bind(2, key).Bind(3, value);
      if (absl::Status s = (*write)->Run(); !s.ok()) return s;
    }
    // v1 knew only outbound calls. The stored session says so too, or
    // GetCallStatus and ListCalls would return direction UNSPECIFIED.
    if (session.direction() == voip::v1::CALL_DIRECTION_UNSPECIFIED) {
      session.set_direction(voip::v1::CALL_DIRECTION_OUTBOUND);
    }
    absl::StatusOr<std::unique_ptr<Statement>> set =
        db.Prepare("UPDATE calls SET direction = ?, session = ? WHERE session_id = ?");
    if (!set.ok()) return set.status();
    (*set)->Bind(1, static_cast<int64_t>(session.direction()))
        .BindBlob(2, session.SerializeAsString())
        .Bind(3, session.session_id());
    if (absl::Status s = (*set)->Run(); !s.ok()) return s;
  }
  return db.Exec("PRAGMA user_version = 2");
}

absl::StatusOr<int> UserVersion(Database& db) {
  absl::StatusOr<std::unique_ptr<Statement>> stmt = db.Prepare("PRAGMA user_version");
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = (*stmt)->Step();
  if (!row.ok()) return row.status();
  return *row ? static_cast<int>((*stmt)->Int(0)) : 0;
}

absl::StatusOr<bool> HasTables(Database& db) {
  absl::StatusOr<std::unique_ptr<Statement>> stmt =
      db.Prepare("SELECT count(*) FROM sqlite_master");
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = (*stmt)->Step();
  if (!row.ok()) return row.status();
  return *row && (*stmt)->Int(0) > 0;
}

}  // namespace

absl::Status MigrateToCurrent(Database& db) {
  // Reading the schema is the first thing that touches the file's pages: a
  // file that is not a database fails here (DATA_LOSS), before any write.
  absl::StatusOr<bool> has_tables = HasTables(db);
  if (!has_tables.ok()) return has_tables.status();
  absl::StatusOr<int> version = UserVersion(db);
  if (!version.ok()) return version.status();
  if (*version == 0 && *has_tables) {
    return absl::FailedPreconditionError(absl::StrCat(
        "history database ", db.path(), " has tables but no voipd schema version; refusing to "
        "touch a file voipd did not create"));
  }
  if (*version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "history database ", db.path(), " has schema version ", *version,
        ", newer than this voipd (", kSchemaVersion, "); run a newer voipd or move it away"));
  }
  if (*version == kSchemaVersion) return absl::OkStatus();
  if (absl::Status s = db.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  absl::Status status;
  if (*version == 0) status = db.Exec(kSchemaV1);
  if (status.ok() && *version <= 1) status = MigrateV1ToV2(db);
  if (!status.ok()) {
    db.Exec("ROLLBACK").IgnoreError();
    return status;
  }
  return db.Exec("COMMIT");
}

}  // namespace voipd::history
