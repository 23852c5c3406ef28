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

// The token in "Bearer <token>", or why the header is not one.
absl::StatusOr<absl::string_view> BearerToken(std::optional<absl::string_view> authorization) {
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
  return token;
}

// The principal of the entry whose hash is `sha256`. Compares against every
// entry so the time taken does not tell which (or whether any) entry
// matched early.
absl::StatusOr<Principal> Lookup(const std::vector<TokenSpec>& tokens, absl::string_view sha256) {
  const TokenSpec* match = nullptr;
  for (const TokenSpec& spec : tokens) {
    if (ConstantTimeEquals(sha256, spec.sha256) && match == nullptr) match = &spec;
  }
  if (match == nullptr) return UnauthenticatedError("invalid bearer token");
  return Principal{match->name, match->scopes, match->labels};
}

Principal Anonymous() { return Principal{"anonymous", kScopeAdmin, {}}; }

}  // namespace

Authorizer::Authorizer(std::vector<TokenSpec> tokens) { SetTokens(std::move(tokens)); }

void Authorizer::SetTokens(std::vector<TokenSpec> tokens) {
  auto table = std::make_shared<const std::vector<TokenSpec>>(std::move(tokens));
  {
    absl::MutexLock lock(&mu_);
    tokens_ = std::move(table);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

Authorizer::TokenTable Authorizer::tokens() const {
  absl::MutexLock lock(&mu_);
  return tokens_;
}

bool Authorizer::enabled() const { return !tokens()->empty(); }

absl::StatusOr<Principal> Authorizer::Authenticate(
    std::optional<absl::string_view> authorization) const {
  TokenTable tokens = this->tokens();
  if (tokens->empty()) return Anonymous();
  absl::StatusOr<absl::string_view> token = BearerToken(authorization);
  if (!token.ok()) return token.status();
  return Lookup(*tokens, Sha256(*token));
}

absl::Status Authorizer::RequireScope(const Principal& principal, absl::string_view method) {
  const std::optional<Scope> needed = RequiredScope(method);
  const Scope scope = needed.value_or(kScopeAdmin);
  if (HasScope(principal.scopes, scope)) return absl::OkStatus();
  return PermissionDeniedError(absl::StrCat("token '", principal.name, "' lacks scope ",
                                            ScopeName(scope), " for ", method),
                               ScopeName(scope));
}

absl::StatusOr<Principal> Authorizer::Authorize(std::optional<absl::string_view> authorization,
                                                absl::string_view method) const {
  absl::StatusOr<Principal> principal = Authenticate(authorization);
  if (!principal.ok()) return principal;
  if (absl::Status scope = RequireScope(*principal, method); !scope.ok()) return scope;
  return principal;
}

std::optional<std::string> Authorizer::DigestOf(std::optional<absl::string_view> authorization) {
  absl::StatusOr<absl::string_view> token = BearerToken(authorization);
  if (!token.ok()) return std::nullopt;
  return Sha256(*token);
}

absl::StatusOr<Principal> Authorizer::Reauthenticate(const std::optional<std::string>& sha256,
                                                     absl::string_view previous_name) const {
  TokenTable tokens = this->tokens();
  if (tokens->empty()) return Anonymous();
  if (sha256.has_value()) {
    absl::StatusOr<Principal> now = Lookup(*tokens, *sha256);
    if (now.ok()) return now;
  }
  return UnauthenticatedError(
      previous_name == "anonymous"
          ? std::string("tokens were reloaded: a token is now required")
          : absl::StrCat("tokens were reloaded: token '", previous_name,
                         "' is no longer accepted"));
}

}  // namespace voipd
