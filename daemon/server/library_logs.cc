#include "daemon/server/library_logs.h"

#include <string>

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "daemon/logging.h"

namespace voipd {
namespace {

// Library paths are long build paths ("/build/grpc-XXXX/src/core/..."); the
// base name and line are enough to find the place in the library's source.
std::string Source(const char* file, int line) {
  absl::string_view path = file != nullptr ? file : "";
  if (const size_t slash = path.rfind('/'); slash != absl::string_view::npos) {
    path.remove_prefix(slash + 1);
  }
  return absl::StrCat(path, ":", line);
}

// gRPC's severities keep their meaning: an ERROR of gRPC's (a failed TLS
// handshake, a failed accept) is an error line of voipd's.
LogLevel FromGrpc(gpr_log_severity severity) {
  switch (severity) {
    case GPR_LOG_SEVERITY_DEBUG: return LogLevel::kDebug;
    case GPR_LOG_SEVERITY_INFO: return LogLevel::kInfo;
    case GPR_LOG_SEVERITY_ERROR: return LogLevel::kError;
  }
  return LogLevel::kError;
}

void OnGrpcLog(gpr_log_func_args* args) {
  const LogLevel level = FromGrpc(args->severity);
  if (!LogEnabled(level)) return;
  LogWithFields(level, "grpc", args->message != nullptr ? args->message : "",
                {{"source", Source(args->file, args->line)}});
}

// protobuf's FATAL is followed by its own abort (or exception); the record
// is written first, at once, because error lines are never batched.
LogLevel FromProtobuf(google::protobuf::LogLevel severity) {
  switch (severity) {
    case google::protobuf::LOGLEVEL_INFO: return LogLevel::kInfo;
    case google::protobuf::LOGLEVEL_WARNING: return LogLevel::kWarn;
    default: return LogLevel::kError;
  }
}

void OnProtobufLog(google::protobuf::LogLevel severity, const char* file, int line,
                   const std::string& message) {
  const LogLevel level = FromProtobuf(severity);
  if (!LogEnabled(level)) return;
  LogWithFields(level, "protobuf", message, {{"source", Source(file, line)}});
}

}  // namespace

void RouteLibraryLogs() {
  gpr_set_log_function(&OnGrpcLog);
  google::protobuf::SetLogHandler(&OnProtobufLog);
}

}  // namespace voipd
