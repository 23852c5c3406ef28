// One AMI message (a block of "Key: value" lines ended by a blank line), as
// received or as an action to send. Headers keep their order and duplicates
// because AMI repeats some keys (`Variable`, `Output`); lookups ignore case
// as Asterisk's own astman_get_header() does.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace voipd::adapters::asterisk_ami {

enum class AmiMessageType {
  kGreeting,  // "Asterisk Call Manager/11.0.0", the first line of a session
  kEvent,     // has `Event:` (also OriginateResponse, which has `Response:` too)
  kResponse,  // has `Response:` and no `Event:`
  kOther,     // neither (an action, or something malformed)
};

class AmiMessage {
 public:
  using Header = std::pair<std::string, std::string>;

  AmiMessage() = default;
  static AmiMessage Greeting(std::string line) {
    AmiMessage m;
    m.greeting_ = std::move(line);
    m.is_greeting_ = true;
    return m;
  }
  // An action to send: `Action: <name>`.
  static AmiMessage Action(absl::string_view name) {
    AmiMessage m;
    m.Add("Action", name);
    return m;
  }

  AmiMessage& Add(absl::string_view key, absl::string_view value) {
    headers_.emplace_back(std::string(key), std::string(value));
    return *this;
  }
  // Replaces every `key` header with one (appends when absent).
  AmiMessage& Set(absl::string_view key, absl::string_view value) {
    bool found = false;
    std::vector<Header> kept;
    for (auto& h : headers_) {
      if (!absl::EqualsIgnoreCase(h.first, key)) {
        kept.push_back(std::move(h));
      } else if (!found) {
        kept.emplace_back(std::move(h.first), std::string(value));
        found = true;
      }
    }
    if (!found) kept.emplace_back(std::string(key), std::string(value));
    headers_ = std::move(kept);
    return *this;
  }
  void AddOutputLine(std::string line) { output_.push_back(std::move(line)); }

  AmiMessageType type() const {
    if (is_greeting_) return AmiMessageType::kGreeting;
    if (Has("Event")) return AmiMessageType::kEvent;
    if (Has("Response")) return AmiMessageType::kResponse;
    return AmiMessageType::kOther;
  }
  bool Has(absl::string_view key) const { return Find(key) != nullptr; }
  // The first value of `key`, or "" when absent.
  absl::string_view Get(absl::string_view key) const {
    const std::string* v = Find(key);
    return v ? absl::string_view(*v) : absl::string_view();
  }
  std::vector<absl::string_view> GetAll(absl::string_view key) const {
    std::vector<absl::string_view> out;
    for (const auto& h : headers_) {
      if (absl::EqualsIgnoreCase(h.first, key)) out.push_back(h.second);
    }
    return out;
  }
  bool IsEvent(absl::string_view name) const {
    return type() == AmiMessageType::kEvent && absl::EqualsIgnoreCase(Get("Event"), name);
  }
  bool IsSuccess() const { return absl::EqualsIgnoreCase(Get("Response"), "Success"); }

  const std::vector<Header>& headers() const { return headers_; }
  // Lines of a `Response: Follows` body (old-style command output).
  const std::vector<std::string>& output() const { return output_; }
  const std::string& greeting() const { return greeting_; }

  // Wire form of an action. CR and LF inside keys or values are dropped: a
  // value must never be able to start a new header or a new action.
  std::string Serialize() const {
    std::string out;
    for (const auto& [key, value] : headers_) {
      absl::StrAppend(&out, Clean(key), ": ", Clean(value), "\r\n");
    }
    out += "\r\n";
    return out;
  }

  friend bool operator==(const AmiMessage& a, const AmiMessage& b) {
    return a.is_greeting_ == b.is_greeting_ && a.greeting_ == b.greeting_ &&
           a.headers_ == b.headers_ && a.output_ == b.output_;
  }

 private:
  const std::string* Find(absl::string_view key) const {
    for (const auto& h : headers_) {
      if (absl::EqualsIgnoreCase(h.first, key)) return &h.second;
    }
    return nullptr;
  }
  static std::string Clean(absl::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
      if (c != '\r' && c != '\n') out.push_back(c);
    }
    return out;
  }

  bool is_greeting_ = false;
  std::string greeting_;
  std::vector<Header> headers_;
  std::vector<std::string> output_;
};

}  // namespace voipd::adapters::asterisk_ami
