// Token scopes and the one table of which RPC needs which scope.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "daemon/security/security_settings.h"

namespace voipd {

enum Scope : ScopeSet {
  kScopeCallsRead = 1u << 0,   // "calls:read"
  kScopeCallsWrite = 1u << 1,  // "calls:write"
  kScopeAdmin = 1u << 2,       // "admin": implies every other scope
};

// "calls:read" → kScopeCallsRead; nullopt for an unknown name.
std::optional<Scope> ParseScope(absl::string_view name);
std::string ScopeName(Scope scope);

// The scope an RPC needs, by its method name ("StartCall"); nullopt for a
// method this table does not know, which is then admin-only.
std::optional<Scope> RequiredScope(absl::string_view method);

bool HasScope(ScopeSet granted, Scope needed);

}  // namespace voipd
