// Builds a call's Request-URI from the system's uri_template, e.g.
// "sip:{e164}@pbx.example.com;user=phone" + "+12015550100"
//   -> "sip:12015550100@pbx.example.com;user=phone".
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/api/adapter.h"

namespace voipd::adapters::sip {

// Checks a template: a sip:/sips: URI whose only placeholders are {number},
// {e164} and {extension}, with at least one of them.
absl::Status ValidateUriTemplate(absl::string_view tmpl);

// {number}: the target as dialled ("+12015550100", "1001"); {e164}: without
// the leading '+'; {extension}: same as {number}. A SIP URI target is
// returned unchanged (the template is for numbers). Characters that may not
// appear in a URI user part ('#') are %-escaped.
absl::StatusOr<std::string> ExpandUriTemplate(absl::string_view tmpl, TargetKind kind,
                                              absl::string_view target);

}  // namespace voipd::adapters::sip
