// voipctl's exit codes and the table that maps an RPC failure onto them.
// Scripts branch on these, so they are part of the interface: change them
// only together with kExitCodesHelp and README.md.
#pragma once

#include <string_view>

#include "clients/voipctl/rpc_error.h"

namespace voipd::voipctl {

enum ExitCode : int {
  kExitOk = 0,
  kExitOther = 1,
  kExitUsage = 2,
  kExitNotFound = 3,
  kExitUnavailable = 4,
  kExitRejected = 5,
  // 128 + SIGINT, as shells report a command ended by Ctrl-C.
  kExitInterrupted = 130,
};

// The exit code for a failed RPC. The VoipError code decides when there is
// one (it is the more precise); otherwise the gRPC code does.
ExitCode ExitCodeFor(const RpcError& error);

// The exit-code table for `voipctl --help`.
extern const std::string_view kExitCodesHelp;

}  // namespace voipd::voipctl
