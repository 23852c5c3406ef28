// After a crash: the calls that were active in the previous run are put back
// in the registry and offered to their adapter (Adapter::Readopt). A call
// its provider still has is taken over again; any other — system gone,
// adapter cannot tell, refused, or no answer within `timeout` — gets its one
// terminal event: DISCONNECTED, source SYSTEM, DAEMON_RESTART.
#pragma once

#include <vector>

#include "absl/time/time.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/system_table.h"

namespace boost::asio {
class io_context;
}

namespace voipd {

void RecoverCalls(const std::vector<voip::v1::CallSession>& calls, const SystemTable& systems,
                  CallRegistry* registry, boost::asio::io_context* io, absl::Duration timeout);

}  // namespace voipd
