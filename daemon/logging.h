// Leveled, structured logging: one record per line, as text
//   2026-11-23T21:00:00.123Z info calls: call started session_id=... system=...
// or, with log_format: json, one JSON object per line
//   {"time":"...","level":"info","component":"calls","msg":"call started","session_id":"..."}
// or, with log_format: journal (or auto under systemd's journald), one
// journal entry per record with MESSAGE=, PRIORITY=, SESSION_ID=, SYSTEM=, ...
// The explicit time keeps plain runs readable. Never log secrets: callers
// log names and paths, not contents.
//
// Every record about a call carries `session_id` and `system` as fields, not
// only inside the message, so that `jq 'select(.session_id=="...")'` and
// `journalctl SESSION_ID=...` find all of a call's lines.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace voipd {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };
enum class LogFormat { kText, kJson, kJournal };

// "error", "warn", "info", "debug"; false for anything else.
bool ParseLogLevel(absl::string_view name, LogLevel* level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Structured fields (session_id, system, rpc, ...) next to the message.
// Empty values are left out.
using LogField = std::pair<absl::string_view, absl::string_view>;
using LogFields = std::initializer_list<LogField>;

void LogWithFields(LogLevel level, absl::string_view component, absl::string_view message,
                   LogFields fields);
void Log(LogLevel level, absl::string_view component, absl::string_view message);

// Text and JSON lines at info and debug may wait a few milliseconds to be
// written together (daemon/stderr_batcher.h); this writes them now, e.g.
// before writing to stderr directly. Also done at exit.
void FlushLogs();

// log_format from the config: "text", "json", "journal" or "auto" (journal
// when stderr is journald's stream, see StderrIsJournal(), else text).
// False for anything else.
bool ParseLogFormat(absl::string_view name, LogFormat* format);
void SetLogFormat(LogFormat format);
// Where SetLogFormat(kJournal) looks for journald; nullptr = the real path.
void SetJournalSocketForTesting(const char* path);
// Kept for callers that only know text and json.
inline void SetLogJson(bool json) { SetLogFormat(json ? LogFormat::kJson : LogFormat::kText); }

// True when $JOURNAL_STREAM names the device and inode of our stderr, which
// is how systemd says "your stderr is connected to journald" (systemd.exec(5)).
bool StderrIsJournal();

// The journal entry's fields ("MESSAGE=...", "PRIORITY=4", "SESSION_ID=...")
// for one record; field names are the keys upper-cased. Exposed for tests.
std::vector<std::string> JournalFields(LogLevel level, absl::string_view component,
                                       absl::string_view message, LogFields fields);

// Tests: receive every formatted text/json line (with its '\n') instead of
// stderr; journal records are formatted as text. Pass nullptr to restore.
void SetLogSinkForTest(std::function<void(absl::string_view line)> sink);

inline void LogError(absl::string_view c, absl::string_view m, LogFields f = {}) {
  LogWithFields(LogLevel::kError, c, m, f);
}
inline void LogWarn(absl::string_view c, absl::string_view m, LogFields f = {}) {
  LogWithFields(LogLevel::kWarn, c, m, f);
}
inline void LogInfo(absl::string_view c, absl::string_view m, LogFields f = {}) {
  LogWithFields(LogLevel::kInfo, c, m, f);
}
inline void LogDebug(absl::string_view c, absl::string_view m, LogFields f = {}) {
  if (LogEnabled(LogLevel::kDebug)) LogWithFields(LogLevel::kDebug, c, m, f);
}

}  // namespace voipd
