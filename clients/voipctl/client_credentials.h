// What voipctl proves itself with: the API token (voipd's auth.tokens) and
// TLS, read from files named on the command line. A token is never taken on
// the command line itself, where `ps` and the shell history would show it.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace voipd::voipctl {

// The files as given (--token-file, --tls-ca-file, ...); empty = not given.
struct CredentialFiles {
  std::string token_file;
  bool tls = false;  // --tls: TLS with the system's trusted CAs
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Their contents, ready for the channel.
struct ClientCredentials {
  std::string token;  // empty: no authorization header
  bool tls = false;
  std::string ca_pem;  // empty with tls: the system's CAs
  std::string cert_pem;
  std::string key_pem;
};

// Reads the files. INVALID_ARGUMENT naming the option when one cannot be
// read, a token file is empty or holds more than one token, or a client
// certificate comes without its key (or the other way round). Messages
// never contain a file's contents.
absl::StatusOr<ClientCredentials> LoadCredentials(const CredentialFiles& files);

}  // namespace voipd::voipctl
