#include "daemon/security/authorizer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "daemon/security/scopes.h"
#include "daemon/security/token_hash.h"

namespace voipd {
namespace {

// Tokens longer than this are rejected before hashing: nobody needs them and
// they would only cost CPU.
constexpr size_t kMaxTokenLength = 4096;

}  // namespace

Authorizer::Authorizer(std::vector<TokenSpec> tokens) { SetTokens(std::move(tokens)); }

void Authorizer::SetTokens(std::vector<TokenSpec> tokens) {
  auto table = std::make_shared<const std::vector<TokenSpec>>(std::move(tokens));
  absl::MutexLock lock(&mu_);
  tokens_ = std::move(table);
}

bool Authorizer::enabled() const {
  absl::MutexLock lock(&mu_);
  return !tokens_->empty();
}

absl::StatusOr<Principal> Authorizer::Authenticate(
    std::optional<absl::string_view> authorization) const {
  std::shared_ptr<const std::vector<TokenSpec>> tokens;
  {
    absl::MutexLock lock(&mu_);
    tokens = tokens_;
  }
  if (tokens->empty()) return Principal{"anonymous", kScopeAdmin, {}};

  if (!authorization.has_value()) {
    return UnauthenticatedError("missing `authorization: Bearer <token>` header");
  }
  absl::string_view value = absl::StripAsciiWhitespace(*authorization);
  constexpr absl::string_view kBearer = "bearer ";
  if (value.size() <= kBearer.size() || !absl::StartsWithIgnoreCase(value, kBearer)) {
    return UnauthenticatedError("the authorization header is not `Bearer <token>`");
  }
  absl::string_view token = absl::StripAsciiWhitespace(value.substr(kBearer.size()));
  if (token.empty() || token.size() > kMaxTokenLength) {
    return UnauthenticatedError("invalid bearer token");
  }
  const std::string hash = Sha256(token);
  // Compare against every entry so the time taken does not tell which
  // (or whether any) entry matched early.
  const TokenSpec* match = nullptr;
  for (const TokenSpec& spec : *tokens) {
    if (ConstantTimeEquals(hash, spec.sha256) && match == nullptr) match = &spec;
  }
  if (match == nullptr) return UnauthenticatedError("invalid bearer token");
  return Principal{match->name, match->scopes, match->labels};
}

absl::StatusOr<Principal> Authorizer::Authorize(std::optional<absl::string_view> authorization,
                                                absl::string_view method) const {
  absl::StatusOr<Principal> authenticated = Authenticate(authorization);
  if (!authenticated.ok()) return authenticated.status();
  Principal& principal = *authenticated;
  const std::optional<Scope> needed = RequiredScope(method);
  const Scope scope = needed.value_or(kScopeAdmin);
  if (!HasScope(principal.scopes, scope)) {
    return PermissionDeniedError(
        absl::StrCat("token '", principal.name, "' lacks scope ", ScopeName(scope), " for ",
                     method),
        ScopeName(scope));
  }
  return principal;
}

}  // namespace voipd
