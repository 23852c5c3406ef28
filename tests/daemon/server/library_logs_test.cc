// RouteLibraryLogs: gRPC's gpr_log and protobuf's GOOGLE_LOG records come out
// as voipd records (format, level filter, component, source), not as the
// libraries' own stderr lines. The real daemon's case (a failed TLS
// handshake logged by gRPC) is in tests/integration/production/test_security.py.
#include "daemon/server/library_logs.h"

#include <string>

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>

#include "daemon/logging.h"
#include "gtest/gtest.h"
#include "tests/daemon/log_capture.h"

namespace voipd {
namespace {

// Routes the libraries' logs into a JSON capture for the test's lifetime.
// gRPC 1.51 has no public way back to its own writer, so gRPC's records stay
// routed (to stderr through voipd's logger) for the rest of the binary.
class RoutedLibraryLogs : public JsonLogCapture {
 public:
  RoutedLibraryLogs() : JsonLogCapture(LogLevel::kInfo) {
    protobuf_default_ = google::protobuf::SetLogHandler(nullptr);
    google::protobuf::SetLogHandler(protobuf_default_);
    // What grpc_init() does in the daemon: gRPC's threshold from
    // GRPC_VERBOSITY, ERROR by default.
    gpr_log_verbosity_init();
    RouteLibraryLogs();
  }
  ~RoutedLibraryLogs() { google::protobuf::SetLogHandler(protobuf_default_); }

 private:
  google::protobuf::LogHandler* protobuf_default_ = nullptr;
};

TEST(LibraryLogsTest, GrpcErrorBecomesAVoipdRecord) {
  RoutedLibraryLogs routed;
  gpr_log("/build/grpc/src/core/tsi/ssl_transport_security.cc", 1501, GPR_LOG_SEVERITY_ERROR,
          "Handshake failed with fatal error %s.", "SSL_ERROR_SSL");
  const auto records = routed.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["level"], "error");
  EXPECT_EQ(records[0]["component"], "grpc");
  EXPECT_EQ(records[0]["msg"], "Handshake failed with fatal error SSL_ERROR_SSL.");
  EXPECT_EQ(records[0]["source"], "ssl_transport_security.cc:1501");
}

TEST(LibraryLogsTest, GrpcRecordsBelowVoipdsLevelAreDropped) {
  RoutedLibraryLogs routed;
  SetLogLevel(LogLevel::kError);
  // gRPC's own threshold (GRPC_VERBOSITY) passes INFO here; voipd's drops it.
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_DEBUG);
  gpr_log(__FILE__, __LINE__, GPR_LOG_SEVERITY_INFO, "chatty");
  gpr_log(__FILE__, __LINE__, GPR_LOG_SEVERITY_ERROR, "kept");
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
  const auto records = routed.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["msg"], "kept");
}

TEST(LibraryLogsTest, ProtobufWarningBecomesAVoipdRecord) {
  RoutedLibraryLogs routed;
  GOOGLE_LOG(WARNING) << "descriptor pool says " << 42;
  const auto records = routed.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["level"], "warn");
  EXPECT_EQ(records[0]["component"], "protobuf");
  EXPECT_EQ(records[0]["msg"], "descriptor pool says 42");
  EXPECT_EQ(records[0]["source"], "library_logs_test.cc:" + std::to_string(__LINE__ - 6));
}

}  // namespace
}  // namespace voipd
