// Options that several subcommands share, defined once so that their
// spelling, help text and checks cannot drift apart.
#pragma once

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace voipd::voipctl {

// --label k=v, repeatable; a malformed label is a usage error.
CLI::Option* AddLabelOption(CLI::App* app, std::vector<std::string>* labels,
                            const std::string& help);

// --request-id ID: the idempotency key of mutating RPCs.
CLI::Option* AddRequestIdOption(CLI::App* app, std::string* request_id);

// --system S.
CLI::Option* AddSystemOption(CLI::App* app, std::string* system, const std::string& help);

// Checks that a number of seconds is > 0, with a message fit for humans.
CLI::Validator PositiveSeconds();

}  // namespace voipd::voipctl
