#include "clients/voipctl/cli_options.h"

#include "clients/voipctl/labels.h"

namespace voipd::voipctl {

CLI::Option* AddLabelOption(CLI::App* app, std::vector<std::string>* labels,
                            const std::string& help) {
  return app->add_option("--label", *labels, help)
      ->type_name("KEY=VALUE")
      // One value per --label, so that a label cannot swallow a positional
      // argument that follows it.
      ->allow_extra_args(false)
      ->check(CLI::Validator(CheckLabel, "KEY=VALUE", "label"));
}

CLI::Option* AddRequestIdOption(CLI::App* app, std::string* request_id) {
  return app
      ->add_option("--request-id", *request_id,
                   "Idempotency key: retrying with the same key never repeats the action")
      ->type_name("ID");
}

CLI::Option* AddSystemOption(CLI::App* app, std::string* system, const std::string& help) {
  return app->add_option("--system", *system, help)->type_name("SYSTEM");
}

CLI::Validator PositiveSeconds() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        double seconds = 0;
        if (!CLI::detail::lexical_cast(text, seconds)) return "'" + text + "' is not a number";
        if (!(seconds > 0)) return "must be more than 0 seconds, got " + text;
        return "";
      },
      "", "positive seconds");
}

}  // namespace voipd::voipctl
