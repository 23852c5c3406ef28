// Reads `*_file` secrets. Relative paths resolve against
// $CREDENTIALS_DIRECTORY, where systemd's LoadCredential= puts them.
#pragma once

#include "adapters/api/adapter_context.h"

namespace voipd {

class SecretFileReader final : public adapters::SecretReader {
 public:
  absl::StatusOr<std::string> ReadSecretFile(absl::string_view path) const override;
};

}  // namespace voipd
