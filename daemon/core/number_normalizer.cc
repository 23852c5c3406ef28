#include "daemon/core/number_normalizer.h"

#include <phonenumbers/phonenumberutil.h>

#include <optional>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// Longest string treated as an internal extension rather than a number.
constexpr size_t kMaxExtensionDigits = 6;
constexpr size_t kMaxTargetLength = 256;

bool IsExtension(absl::string_view s) {
  if (s.empty() || s.size() > kMaxExtensionDigits) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '*' && c != '#') return false;
  }
  return true;
}

// An endpoint name ("alice", "agent.7"): starts with a letter, so it never
// collides with a dialable number or an extension. Longest accepted name:
constexpr size_t kMaxIdentityLength = 64;

bool IsIdentity(absl::string_view s) {
  if (s.empty() || s.size() > kMaxIdentityLength) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(s.front()))) return false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!absl::ascii_isalnum(u) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// A SIP URI is passed to the adapter's SIP stack untouched; here we only
// reject what can never be one, so that errors surface at the edge.
bool LooksLikeSipUri(absl::string_view s) {
  if (!absl::StartsWithIgnoreCase(s, "sip:") && !absl::StartsWithIgnoreCase(s, "sips:")) {
    return false;
  }
  return true;
}

// libphonenumber's regular expressions were the largest single CPU cost of
// StartCall in bench scenario a; click-to-call dials the same numbers again
// and again, so valid results are remembered. Bounded: cleared when full.
class E164Cache {
 public:
  std::optional<NormalizedTarget> Find(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void Put(const std::string& key, const NormalizedTarget& target) {
    absl::MutexLock lock(&mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_.emplace(key, target);
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  absl::Mutex mu_;
  std::unordered_map<std::string, NormalizedTarget> entries_ ABSL_GUARDED_BY(mu_);
};

E164Cache& Cache() {
  static auto* cache = new E164Cache();
  return *cache;
}

bool HasControlOrSpace(absl::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

bool IsKnownRegion(absl::string_view region) {
  std::set<std::string> regions;
  PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
  return regions.count(std::string(region)) != 0;
}

absl::StatusOr<NormalizedTarget> NormalizeNumber(absl::string_view typed,
                                                 absl::string_view default_region,
                                                 absl::string_view field) {
  const std::string f(field);
  absl::string_view trimmed = absl::StripAsciiWhitespace(typed);
  if (trimmed.empty()) return InvalidNumberError(f, absl::StrCat(f, ": is required"));
  if (trimmed.size() > kMaxTargetLength) {
    return InvalidNumberError(f, absl::StrCat(f, ": longer than ", kMaxTargetLength, " characters"));
  }
  NormalizedTarget target;
  if (LooksLikeSipUri(trimmed)) {
    const size_t colon = trimmed.find(':');
    if (HasControlOrSpace(trimmed) || colon + 1 >= trimmed.size()) {
      return InvalidNumberError(f, absl::StrCat(f, ": '", trimmed, "' is not a valid SIP URI"));
    }
    target.kind = adapters::TargetKind::kSipUri;
    target.value = std::string(trimmed);
    return target;
  }
  if (IsExtension(trimmed)) {
    target.kind = adapters::TargetKind::kExtension;
    target.value = std::string(trimmed);
    return target;
  }
  if (IsIdentity(trimmed)) {
    target.kind = adapters::TargetKind::kIdentity;
    target.value = std::string(trimmed);
    return target;
  }
  const std::string cache_key = absl::StrCat(default_region, "\x1f", trimmed);
  if (std::optional<NormalizedTarget> cached = Cache().Find(cache_key)) return *cached;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  const auto error = util.Parse(std::string(trimmed), std::string(default_region), &number);
  if (error != PhoneNumberUtil::NO_PARSING_ERROR || !util.IsValidNumber(number)) {
    return InvalidNumberError(
        f, absl::StrCat(f, ": '", trimmed, "' is not a valid phone number",
                        trimmed.front() == '+' ? "" : absl::StrCat(" for region ", default_region),
                        " (nor a SIP URI, an extension of up to ", kMaxExtensionDigits,
                        " digits or an endpoint name)"));
  }
  util.Format(number, PhoneNumberUtil::E164, &target.value);
  util.GetRegionCodeForNumber(number, &target.region);
  target.kind = adapters::TargetKind::kE164;
  Cache().Put(cache_key, target);
  return target;
}

}  // namespace voipd
