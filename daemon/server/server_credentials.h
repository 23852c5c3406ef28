// Server credentials for one listen address: TLS (mTLS when a client CA is
// configured) from files that gRPC re-reads every refresh_interval, or
// plaintext for unix sockets and when no certificate is configured.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "daemon/security/security_settings.h"

namespace voipd {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const std::string& address, const TlsSettings& tls);

}  // namespace voipd
