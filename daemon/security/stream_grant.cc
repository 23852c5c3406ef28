#include "daemon/security/stream_grant.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd {

StreamGrant::StreamGrant(const Authorizer* authorizer, std::optional<std::string> token_sha256,
                         Principal principal, std::string method)
    : authorizer_(authorizer),
      token_sha256_(std::move(token_sha256)),
      principal_(std::move(principal)),
      method_(std::move(method)) {}

absl::Status StreamGrant::Check() {
  if (!status_.ok()) return status_;
  // Read before the table, so a reload after this read is seen next time.
  const uint64_t generation = authorizer_->generation();
  if (checked_generation_ == generation) return status_;
  checked_generation_ = generation;
  status_ = Recheck();
  return status_;
}

absl::Status StreamGrant::Recheck() const {
  absl::StatusOr<Principal> now = authorizer_->Reauthenticate(token_sha256_, principal_.name);
  if (!now.ok()) return now.status();
  if (absl::Status scope = Authorizer::RequireScope(*now, method_); !scope.ok()) {
    return PermissionDeniedError(absl::StrCat("tokens were reloaded: ", scope.message()),
                                 GetVoipError(scope)->details().at("required_scope"));
  }
  // The stream's filter carries the labels the token had at its start; a
  // rename alone changes nothing the stream shows.
  if (now->labels != principal_.labels) {
    voip::v1::VoipError error;
    error.set_error_code(voip::v1::CONFIGURATION_ERROR);
    error.set_message(absl::StrCat(
        "tokens were reloaded: token '", now->name,
        "' now has other tenant labels; open the stream again to see calls under them"));
    return MakeVoipError(std::move(error), absl::StatusCode::kUnavailable);
  }
  return absl::OkStatus();
}

}  // namespace voipd
