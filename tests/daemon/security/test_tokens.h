// A token table entry for tests: the secret is hashed as the config loader
// would store it.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "daemon/security/security_settings.h"
#include "daemon/security/token_hash.h"

namespace voipd {

inline TokenSpec TestToken(std::string name, const std::string& secret, ScopeSet scopes,
                           std::map<std::string, std::string> labels = {}) {
  TokenSpec t;
  t.name = std::move(name);
  t.sha256 = Sha256(secret);
  t.scopes = scopes;
  t.labels = std::move(labels);
  return t;
}

}  // namespace voipd
