// Refuses to expose an unauthenticated call API beyond this host: anyone
// who can reach such a listener can place calls at the operator's expense
// (toll fraud).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "daemon/security/security_settings.h"

namespace voipd {

// INVALID_ARGUMENT naming the first address that is not local when nobody
// has to authenticate and allow_insecure is off. `what` prefixes the
// message ("listen" → "listen[0]: ...").
absl::Status CheckListenerExposure(const std::vector<std::string>& addresses,
                                   const SecuritySettings& security, const std::string& what);

}  // namespace voipd
