// Server credentials for one listen address: TLS (mTLS when a client CA is
// configured) or plaintext for unix sockets and when no certificate is
// configured.
//
// The certificate, key and client CA live in a TlsCertificateStore that
// re-reads the files on Reload() (SIGHUP) and by itself every
// refresh_interval. gRPC asks the store at each new TLS handshake (the SSL
// credentials' certificate-config fetcher, public C API in gRPC 1.51), so a
// reload applies to the next connection; connections already open keep the
// certificate they were set up with. Files that fail to parse, or a key that
// does not match the certificate, are refused and the served material stays.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/security/security_settings.h"

namespace voipd {

class TlsCertificateStore {
 public:
  struct Material {
    uint64_t generation = 0;  // 1 for the first load, +1 per accepted reload
    std::string cert_chain;
    std::string private_key;  // never logged
    std::string client_ca;    // empty: no client certificate requested
  };

  // Reads and checks the files; errors name the file and the problem.
  static absl::StatusOr<std::shared_ptr<TlsCertificateStore>> Load(const TlsSettings& tls);

  // Re-reads the files now. On error the served material stays and the
  // error says why.
  absl::Status Reload();
  // The material to serve; re-reads first once refresh_interval has passed
  // since the last read (a failure is logged and the old material kept).
  std::shared_ptr<const Material> Current();

  bool requires_client_certificate() const { return !tls_.client_ca_file.empty(); }

 private:
  explicit TlsCertificateStore(TlsSettings tls) : tls_(std::move(tls)) {}
  absl::StatusOr<Material> ReadFiles() const;

  const TlsSettings tls_;
  absl::Mutex reload_mu_;  // one reload at a time
  absl::Mutex mu_;
  std::shared_ptr<const Material> current_ ABSL_GUARDED_BY(mu_);
  absl::Time last_read_ ABSL_GUARDED_BY(mu_);
};

// `store` is nullptr when TLS is off. Unix sockets are always plaintext
// (guarded by file mode and group). The caller keeps the credentials alive
// until the server is destroyed (gRPC calls back into them per handshake).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const std::string& address, const std::shared_ptr<TlsCertificateStore>& store);

}  // namespace voipd
