#include "daemon/logging.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace voipd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{false};

void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

const char* Name(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarn:  return "warn";
    case LogLevel::kInfo:  return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "info";
}

}  // namespace

bool ParseLogLevel(absl::string_view name, LogLevel* level) {
  for (LogLevel l : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug}) {
    if (name == Name(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

void SetLogJson(bool json) { g_json.store(json); }

void Log(LogLevel level, absl::string_view component, absl::string_view message) {
  LogWithFields(level, component, message, {});
}

void LogWithFields(LogLevel level, absl::string_view component, absl::string_view message,
                   std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (g_json.load()) {
    absl::StrAppend(&line, "{\"time\":\"", time, "\",\"level\":\"", Name(level),
                    "\",\"component\":");
    AppendJsonString(&line, component);
    line.append(",\"msg\":");
    AppendJsonString(&line, message);
    for (const auto& [key, value] : fields) {
      if (value.empty()) continue;
      line.push_back(',');
      AppendJsonString(&line, key);
      line.push_back(':');
      AppendJsonString(&line, value);
    }
    line.append("}\n");
  } else {
    line = absl::StrCat(time, " ", Name(level), " ", component, ": ", message);
    for (const auto& [key, value] : fields) {
      if (!value.empty()) absl::StrAppend(&line, " ", key, "=", value);
    }
    line.push_back('\n');
  }
  // One fwrite per line so concurrent records never interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace voipd
