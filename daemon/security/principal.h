// Who is calling: the token that authenticated a request, reduced to what
// the service needs. Never holds the token or its hash.
#pragma once

#include <map>
#include <string>

#include "daemon/security/security_settings.h"

namespace voipd {

struct Principal {
  std::string name;  // token name, or "anonymous" when auth is off
  ScopeSet scopes = 0;
  // Tenant restriction: forced onto started calls, required on seen calls.
  std::map<std::string, std::string> labels;
};

}  // namespace voipd
