// CSV rows for `voipctl history --csv` (RFC 4180: every field quoted when it
// holds a comma, quote or line break; quotes doubled).
#pragma once

#include <string>

#include "voip/v1/call.pb.h"

namespace voipd::voipctl {

std::string HistoryCsvHeader();
std::string HistoryCsvRow(const voip::v1::CallSession& session);

}  // namespace voipd::voipctl
