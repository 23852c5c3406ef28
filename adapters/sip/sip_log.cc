#include "adapters/sip/sip_log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace voipd::adapters::sip {
namespace {

void Write(const char* level, absl::string_view system, absl::string_view message) {
  // One fwrite per record so that lines from several threads never mix.
  const std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                   " ", level, " sip[", system, "]: ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void SipLogInfo(absl::string_view system, absl::string_view message) {
  Write("info", system, message);
}

void SipLogWarn(absl::string_view system, absl::string_view message) {
  Write("warn", system, message);
}

}  // namespace voipd::adapters::sip
