// Incremental AMI parser: bytes in (split anywhere), messages out. The same
// byte stream gives the same messages however it is cut, which is what lets
// the connection feed it whatever each read returned.
//
// Framing: an optional greeting line ("Asterisk Call Manager/11.0.0"), then
// blocks of "Key: value" lines, each ended by a blank line (CRLF; a bare LF is
// accepted too). Old-style command output (`Response: Follows`) is raw text
// ended by "--END COMMAND--" and may contain blank lines.
//
// Memory is bounded: a message longer than max_message_bytes (counting its
// partial last line) is dropped and the parser skips to the next blank line,
// so the buffered bytes never exceed that bound. Malformed input is counted
// in errors() and skipped; it never throws or crashes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "adapters/asterisk_ami/ami_message.h"

namespace voipd::adapters::asterisk_ami {

class AmiParser {
 public:
  static constexpr size_t kDefaultMaxMessageBytes = 64 * 1024;

  explicit AmiParser(size_t max_message_bytes = kDefaultMaxMessageBytes);

  // Appends every message that `data` completes to `out`.
  void Feed(absl::string_view data, std::vector<AmiMessage>& out);

  // Forgets any partial message, e.g. for a new connection (which starts
  // with a greeting again).
  void Reset();

  // Malformed lines and oversized messages seen so far, and the last one's
  // description (no message content, only what was wrong).
  size_t errors() const { return errors_; }
  const std::string& last_error() const { return last_error_; }
  // Bytes held for the message being assembled (bounded by the limit).
  size_t buffered_bytes() const { return line_.size() + message_bytes_; }

 private:
  enum class State {
    kGreeting,  // before the first line
    kHeaders,   // in or between ordinary messages
    kFollows,   // in a `Response: Follows` body
    kDiscard,   // skipping an oversized message up to its blank line
  };

  void OnLine(absl::string_view line, std::vector<AmiMessage>& out);
  void OnHeaderLine(absl::string_view line, std::vector<AmiMessage>& out);
  void OnFollowsLine(absl::string_view line, std::vector<AmiMessage>& out);
  void Emit(std::vector<AmiMessage>& out);
  void Error(std::string what);

  const size_t max_message_bytes_;
  State state_ = State::kGreeting;
  // True while skipping the rest of an overlong line (up to its LF).
  bool skip_line_ = false;
  std::string line_;    // the incomplete last line
  AmiMessage current_;  // the message being assembled
  bool in_message_ = false;
  size_t message_bytes_ = 0;  // bytes of current_'s complete lines
  size_t errors_ = 0;
  std::string last_error_;
};

}  // namespace voipd::adapters::asterisk_ami
