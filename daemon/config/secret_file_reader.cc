#include "daemon/config/secret_file_reader.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd {

absl::StatusOr<std::string> SecretFileReader::ReadSecretFile(absl::string_view path) const {
  std::string resolved(path);
  if (!resolved.empty() && resolved.front() != '/') {
    if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
      resolved = absl::StrCat(dir, "/", resolved);
    }
  }
  // A directory opens like a file and reads as nothing; say what it is
  // rather than "is empty" (a LoadCredential= of a directory does that).
  if (std::error_code ec; std::filesystem::is_directory(resolved, ec)) {
    return ConfigurationError(
        absl::StrCat("secret file '", resolved, "' is a directory, not a file"));
  }
  std::ifstream in(resolved, std::ios::binary);
  if (!in) {
    // The path is fine to show; the content never is.
    return ConfigurationError(
        absl::StrCat("cannot read secret file '", resolved, "': ", std::strerror(errno)));
  }
  std::stringstream content;
  content << in.rdbuf();
  std::string secret = content.str();
  // Editors and `echo` add a final newline that is never part of a secret.
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) {
    return ConfigurationError(absl::StrCat("secret file '", resolved, "' is empty"));
  }
  return secret;
}

}  // namespace voipd
