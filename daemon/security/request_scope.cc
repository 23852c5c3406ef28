#include "daemon/security/request_scope.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "daemon/security/token_hash.h"

namespace voipd {

bool ScopesRequestId(const Principal& principal, const std::string& request_id) {
  return !request_id.empty() && principal.name != "anonymous" && request_id.size() <= 128;
}

std::string ScopedRequestId(const Principal& principal, const std::string& request_id) {
  if (!ScopesRequestId(principal, request_id)) return request_id;
  return absl::BytesToHexString(Sha256(absl::StrCat(principal.name, "\n", request_id)));
}

}  // namespace voipd
