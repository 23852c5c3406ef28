#include "adapters/api/logger.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace voipd::adapters {
namespace {

class StderrLoggerImpl final : public Logger {
 public:
  bool Enabled(LogSeverity severity) const override { return severity <= LogSeverity::kInfo; }
  void Log(LogSeverity severity, absl::string_view component, absl::string_view message,
           const LogContext& context) const override {
    if (!Enabled(severity)) return;
    static constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
    std::string line = absl::StrCat(
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
        kNames[static_cast<int>(severity)], " ", component, ": ", message);
    if (!context.session_id.empty()) absl::StrAppend(&line, " session_id=", context.session_id);
    if (!context.system.empty()) absl::StrAppend(&line, " system=", context.system);
    line.push_back('\n');
    // One fwrite per line so concurrent records never interleave.
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
};

}  // namespace

const Logger& StderrLogger() {
  static const StderrLoggerImpl* const logger = new StderrLoggerImpl();
  return *logger;
}

}  // namespace voipd::adapters
