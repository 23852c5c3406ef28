// Tenant isolation by labels: a token restricted to labels (e.g.
// tenant=acme) starts calls carrying them and sees only such calls. Calls of
// other tenants look exactly like calls that do not exist.
#pragma once

#include <map>
#include <string>

#include "google/protobuf/map.h"
#include "daemon/security/principal.h"

namespace voipd {

// True when `labels` carry every label of the principal's restriction.
bool CanSee(const Principal& principal, const google::protobuf::Map<std::string, std::string>& labels);

// Overwrites the principal's labels into `labels` (a request's filter or a
// new call's labels), so a client can neither escape nor widen its tenant.
void ForceLabels(const Principal& principal, google::protobuf::Map<std::string, std::string>* labels);
void ForceLabels(const Principal& principal, std::map<std::string, std::string>* labels);

}  // namespace voipd
