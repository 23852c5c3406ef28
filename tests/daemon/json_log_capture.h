// Test helper: collects voipd's log records as parsed JSON for the
// lifetime of the object, then restores the logger's defaults (text, info,
// stderr).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "daemon/logging.h"

namespace voipd {

class JsonLogCapture {
 public:
  explicit JsonLogCapture(LogLevel level = LogLevel::kDebug) {
    SetLogFormat(LogFormat::kJson);
    SetLogLevel(level);
    SetLogSinkForTest([this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  ~JsonLogCapture() {
    SetLogSinkForTest(nullptr);
    SetLogFormat(LogFormat::kText);
    SetLogLevel(LogLevel::kInfo);
  }
  JsonLogCapture(const JsonLogCapture&) = delete;
  JsonLogCapture& operator=(const JsonLogCapture&) = delete;

  std::vector<nlohmann::json> records() const {
    absl::MutexLock lock(&mu_);
    std::vector<nlohmann::json> out;
    for (const std::string& line : lines_) out.push_back(nlohmann::json::parse(line));
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace voipd
