#include "adapters/asterisk_ami/ami_transport.h"

#include <openssl/ssl.h>

namespace voipd::adapters::asterisk_ami {
namespace {

constexpr size_t kReadChunk = 16 * 1024;

}  // namespace

AmiTransport::AmiTransport(const Strand& strand, boost::asio::ssl::context* tls_context) {
  if (tls_context != nullptr) {
    tls_ = std::make_unique<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>(strand,
                                                                                    *tls_context);
  } else {
    plain_ = std::make_unique<boost::asio::ip::tcp::socket>(strand);
  }
  buffer_.resize(kReadChunk);
}

boost::asio::ip::tcp::socket& AmiTransport::socket() { return tls_ ? tls_->next_layer() : *plain_; }

void AmiTransport::Close() {
  boost::system::error_code ignored;
  socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

void AmiTransport::PrepareVerification(const std::string& name) {
  // SNI, and the name the certificate must carry; host_name_verification
  // also accepts an IP address against the certificate's IP SANs.
  SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
  tls_->set_verify_callback(boost::asio::ssl::host_name_verification(name));
}

}  // namespace voipd::adapters::asterisk_ami
