// One-line log records from the sip adapter. Adapters may not include the
// daemon's logging (adapters never depend on daemon/), so this writes the
// same record shape to stderr: "<time> <level> sip[<system>]: <message>".
// Never pass secrets here: log names, codes and addresses only.
#pragma once

#include "absl/strings/string_view.h"

namespace voipd::adapters::sip {

void SipLogInfo(absl::string_view system, absl::string_view message);
void SipLogWarn(absl::string_view system, absl::string_view message);

}  // namespace voipd::adapters::sip
