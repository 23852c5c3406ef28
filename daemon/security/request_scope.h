// How a request is narrowed to the token that sent it, whichever door it came
// in by (a gRPC handler, or an adapter's page through CoreCallHost): the
// token's tenant labels are forced onto it (tenant_scope.h) and its
// request_id moves into the token's own namespace.
#pragma once

#include <string>

#include "daemon/security/principal.h"

namespace voipd {

// Whether ScopedRequestId changes `request_id`: only named tokens have a
// namespace ("anonymous" is everyone when auth is off), and an over-long id
// is left for validation to refuse by its field name.
bool ScopesRequestId(const Principal& principal, const std::string& request_id);

// request_id keys belong to the token that sent them: without this, one
// tenant could replay (and so read) another tenant's StartCall by guessing
// its request_id. A digest keeps the key within the 128-byte limit.
std::string ScopedRequestId(const Principal& principal, const std::string& request_id);

// Both in place on a request message with a request_id field.
template <typename Request>
void ScopeRequestId(const Principal& principal, Request* request) {
  if (ScopesRequestId(principal, request->request_id())) {
    request->set_request_id(ScopedRequestId(principal, request->request_id()));
  }
}

// Whether ForceLabels or ScopeRequestId would change `request`; when not, a
// handler passes the client's request on instead of a copy.
template <typename Request>
bool NeedsScoping(const Principal& principal, const Request& request) {
  return !principal.labels.empty() || ScopesRequestId(principal, request.request_id());
}

}  // namespace voipd
