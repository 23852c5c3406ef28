// How adapters log: through the core's logger, so that their lines honour
// log_level/log_format and carry `system` and `session_id` as fields (JSON
// keys, journald fields) like the core's own. The daemon passes one in
// AdapterContext::logger; without one (unit tests, tools) LoggerOr() falls
// back to plain text lines on stderr. Never pass secrets: names, codes and
// addresses only.
#pragma once

#include "absl/strings/string_view.h"

namespace voipd::adapters {

enum class LogSeverity { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Fields of one record; empty ones are left out.
struct LogContext {
  absl::string_view system;
  absl::string_view session_id;
};

class Logger {
 public:
  virtual ~Logger() = default;
  // False when a record of this severity would be dropped: skip building it.
  virtual bool Enabled(LogSeverity severity) const = 0;
  // `component` is the adapter type ("sip", "twilio").
  virtual void Log(LogSeverity severity, absl::string_view component, absl::string_view message,
                   const LogContext& context) const = 0;

  void Warn(absl::string_view component, absl::string_view message,
            const LogContext& context) const {
    Log(LogSeverity::kWarn, component, message, context);
  }
  void Info(absl::string_view component, absl::string_view message,
            const LogContext& context) const {
    Log(LogSeverity::kInfo, component, message, context);
  }
};

// Text lines on stderr at info and above.
const Logger& StderrLogger();
inline const Logger& LoggerOr(const Logger* logger) {
  return logger != nullptr ? *logger : StderrLogger();
}

}  // namespace voipd::adapters
