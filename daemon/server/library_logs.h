// Routes the log output of the libraries voipd embeds (gRPC's gpr_log and
// protobuf's GOOGLE_LOG) into voipd's own log, so that every line on stderr
// or in the journal honours log_format and log_level. Without this, gRPC
// writes its own "E1124 13:11:59.387 ... Handshake failed ..." lines next to
// voipd's JSON records, and a `jq` pipeline or a log shipper breaks on them.
//
// Records carry component "grpc" or "protobuf" and a `source` field with the
// library's file:line. gRPC's own threshold still applies first: it drops
// records below GRPC_VERBOSITY (default ERROR) before voipd sees them.
#pragma once

namespace voipd {

// Installs the handlers. Call once, before the first gRPC or protobuf use
// (protobuf's SetLogHandler is not thread-safe).
void RouteLibraryLogs();

}  // namespace voipd
