#include "clients/voipctl/printer.h"

#include "clients/voipctl/human_format.h"
#include "clients/voipctl/json_format.h"

namespace voipd::voipctl {

bool Printer::WriteLine(const std::string& line) {
  // Flush per record: streams are read line by line through pipes, where
  // stdout would otherwise be block-buffered.
  out_ << line << '\n' << std::flush;
  return static_cast<bool>(out_);
}

bool Printer::Print(const voip::v1::CallSession& session) {
  return WriteLine(json_ ? ToJson(session) : FormatSession(session));
}

bool Printer::Print(const voip::v1::CallEvent& event) {
  return WriteLine(json_ ? ToJson(event) : FormatEvent(event));
}

bool Printer::Print(const voip::v1::SystemCapabilities& system) {
  return WriteLine(json_ ? ToJson(system) : FormatSystem(system));
}

void Printer::PrintError(const RpcError& error) {
  err_ << FormatError(error) << '\n';
  if (hint_unauthenticated_ && error.code == absl::StatusCode::kUnauthenticated) {
    err_ << "hint: this voipd requires an API token: --token-file PATH or VOIPD_TOKEN_FILE\n";
  }
  err_ << std::flush;
  if (json_) WriteLine(ErrorToJson(error));
}

}  // namespace voipd::voipctl
