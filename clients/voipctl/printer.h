// Where voipctl's results go: records to stdout, one per line, in the
// format --json selects; errors to stderr (and, with --json, also as an
// {"error": ...} record on stdout so scripts see every outcome there).
#pragma once

#include <ostream>

#include "clients/voipctl/rpc_error.h"
#include "voip/v1/call.pb.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd::voipctl {

class Printer {
 public:
  Printer(bool json, std::ostream& out, std::ostream& err) : json_(json), out_(out), err_(err) {}

  // Each returns false once stdout is unusable (e.g. a closed pipe), so that
  // a stream can stop instead of printing into the void forever.
  bool Print(const voip::v1::CallSession& session);
  bool Print(const voip::v1::CallEvent& event);
  bool Print(const voip::v1::SystemCapabilities& system);
  // With `hint`, an UNAUTHENTICATED error is followed on stderr by a line
  // saying how voipctl sends a token (set when none was given).
  void PrintError(const RpcError& error);
  void HintWhenUnauthenticated(bool hint) { hint_unauthenticated_ = hint; }

 private:
  bool WriteLine(const std::string& line);

  const bool json_;
  std::ostream& out_;
  std::ostream& err_;
  bool hint_unauthenticated_ = false;
};

}  // namespace voipd::voipctl
