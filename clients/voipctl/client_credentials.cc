#include "clients/voipctl/client_credentials.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace voipd::voipctl {
namespace {

// voipd refuses longer tokens; a larger file is not a token file.
constexpr size_t kMaxTokenBytes = 4096;
// PEM bundles are small; this only bounds a wrong path (a disk image...).
constexpr size_t kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadFile(const std::string& option, const std::string& path,
                                     size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": cannot read '", path, "': ", std::strerror(errno)));
  }
  std::string data(max_bytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(option, ": cannot read '", path, "'"));
  }
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": '", path, "' is larger than ", max_bytes, " bytes"));
  }
  return data;
}

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> data = ReadFile("--token-file", path, kMaxTokenBytes);
  if (!data.ok()) return data.status();
  // `echo TOKEN > file` leaves a newline; anything else around the token is
  // a mistake worth a clear error rather than a confusing UNAUTHENTICATED.
  const std::string token(absl::StripAsciiWhitespace(*data));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--token-file: '", path, "' is empty"));
  }
  for (unsigned char c : token) {
    if (c <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--token-file: '", path, "' must hold one token (no spaces, lines or control bytes)"));
    }
  }
  return token;
}

}  // namespace

absl::StatusOr<ClientCredentials> LoadCredentials(const CredentialFiles& files) {
  ClientCredentials credentials;
  if (!files.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(files.token_file);
    if (!token.ok()) return token.status();
    credentials.token = std::move(*token);
  }
  if (files.tls_cert_file.empty() != files.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert-file and --tls-key-file: give both (a client certificate and its key) or "
        "neither");
  }
  credentials.tls = files.tls || !files.tls_ca_file.empty() || !files.tls_cert_file.empty();
  for (auto [option, path, out] : {std::tuple("--tls-ca-file", &files.tls_ca_file,
                                               &credentials.ca_pem),
                                    std::tuple("--tls-cert-file", &files.tls_cert_file,
                                               &credentials.cert_pem),
                                    std::tuple("--tls-key-file", &files.tls_key_file,
                                               &credentials.key_pem)}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> pem = ReadFile(option, *path, kMaxPemBytes);
    if (!pem.ok()) return pem.status();
    *out = std::move(*pem);
  }
  return credentials;
}

}  // namespace voipd::voipctl
