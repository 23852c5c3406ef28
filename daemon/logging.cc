#include "daemon/logging.h"

#include <sys/stat.h>
#include <sys/uio.h>
// Without this, sd-journal.h adds CODE_FILE=/CODE_LINE= of logging.cc to
// every entry, which names the logger rather than the caller.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/stderr_batcher.h"

namespace voipd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};
// sd_journal_send reports success when journald is not there at all (it
// "fails silently"), so look for its socket when the format is chosen.
std::atomic<bool> g_journal_available{false};
constexpr char kJournalSocket[] = "/run/systemd/journal/socket";
// Tests point this elsewhere to exercise the no-journald fallback on
// machines where journald runs.
std::atomic<const char*> g_journal_socket{kJournalSocket};

absl::Mutex g_sink_mu;
std::function<void(absl::string_view)>* g_sink ABSL_GUARDED_BY(g_sink_mu) = nullptr;
std::atomic<bool> g_has_sink{false};

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

// syslog(3) priorities, as journald expects them in PRIORITY=.
int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return 3;
    case LogLevel::kWarn:  return 4;
    case LogLevel::kInfo:  return 6;
    case LogLevel::kDebug: return 7;
  }
  return 6;
}

// Text values are written bare unless they would break key=value parsing.
void AppendTextValue(std::string* out, absl::string_view value) {
  const bool plain = value.find_first_of(" \"=\n\r\t") == absl::string_view::npos;
  if (plain) {
    out->append(value.data(), value.size());
  } else {
    AppendJsonString(out, value);
  }
}

// "2026-11-23T21:00:00.123Z" (what FormatTime's "%Y-%m-%dT%H:%M:%E3SZ"
// gives), with the part up to the second formatted once per second and
// thread: FormatTime on every line was ~1 % of a busy daemon's CPU.
std::string LogTime(absl::Time now) {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached_prefix;
  const int64_t millis = absl::ToUnixMillis(now);
  if (millis < 0) return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone());
  const int64_t second = millis / 1000;
  if (second != cached_second) {
    cached_prefix = absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second),
                                     absl::UTCTimeZone());
    cached_second = second;
  }
  return absl::StrCat(cached_prefix, ".", absl::Dec(millis % 1000, absl::kZeroPad3), "Z");
}

std::string FormatLine(bool json, LogLevel level, absl::string_view component,
                       absl::string_view message, LogFields fields) {
  const std::string time = LogTime(absl::Now());
  std::string line;
  if (json) {
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
      if (value.empty()) continue;
      absl::StrAppend(&line, " ", key, "=");
      AppendTextValue(&line, value);
    }
    line.push_back('\n');
  }
  return line;
}

bool SendToJournal(LogLevel level, absl::string_view component, absl::string_view message,
                   LogFields fields) {
  std::vector<std::string> entries = JournalFields(level, component, message, fields);
  std::vector<struct iovec> iov;
  iov.reserve(entries.size());
  for (std::string& e : entries) iov.push_back({e.data(), e.size()});
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
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

bool ParseLogFormat(absl::string_view name, LogFormat* format) {
  if (name == "text") {
    *format = LogFormat::kText;
  } else if (name == "json") {
    *format = LogFormat::kJson;
  } else if (name == "journal") {
    *format = LogFormat::kJournal;
  } else if (name == "auto" || name.empty()) {
    *format = StderrIsJournal() ? LogFormat::kJournal : LogFormat::kText;
  } else {
    return false;
  }
  return true;
}

void SetJournalSocketForTesting(const char* path) {
  g_journal_socket.store(path != nullptr ? path : kJournalSocket);
}

void SetLogFormat(LogFormat format) {
  if (format == LogFormat::kJournal) {
    struct stat st {};
    g_journal_available.store(stat(g_journal_socket.load(), &st) == 0 && S_ISSOCK(st.st_mode));
  }
  g_format.store(static_cast<int>(format));
}

bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  std::pair<std::string, std::string> parts = absl::StrSplit(stream, absl::MaxSplits(':', 1));
  uint64_t dev = 0;
  uint64_t ino = 0;
  if (!absl::SimpleAtoi(parts.first, &dev) || !absl::SimpleAtoi(parts.second, &ino)) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino;
}

std::vector<std::string> JournalFields(LogLevel level, absl::string_view component,
                                       absl::string_view message, LogFields fields) {
  std::vector<std::string> out;
  out.push_back(absl::StrCat("MESSAGE=", component, ": ", message));
  out.push_back(absl::StrCat("PRIORITY=", Priority(level)));
  out.push_back("SYSLOG_IDENTIFIER=voipd");
  out.push_back(absl::StrCat("VOIPD_COMPONENT=", component));
  for (const auto& [key, value] : fields) {
    if (value.empty()) continue;
    // Journal field names: A-Z, 0-9 and '_', not starting with '_'.
    std::string entry = key.empty() || !absl::ascii_isalnum(key[0]) ? "F" : "";
    for (char c : key) entry.push_back(absl::ascii_isalnum(c) ? absl::ascii_toupper(c) : '_');
    absl::StrAppend(&entry, "=", value);
    out.push_back(std::move(entry));
  }
  return out;
}

void SetLogSinkForTest(std::function<void(absl::string_view line)> sink) {
  absl::MutexLock lock(&g_sink_mu);
  delete g_sink;
  g_sink = sink ? new std::function<void(absl::string_view)>(std::move(sink)) : nullptr;
  g_has_sink.store(g_sink != nullptr);
}

void Log(LogLevel level, absl::string_view component, absl::string_view message) {
  LogWithFields(level, component, message, {});
}

void LogWithFields(LogLevel level, absl::string_view component, absl::string_view message,
                   LogFields fields) {
  if (!LogEnabled(level)) return;
  const auto format = static_cast<LogFormat>(g_format.load());
  if (g_has_sink.load()) {
    const std::string line = FormatLine(format == LogFormat::kJson, level, component, message,
                                        fields);
    absl::MutexLock lock(&g_sink_mu);
    if (g_sink != nullptr) {
      (*g_sink)(line);
      return;
    }
  }
  // Falls back to a text line when journald cannot be reached.
  if (format == LogFormat::kJournal && g_journal_available.load() &&
      SendToJournal(level, component, message, fields)) {
    return;
  }
  const std::string line =
      FormatLine(format == LogFormat::kJson, level, component, message, fields);
  // Whole lines, so concurrent records never interleave; warnings and
  // errors are written at once, info and debug lines may be batched.
  WriteStderrLine(line, /*urgent=*/level <= LogLevel::kWarn);
}

void FlushLogs() { FlushStderrLines(); }

}  // namespace voipd
