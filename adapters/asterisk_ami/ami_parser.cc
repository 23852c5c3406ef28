#include "adapters/asterisk_ami/ami_parser.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace voipd::adapters::asterisk_ami {
namespace {

constexpr absl::string_view kGreetingPrefix = "Asterisk Call Manager/";
constexpr absl::string_view kEndCommand = "--END COMMAND--";

// Splits "Key: value". Asterisk writes exactly one space after the colon;
// more (or none) is accepted, and the value keeps everything after them.
bool SplitHeader(absl::string_view line, absl::string_view* key, absl::string_view* value) {
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return false;
  *key = absl::StripTrailingAsciiWhitespace(line.substr(0, colon));
  if (key->empty()) return false;
  absl::string_view v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  *value = v;
  return true;
}

}  // namespace

AmiParser::AmiParser(size_t max_message_bytes)
    : max_message_bytes_(max_message_bytes == 0 ? kDefaultMaxMessageBytes : max_message_bytes) {}

void AmiParser::Reset() {
  state_ = State::kGreeting;
  skip_line_ = false;
  line_.clear();
  current_ = AmiMessage();
  in_message_ = false;
  message_bytes_ = 0;
}

void AmiParser::Error(std::string what) {
  ++errors_;
  last_error_ = std::move(what);
}

void AmiParser::Feed(absl::string_view data, std::vector<AmiMessage>& out) {
  while (!data.empty()) {
    const size_t nl = data.find('\n');
    const absl::string_view chunk = nl == absl::string_view::npos ? data : data.substr(0, nl);
    if (skip_line_) {
      if (nl == absl::string_view::npos) return;
      skip_line_ = false;
      data.remove_prefix(nl + 1);
      continue;
    }
    // The check sees the same running total however the line was cut, so
    // an oversized message is detected identically for every split.
    const size_t incoming = chunk.size() + (nl == absl::string_view::npos ? 0 : 1);
    if (message_bytes_ + line_.size() + incoming > max_message_bytes_) {
      Error(absl::StrCat("message longer than ", max_message_bytes_, " bytes; skipped"));
      current_ = AmiMessage();
      in_message_ = false;
      message_bytes_ = 0;
      line_.clear();
      state_ = State::kDiscard;
      if (nl == absl::string_view::npos) {
        skip_line_ = true;
        return;
      }
      data.remove_prefix(nl + 1);
      continue;
    }
    line_.append(chunk.data(), chunk.size());
    if (nl == absl::string_view::npos) return;
    data.remove_prefix(nl + 1);
    absl::string_view line = line_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t line_bytes = line_.size() + 1;
    OnLine(line, out);
    // OnLine may have finished the message (and reset the count).
    if (in_message_) message_bytes_ += line_bytes;
    line_.clear();
  }
}

void AmiParser::OnLine(absl::string_view line, std::vector<AmiMessage>& out) {
  switch (state_) {
    case State::kGreeting:
      if (line.empty()) return;
      state_ = State::kHeaders;
      if (absl::StartsWith(line, kGreetingPrefix)) {
        out.push_back(AmiMessage::Greeting(std::string(line)));
        return;
      }
      // No greeting (e.g. a proxy that strips it): it is an ordinary line.
      OnHeaderLine(line, out);
      return;
    case State::kHeaders: OnHeaderLine(line, out); return;
    case State::kFollows: OnFollowsLine(line, out); return;
    case State::kDiscard:
      if (line.empty()) state_ = State::kHeaders;
      return;
  }
}

void AmiParser::OnHeaderLine(absl::string_view line, std::vector<AmiMessage>& out) {
  if (line.empty()) {
    if (in_message_) Emit(out);
    return;  // blank lines between messages are harmless
  }
  absl::string_view key, value;
  if (!SplitHeader(line, &key, &value)) {
    Error("line without 'Key: value' form; skipped");
    return;
  }
  const bool first = !in_message_;
  in_message_ = true;
  current_.Add(key, value);
  if (first && absl::EqualsIgnoreCase(key, "Response") &&
      absl::EqualsIgnoreCase(value, "Follows")) {
    state_ = State::kFollows;
  }
}

void AmiParser::OnFollowsLine(absl::string_view line, std::vector<AmiMessage>& out) {
  if (absl::EndsWith(line, kEndCommand)) {
    // Asterisk appends the marker right after the last output byte, which
    // may not end in a newline.
    const absl::string_view rest = line.substr(0, line.size() - kEndCommand.size());
    if (!rest.empty()) current_.AddOutputLine(std::string(rest));
    Emit(out);
    state_ = State::kHeaders;
    return;
  }
  absl::string_view key, value;
  if (current_.output().empty() && SplitHeader(line, &key, &value) &&
      (absl::EqualsIgnoreCase(key, "Privilege") || absl::EqualsIgnoreCase(key, "ActionID") ||
       absl::EqualsIgnoreCase(key, "Message"))) {
    current_.Add(key, value);
    return;
  }
  current_.AddOutputLine(std::string(line));
}

void AmiParser::Emit(std::vector<AmiMessage>& out) {
  out.push_back(std::move(current_));
  current_ = AmiMessage();
  in_message_ = false;
  message_bytes_ = 0;
}

}  // namespace voipd::adapters::asterisk_ami
