// Reads the recorded AMI sessions (tests/integration/asterisk/transcripts,
// copied byte for byte from the real-peer recordings): each record is a
// marker line "--- +<t> C>S|S>C <n> bytes ---", exactly n raw bytes, and one
// LF. Header-only; the unit-test binary globs *_test.cc only.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

#ifndef VOIPD_SOURCE_DIR
#error "VOIPD_SOURCE_DIR must be defined by tests/CMakeLists.txt"
#endif

namespace voipd::adapters::asterisk_ami::test {

struct TranscriptRecord {
  double time = 0;
  bool from_server = false;  // S>C
  bool eof = false;          // "S>C EOF": the server closed
  std::string bytes;
};

inline std::string TranscriptDir() {
  return std::string(VOIPD_SOURCE_DIR) + "/tests/integration/asterisk/transcripts";
}

inline std::vector<std::string> TranscriptFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(TranscriptDir())) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Empty on a malformed file (the test then fails on the size check).
inline std::vector<TranscriptRecord> ReadTranscript(const std::string& path) {
  const std::string data = ReadFile(path);
  std::vector<TranscriptRecord> records;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t eol = data.find('\n', pos);
    if (eol == std::string::npos) break;
    const absl::string_view line(data.data() + pos, eol - pos);
    pos = eol + 1;
    if (!absl::StartsWith(line, "--- +")) continue;  // '#' header lines
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    // --- +t DIR n bytes ---   or   --- +t S>C EOF ---
    if (parts.size() < 4) return {};
    TranscriptRecord r;
    if (!absl::SimpleAtod(parts[1].substr(1), &r.time)) return {};
    r.from_server = parts[2] == "S>C";
    if (parts[3] == "EOF") {
      r.eof = true;
      records.push_back(r);
      continue;
    }
    size_t n = 0;
    if (!absl::SimpleAtoi(parts[3], &n) || pos + n > data.size()) return {};
    r.bytes = data.substr(pos, n);
    pos += n + 1;  // the extra LF after the payload
    records.push_back(std::move(r));
  }
  return records;
}

// One direction's bytes joined: the exact TCP stream.
inline std::string ServerStream(const std::vector<TranscriptRecord>& records) {
  std::string out;
  for (const auto& r : records) {
    if (r.from_server && !r.eof) out += r.bytes;
  }
  return out;
}

}  // namespace voipd::adapters::asterisk_ami::test
