#include "daemon/adapter_logger.h"

#include "daemon/logging.h"

namespace voipd {
namespace {

LogLevel LevelOf(adapters::LogSeverity severity) {
  switch (severity) {
    case adapters::LogSeverity::kError: return LogLevel::kError;
    case adapters::LogSeverity::kWarn:  return LogLevel::kWarn;
    case adapters::LogSeverity::kInfo:  return LogLevel::kInfo;
    case adapters::LogSeverity::kDebug: return LogLevel::kDebug;
  }
  return LogLevel::kInfo;
}

class CoreLogger final : public adapters::Logger {
 public:
  bool Enabled(adapters::LogSeverity severity) const override {
    return LogEnabled(LevelOf(severity));
  }
  void Log(adapters::LogSeverity severity, absl::string_view component, absl::string_view message,
           const adapters::LogContext& context) const override {
    LogWithFields(LevelOf(severity), component, message,
                  {{"session_id", context.session_id}, {"system", context.system}});
  }
};

}  // namespace

const adapters::Logger& CoreAdapterLogger() {
  static const CoreLogger* const logger = new CoreLogger();
  return *logger;
}

}  // namespace voipd
