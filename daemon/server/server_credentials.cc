#include "daemon/server/server_credentials.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/logging.h"

namespace voipd {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("tls.", what, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM file, parsed by OpenSSL.
absl::StatusOr<X509Ptr> FirstCertificate(const std::string& pem, const std::string& path,
                                         const char* what) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  if (!cert) {
    return absl::FailedPreconditionError(
        absl::StrCat("tls.", what, ": ", path, " holds no PEM certificate"));
  }
  return cert;
}

// One fetcher state per credentials object (per listener): each must be
// told about a new generation by itself.
struct FetchState {
  std::shared_ptr<TlsCertificateStore> store;
  absl::Mutex mu;
  uint64_t served ABSL_GUARDED_BY(mu) = 0;
};

grpc_ssl_certificate_config_reload_status Fetch(void* user_data,
                                                grpc_ssl_server_certificate_config** config) {
  auto* state = static_cast<FetchState*>(user_data);
  std::shared_ptr<const TlsCertificateStore::Material> m = state->store->Current();
  absl::MutexLock lock(&state->mu);
  if (m->generation == state->served) return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  grpc_ssl_pem_key_cert_pair pair{m->private_key.c_str(), m->cert_chain.c_str()};
  // Copies the strings. gRPC asserts that a fetched config has root certs
  // even when no client certificate is requested; then they are never used,
  // and the server's own chain stands in.
  *config = grpc_ssl_server_certificate_config_create(
      m->client_ca.empty() ? m->cert_chain.c_str() : m->client_ca.c_str(), &pair, 1);
  state->served = m->generation;
  return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

// SSL server credentials whose certificate comes from the store at each
// handshake. grpc::ServerCredentials has no public way to wrap core
// credentials, but AddPortToServer is its (overridable) extension point and
// grpc_server_add_http2_port is public API.
class ReloadableTlsCredentials final : public grpc::ServerCredentials {
 public:
  explicit ReloadableTlsCredentials(std::shared_ptr<TlsCertificateStore> store)
      : state_(std::make_unique<FetchState>()) {
    const bool mtls = store->requires_client_certificate();
    state_->store = std::move(store);
    grpc_ssl_server_credentials_options* options =
        grpc_ssl_server_credentials_create_options_using_config_fetcher(
            mtls ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                 : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            &Fetch, state_.get());
    creds_ = grpc_ssl_server_credentials_create_with_options(options);  // takes `options`
  }
  ~ReloadableTlsCredentials() override {
    if (creds_ != nullptr) grpc_server_credentials_release(creds_);
  }

  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {
    // Unused: bearer tokens are checked by the service (RpcContext).
  }

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return grpc_server_add_http2_port(server, addr.c_str(), creds_);
  }

  // Outlives the server: the server's copy of the credentials points at it.
  std::unique_ptr<FetchState> state_;
  grpc_server_credentials* creds_ = nullptr;
};

}  // namespace

absl::StatusOr<std::shared_ptr<TlsCertificateStore>> TlsCertificateStore::Load(
    const TlsSettings& tls) {
  std::shared_ptr<TlsCertificateStore> store(new TlsCertificateStore(tls));
  absl::StatusOr<Material> material = store->ReadFiles();
  if (!material.ok()) return material.status();
  material->generation = 1;
  absl::MutexLock lock(&store->mu_);
  store->current_ = std::make_shared<const Material>(std::move(*material));
  store->last_read_ = absl::Now();
  return store;
}

absl::StatusOr<TlsCertificateStore::Material> TlsCertificateStore::ReadFiles() const {
  Material m;
  absl::StatusOr<std::string> cert = ReadFile(tls_.cert_file, "cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(tls_.key_file, "key_file");
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> leaf = FirstCertificate(*cert, tls_.cert_file, "cert_file");
  if (!leaf.ok()) return leaf.status();
  BioPtr key_bio = MemoryBio(*key);
  KeyPtr pkey(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                      : nullptr);
  ERR_clear_error();
  if (!pkey) {
    return absl::FailedPreconditionError(
        absl::StrCat("tls.key_file: ", tls_.key_file, " holds no PEM private key"));
  }
  if (X509_check_private_key(leaf->get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(absl::StrCat(
        "tls.key_file: ", tls_.key_file, " does not match the certificate in ", tls_.cert_file));
  }
  if (!tls_.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(tls_.client_ca_file, "client_ca_file");
    if (!ca.ok()) return ca.status();
    if (absl::StatusOr<X509Ptr> c = FirstCertificate(*ca, tls_.client_ca_file, "client_ca_file");
        !c.ok()) {
      return c.status();
    }
    m.client_ca = std::move(*ca);
  }
  m.cert_chain = std::move(*cert);
  m.private_key = std::move(*key);
  return m;
}

absl::Status TlsCertificateStore::Reload() {
  absl::MutexLock reload(&reload_mu_);
  absl::StatusOr<Material> material = ReadFiles();
  absl::MutexLock lock(&mu_);
  last_read_ = absl::Now();
  if (!material.ok()) return material.status();
  // Same bytes: keep the generation so that no handshake factory is rebuilt.
  if (material->cert_chain == current_->cert_chain &&
      material->private_key == current_->private_key && material->client_ca == current_->client_ca) {
    return absl::OkStatus();
  }
  material->generation = current_->generation + 1;
  current_ = std::make_shared<const Material>(std::move(*material));
  return absl::OkStatus();
}

std::shared_ptr<const TlsCertificateStore::Material> TlsCertificateStore::Current() {
  bool due;
  {
    absl::MutexLock lock(&mu_);
    due = absl::Now() - last_read_ >= tls_.refresh_interval;
    if (due) last_read_ = absl::Now();  // one refresher per interval
  }
  if (due) {
    if (absl::Status s = Reload(); !s.ok()) {
      LogError("server", absl::StrCat("TLS files not reloaded, keeping the served certificate: ",
                                      s.message()));
    }
  }
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const std::string& address, const std::shared_ptr<TlsCertificateStore>& store) {
  if (store == nullptr || absl::StartsWith(address, "unix:")) {
    return grpc::InsecureServerCredentials();
  }
  return std::make_shared<ReloadableTlsCredentials>(store);
}

}  // namespace voipd
