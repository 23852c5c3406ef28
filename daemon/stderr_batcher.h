// Writes log lines to stderr in batches under sustained load.
//
// A busy daemon logs two info lines per call; one write(2) per line was ~4 %
// of voipd's CPU in bench scenario a. While lines come faster than
// kBatchLines per kBatchWindow (a busy daemon), each waits at most
// kBatchWindow for a flusher thread that writes everything pending in one
// call. Below that rate (an idle or quiet daemon, a short burst, every test
// that reads the log right after an RPC) each line is written at once, as
// before. warn and error lines are always written at once, together with
// whatever is pending before them; what is pending is also written at exit.
// Lines are only ever written whole and in order.
#pragma once

#include <chrono>

#include "absl/strings/string_view.h"

namespace voipd {

inline constexpr std::chrono::milliseconds kBatchWindow{2};
inline constexpr int kBatchLines = 16;  // per window: 8,000 lines/s

// `line` ends with '\n'. `urgent`: write it (and anything before it) now.
void WriteStderrLine(absl::string_view line, bool urgent);

// Writes whatever is pending. Thread-safe; also registered with atexit.
void FlushStderrLines();

}  // namespace voipd
