// The history database's schema and its migrations. The version lives in
// PRAGMA user_version; each migration moves one version forward inside the
// caller's transaction. docs/history.md describes the tables.
#pragma once

#include "absl/status/status.h"
#include "daemon/history/sqlite_db.h"

namespace voipd::history {

inline constexpr int kSchemaVersion = 2;

// Creates the schema on an empty database or migrates an older one to
// kSchemaVersion. A database newer than this build, or one that is not a
// voipd history database, is refused (FAILED_PRECONDITION) rather than
// touched; an unreadable file is DATA_LOSS.
absl::Status MigrateToCurrent(Database& db);

// The statements that created version 1 (the first schema, kept to test the
// migration path and to document it).
extern const char kSchemaV1[];

}  // namespace voipd::history
