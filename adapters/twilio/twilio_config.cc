#include "adapters/twilio/twilio_config.h"

#include "adapters/api/tcp_listener.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace voipd::adapters::twilio {
namespace {

using voip::config::v1::TwilioAdapterConfig;

constexpr absl::string_view kDefaultBaseUrl = "https://api.twilio.com";

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// Fills an empty duration field with `fallback` and checks its range.
absl::Status CheckDuration(std::string* text, absl::string_view field, absl::string_view fallback,
                           absl::Duration min, absl::Duration max) {
  if (text->empty()) *text = std::string(fallback);
  absl::Duration d;
  if (!absl::ParseDuration(*text, &d)) {
    return Invalid(field, absl::StrCat("'", *text, "' is not a duration (e.g. \"500ms\", \"5s\")"));
  }
  if (d < min || d > max) {
    return Invalid(field, absl::StrCat("must be between ", absl::FormatDuration(min), " and ",
                                       absl::FormatDuration(max)));
  }
  return absl::OkStatus();
}

absl::Duration Parsed(const std::string& text) {
  absl::Duration d;
  (void)absl::ParseDuration(text, &d);  // validated before
  return d;
}

// An http(s) URL that may carry credentials or webhooks: https, or http to a
// loopback host, or http anywhere when the operator opted in.
absl::Status CheckServiceUrl(std::string* url, absl::string_view field, bool allow_insecure) {
  while (absl::EndsWith(*url, "/")) url->pop_back();
  std::string scheme, host;
  if (!ParseHttpUrl(*url, &scheme, &host)) {
    return Invalid(field, absl::StrCat("'", *url,
                                       "' is not an http(s) URL without query or fragment"));
  }
  if (scheme == "http" && !allow_insecure && !IsLoopbackHost(host)) {
    return Invalid(field, "must be https:// (http:// is allowed only for a loopback host or "
                          "with allow_insecure_http: true)");
  }
  return absl::OkStatus();
}

bool IsConferenceNameChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; }

// As the webhook server will bind it (ParseIpListen: an IP literal, no name
// resolution at start-up, or "localhost"), and at a fixed port: public_url
// points Twilio at it.
absl::Status CheckListen(const std::string& listen) {
  absl::StatusOr<boost::asio::ip::tcp::endpoint> parsed = ParseIpListen(listen, "webhook.listen");
  if (!parsed.ok()) return absl::InvalidArgumentError(parsed.status().message());
  if (parsed->port() == 0) {
    return Invalid("webhook.listen", absl::StrCat("'", listen, "' needs a fixed port, not 0"));
  }
  return absl::OkStatus();
}

absl::Status CheckCredentials(const TwilioAdapterConfig& c) {
  if (c.account_sid_file().empty()) {
    return Invalid("account_sid_file", "is required (a file holding the Account SID)");
  }
  const bool key_sid = !c.api_key_sid_file().empty();
  const bool key_secret = !c.api_key_secret_file().empty();
  if (key_sid != key_secret) {
    return Invalid(key_sid ? "api_key_secret_file" : "api_key_sid_file",
                   "api_key_sid_file and api_key_secret_file go together");
  }
  if (!key_sid && c.auth_token_file().empty()) {
    return Invalid("auth_token_file",
                   "is required unless api_key_sid_file and api_key_secret_file are set");
  }
  return absl::OkStatus();
}

absl::Status CheckWebhook(TwilioAdapterConfig& c) {
  auto* w = c.mutable_webhook();
  if (w->public_url().empty()) {
    if (!w->listen().empty()) {
      return Invalid("webhook.public_url",
                     "is required when webhook.listen is set (the URL Twilio calls)");
    }
  } else {
    if (w->listen().empty()) {
      return Invalid("webhook.listen", "is required when webhook.public_url is set");
    }
    if (absl::Status s = CheckListen(w->listen()); !s.ok()) return s;
    if (absl::Status s = CheckServiceUrl(w->mutable_public_url(), "webhook.public_url",
                                         c.allow_insecure_http());
        !s.ok()) {
      return s;
    }
    // Twilio signs callbacks with the Auth Token even when REST calls use
    // an API key, so webhooks cannot be verified without it.
    if (c.auth_token_file().empty()) {
      return Invalid("auth_token_file",
                     "is required with webhook.public_url: Twilio signs callbacks with the "
                     "Auth Token");
    }
  }
  if (w->max_body_bytes() == 0) w->set_max_body_bytes(65536);
  if (w->max_body_bytes() < 1024 || w->max_body_bytes() > 1048576) {
    return Invalid("webhook.max_body_bytes", "must be between 1024 and 1048576");
  }
  if (w->max_connections() == 0) w->set_max_connections(256);
  if (w->max_connections() > 65536) {
    return Invalid("webhook.max_connections", "must be at most 65536");
  }
  return CheckDuration(w->mutable_read_timeout(), "webhook.read_timeout", "10s",
                       absl::Milliseconds(100), absl::Minutes(5));
}

absl::Status CheckTimings(TwilioAdapterConfig& c) {
  struct Spec {
    std::string* text;
    absl::string_view field;
    absl::string_view fallback;
    absl::Duration min;
    absl::Duration max;
  };
  const Spec specs[] = {
      {c.mutable_default_ring_timeout(), "default_ring_timeout", "30s", absl::Seconds(1),
       absl::Seconds(600)},
      {c.mutable_poll_interval(), "poll_interval", "5s", absl::Milliseconds(100), absl::Hours(1)},
      {c.mutable_callback_timeout(), "callback_timeout", "30s", absl::Milliseconds(100),
       absl::Hours(1)},
      {c.mutable_connect_timeout(), "connect_timeout", "5s", absl::Milliseconds(10),
       absl::Minutes(2)},
      {c.mutable_request_timeout(), "request_timeout", "10s", absl::Milliseconds(10),
       absl::Minutes(5)},
      {c.mutable_retry_budget(), "retry_budget", "30s", absl::ZeroDuration(), absl::Minutes(10)},
      {c.mutable_retry_initial_backoff(), "retry_initial_backoff", "500ms", absl::Milliseconds(1),
       absl::Minutes(1)},
  };
  for (const Spec& s : specs) {
    if (absl::Status st = CheckDuration(s.text, s.field, s.fallback, s.min, s.max); !st.ok()) {
      return st;
    }
  }
  if (c.max_attempts() == 0) c.set_max_attempts(4);
  if (c.max_attempts() > 10) return Invalid("max_attempts", "must be between 1 and 10");
  return absl::OkStatus();
}

}  // namespace

bool IsLoopbackHost(absl::string_view host) {
  // A URL's host: "127.0.0.1", "[::1]", "localhost" (IsLocalAddress also
  // takes them), or a bare "::1", which it would read as host ":" port "1".
  const std::string h = absl::AsciiStrToLower(host);
  return h == "::1" || IsLocalAddress(h);
}

bool ParseHttpUrl(absl::string_view url, std::string* scheme, std::string* host) {
  const size_t sep = url.find("://");
  if (sep == absl::string_view::npos) return false;
  *scheme = absl::AsciiStrToLower(url.substr(0, sep));
  if (*scheme != "http" && *scheme != "https") return false;
  absl::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#@ ") != absl::string_view::npos) return false;
  absl::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty()) return false;
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  absl::string_view h = authority;
  if (colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket)) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(authority.substr(colon + 1), &port) || port == 0 || port > 65535) {
      return false;
    }
    h = authority.substr(0, colon);
  }
  if (h.empty()) return false;
  *host = std::string(h);
  return true;
}

absl::Status ValidateTwilioConfig(TwilioAdapterConfig& c) {
  if (absl::Status s = CheckCredentials(c); !s.ok()) return s;
  if (c.base_url().empty()) c.set_base_url(std::string(kDefaultBaseUrl));
  if (absl::Status s = CheckServiceUrl(c.mutable_base_url(), "base_url", c.allow_insecure_http());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckWebhook(c); !s.ok()) return s;
  if (absl::Status s = CheckTimings(c); !s.ok()) return s;
  if (c.conference_prefix().empty()) c.set_conference_prefix("voipd-");
  // The name goes into TwiML and a URL path unescaped, so keep it plain.
  if (c.conference_prefix().size() > 32 ||
      !std::all_of(c.conference_prefix().begin(), c.conference_prefix().end(),
                   IsConferenceNameChar)) {
    return Invalid("conference_prefix", "must be at most 32 characters of [A-Za-z0-9_-]");
  }
  if (!c.hold_url().empty()) {
    std::string scheme, host;
    if (!ParseHttpUrl(c.hold_url(), &scheme, &host)) {
      return Invalid("hold_url", "must be an http(s) URL without query or fragment");
    }
  }
  if (!c.default_from().empty() && c.default_from().find_first_of("<>&\"'") != std::string::npos) {
    return Invalid("default_from", "must be a phone number, client: or sip: address");
  }
  if (!c.agent_endpoint().empty() &&
      c.agent_endpoint().find_first_of("<>&\"' ") != std::string::npos) {
    return Invalid("agent_endpoint", "must be a phone number, client: or sip: address");
  }
  const auto& in = c.inbound();
  if (in.enabled() && c.webhook().public_url().empty()) {
    return Invalid("inbound.enabled",
                   "needs webhook.public_url and webhook.listen (Twilio posts arriving calls "
                   "to <public_url>/voice/incoming)");
  }
  if (!in.agent_endpoint().empty() &&
      in.agent_endpoint().find_first_of("<>&\"' ") != std::string::npos) {
    return Invalid("inbound.agent_endpoint", "must be a phone number, client: or sip: address");
  }
  if (in.greeting().size() > 4096) {
    return Invalid("inbound.greeting", "must be at most 4096 characters");
  }
  return absl::OkStatus();
}

TwilioSettings SettingsFromConfig(const TwilioAdapterConfig& c) {
  TwilioSettings s;
  s.account_sid_file = c.account_sid_file();
  s.auth_token_file = c.auth_token_file();
  s.api_key_sid_file = c.api_key_sid_file();
  s.api_key_secret_file = c.api_key_secret_file();
  s.base_url = c.base_url();
  s.allow_insecure_http = c.allow_insecure_http();
  s.default_from = c.default_from();
  s.default_ring_timeout = Parsed(c.default_ring_timeout());
  s.webhooks_enabled = !c.webhook().public_url().empty();
  s.webhook_listen = c.webhook().listen();
  s.public_url = c.webhook().public_url();
  s.max_body_bytes = c.webhook().max_body_bytes();
  s.webhook_read_timeout = Parsed(c.webhook().read_timeout());
  s.max_connections = c.webhook().max_connections();
  s.poll_interval = Parsed(c.poll_interval());
  s.callback_timeout = Parsed(c.callback_timeout());
  s.connect_timeout = Parsed(c.connect_timeout());
  s.request_timeout = Parsed(c.request_timeout());
  s.max_attempts = static_cast<int>(c.max_attempts());
  s.retry_budget = Parsed(c.retry_budget());
  s.retry_initial_backoff = Parsed(c.retry_initial_backoff());
  s.conference_prefix = c.conference_prefix();
  s.hold_url = c.hold_url();
  s.agent_endpoint = c.agent_endpoint();
  s.inbound_enabled = c.inbound().enabled();
  s.inbound_greeting = c.inbound().greeting();
  s.inbound_agent_endpoint =
      c.inbound().agent_endpoint().empty() ? c.agent_endpoint() : c.inbound().agent_endpoint();
  return s;
}

}  // namespace voipd::adapters::twilio
