// A thin RAII layer over the SQLite C API: one connection, prepared
// statements with typed binds, and errors as absl::Status naming the
// database file. No SQL of its own; history_store.cc owns the queries.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace voipd::history {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string path)
      : db_(db), stmt_(stmt), path_(std::move(path)) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // 1-based, as in SQLite.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, absl::string_view text);
  Statement& BindBlob(int index, absl::string_view bytes);
  Statement& BindNull(int index);

  // true: a row is available; false: done. Errors name the file.
  absl::StatusOr<bool> Step();
  // Step() until done, for statements without results.
  absl::Status Run();
  void Reset();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string path_;
};

class Database {
 public:
  // Opens (creating if `create`) the file. busy_timeout makes a reader wait
  // for the writer's short transactions instead of failing.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path, bool create);
  ~Database();

  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<std::unique_ptr<Statement>> Prepare(absl::string_view sql);
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }

  // The status for SQLite result `rc`, with SQLite's own message.
  absl::Status Error(int rc, absl::string_view what) const;

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR...: the disk, not the data.
absl::Status SqliteStatus(int rc, const std::string& path, absl::string_view what,
                          const char* sqlite_message);

}  // namespace voipd::history
