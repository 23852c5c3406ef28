// The byte stream under an AMI session: plain TCP, or TLS over it with the
// server's certificate verified against a name. Handlers keep the transport
// alive (it is shared), so its read buffer stays valid until aborted
// operations finish even after the connection has moved on to a new socket.
#pragma once

#include <utility>  // before asio: GCC 12 + Boost 1.74 (toolchain notes)

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

namespace voipd::adapters::asterisk_ami {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

class AmiTransport {
 public:
  // TLS when `tls_context` is given (it must outlive the transport).
  AmiTransport(const Strand& strand, boost::asio::ssl::context* tls_context);

  boost::asio::ip::tcp::socket& socket();
  bool is_tls() const { return tls_ != nullptr; }
  void Close();

  // Sets SNI and the name the certificate must carry, then handshakes.
  template <typename Handler>
  void Handshake(const std::string& name, Handler&& handler) {
    PrepareVerification(name);
    tls_->async_handshake(boost::asio::ssl::stream_base::client, std::forward<Handler>(handler));
  }
  // Reads into buffer().
  template <typename Handler>
  void ReadSome(Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(boost::asio::buffer(buffer_), std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(boost::asio::buffer(buffer_), std::forward<Handler>(handler));
    }
  }
  // `bytes` must stay alive until `handler` runs.
  template <typename Handler>
  void WriteAll(const std::string& bytes, Handler&& handler) {
    if (tls_) {
      boost::asio::async_write(*tls_, boost::asio::buffer(bytes), std::forward<Handler>(handler));
    } else {
      boost::asio::async_write(*plain_, boost::asio::buffer(bytes), std::forward<Handler>(handler));
    }
  }
  const char* buffer() const { return buffer_.data(); }

 private:
  void PrepareVerification(const std::string& name);

  std::unique_ptr<boost::asio::ip::tcp::socket> plain_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
  std::vector<char> buffer_;
};

}  // namespace voipd::adapters::asterisk_ami
