#include "adapters/webrtc/webrtc_log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace voipd::adapters::webrtc {

void LogWebRtcInfo(absl::string_view system, absl::string_view message) {
  // One fwrite per line so concurrent records never interleave.
  const std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " info webrtc[",
      system, "]: ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace voipd::adapters::webrtc
