#include "daemon/security/scopes.h"

#include <array>
#include <utility>

namespace voipd {
namespace {

constexpr std::array<std::pair<absl::string_view, Scope>, 9> kMethodScopes = {{
    {"GetCallStatus", kScopeCallsRead},
    {"ListCalls", kScopeCallsRead},
    {"GetCapabilities", kScopeCallsRead},
    {"WatchCall", kScopeCallsRead},
    {"SubscribeCallEvents", kScopeCallsRead},
    {"StartCall", kScopeCallsWrite},
    {"EndCall", kScopeCallsWrite},
    {"Hold", kScopeCallsWrite},
    {"Mute", kScopeCallsWrite},
}};

}  // namespace

std::optional<Scope> ParseScope(absl::string_view name) {
  if (name == "calls:read") return kScopeCallsRead;
  if (name == "calls:write") return kScopeCallsWrite;
  if (name == "admin") return kScopeAdmin;
  return std::nullopt;
}

std::string ScopeName(Scope scope) {
  switch (scope) {
    case kScopeCallsRead: return "calls:read";
    case kScopeCallsWrite: return "calls:write";
    case kScopeAdmin: return "admin";
  }
  return "admin";
}

std::optional<Scope> RequiredScope(absl::string_view method) {
  for (const auto& [name, scope] : kMethodScopes) {
    if (name == method) return scope;
  }
  return std::nullopt;
}

bool HasScope(ScopeSet granted, Scope needed) {
  return (granted & kScopeAdmin) != 0 || (granted & needed) != 0;
}

}  // namespace voipd
