// Turns `to.number` as a user typed it into what an adapter dials: an E.164
// number (via libphonenumber), a SIP URI, or a short extension. Whether the
// chosen system accepts URIs and extensions is checked after routing.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/api/adapter.h"

namespace voipd {

struct NormalizedTarget {
  adapters::TargetKind kind = adapters::TargetKind::kE164;
  // "+12015550100", "sip:alice@example.com" or "1001".
  std::string value;
  // ISO 3166 region of an E.164 number ("US"); empty otherwise.
  std::string region;
};

// Errors are INVALID_NUMBER naming `field` (e.g. "to.number").
absl::StatusOr<NormalizedTarget> NormalizeNumber(absl::string_view typed,
                                                 absl::string_view default_region,
                                                 absl::string_view field = "to.number");

// True if `region` is a region libphonenumber knows ("US", "GB"...).
bool IsKnownRegion(absl::string_view region);

}  // namespace voipd
