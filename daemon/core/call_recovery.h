// After a crash: the calls that were active in the previous run are put back
// in the registry and offered to their adapter (Adapter::Readopt). A call
// its provider still has is taken over again; any other — system gone,
// adapter cannot tell, refused, or no answer within `timeout` — gets its one
// terminal event: DISCONNECTED, source SYSTEM, DAEMON_RESTART. If the
// adapter takes a call over only after `timeout` ended it, the call is hung
// up at the provider: the clients were told it ended, and a call left up
// there would run (and be billed) with nobody able to end it through voipd.
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
