// Minimal leveled logging to stderr, one line per record, as text
//   2026-11-23T21:00:00.123Z info registry: message session_id=... system=...
// or, with log_format: json, one JSON object per line
//   {"time":"...","level":"info","component":"registry","msg":"...","session_id":"..."}
// journald timestamps lines itself; the explicit time keeps plain runs
// readable. Never log secrets: callers log names and paths, not contents.
#pragma once

#include <initializer_list>
#include <utility>

#include "absl/strings/string_view.h"

namespace voipd {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error", "warn", "info", "debug"; false for anything else.
bool ParseLogLevel(absl::string_view name, LogLevel* level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void Log(LogLevel level, absl::string_view component, absl::string_view message);

// Structured fields (session_id, system, rpc, ...) next to the message.
using LogField = std::pair<absl::string_view, absl::string_view>;
void LogWithFields(LogLevel level, absl::string_view component, absl::string_view message,
                   std::initializer_list<LogField> fields);

// "text" (default) or "json".
void SetLogJson(bool json);

inline void LogError(absl::string_view c, absl::string_view m) { Log(LogLevel::kError, c, m); }
inline void LogWarn(absl::string_view c, absl::string_view m) { Log(LogLevel::kWarn, c, m); }
inline void LogInfo(absl::string_view c, absl::string_view m) { Log(LogLevel::kInfo, c, m); }
inline void LogDebug(absl::string_view c, absl::string_view m) {
  if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug, c, m);
}

}  // namespace voipd
