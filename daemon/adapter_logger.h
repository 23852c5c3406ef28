// The adapters::Logger the daemon hands every adapter: records go through
// the core's logging (log_level, log_format, journald fields).
#pragma once

#include "adapters/api/logger.h"

namespace voipd {

const adapters::Logger& CoreAdapterLogger();

}  // namespace voipd
