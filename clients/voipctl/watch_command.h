// Shared by `watch` and `call --watch`: follow one call until it ends.
#pragma once

#include <string>

#include "clients/voipctl/command.h"

namespace voipd::voipctl {

// Prints the WatchCall stream of `session_id` (a SNAPSHOT first, then each
// change). Returns 0 when the stream ends OK after the terminal event, 130
// when Ctrl-C cancelled it, the mapped exit code on an error.
int WatchSession(const std::string& session_id, CommandEnv& env);

}  // namespace voipd::voipctl
