// Test helpers: collect voipd's log records for the lifetime of the object,
// then restore the logger's defaults (text, info, stderr).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "daemon/logging.h"

namespace voipd {

// Every formatted line, in whatever format the test sets.
class LogCapture {
 public:
  LogCapture() {
    SetLogSinkForTest([this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() {
    SetLogSinkForTest(nullptr);
    SetLogLevel(LogLevel::kInfo);
    SetLogFormat(LogFormat::kText);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_;
};

// JSON lines from `level` up, parsed.
class JsonLogCapture : public LogCapture {
 public:
  explicit JsonLogCapture(LogLevel level = LogLevel::kDebug) {
    SetLogFormat(LogFormat::kJson);
    SetLogLevel(level);
  }
  std::vector<nlohmann::json> records() const {
    std::vector<nlohmann::json> out;
    for (const std::string& line : lines()) out.push_back(nlohmann::json::parse(line));
    return out;
  }
};

}  // namespace voipd
