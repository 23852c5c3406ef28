#include "daemon/server/server_credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/match.h"

namespace voipd {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const std::string& address, const TlsSettings& tls) {
  // Unix sockets are guarded by their file mode and group instead.
  if (!tls.enabled() || absl::StartsWith(address, "unix:")) {
    return grpc::InsecureServerCredentials();
  }
  const auto refresh = static_cast<unsigned int>(absl::ToInt64Seconds(tls.refresh_interval));
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider =
      tls.client_ca_file.empty()
          ? std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                tls.key_file, tls.cert_file, refresh)
          : std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                tls.key_file, tls.cert_file, tls.client_ca_file, refresh);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (tls.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace voipd
