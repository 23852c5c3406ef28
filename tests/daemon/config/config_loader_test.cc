#include "daemon/config/config_loader.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "adapters/api/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "voip/config/v1/sandbox.pb.h"

namespace voipd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kSource[] = "voipd.yaml";

absl::StatusOr<DaemonSettings> Load(const std::string& text) {
  return LoadConfigText(text, kSource);
}

DaemonSettings MustLoad(const std::string& text) {
  absl::StatusOr<DaemonSettings> settings = Load(text);
  EXPECT_TRUE(settings.ok()) << settings.status() << "\n--- config ---\n" << text;
  return settings.ok() ? *std::move(settings) : DaemonSettings();
}

const voip::config::v1::SandboxAdapterConfig* SandboxConfig(const SystemConfig& system) {
  return dynamic_cast<const voip::config::v1::SandboxAdapterConfig*>(system.config.get());
}

// ---------------------------------------------------------------------------
// Valid configurations

TEST(ConfigLoaderTest, MinimalConfigLoadsWithDefaults) {
  // The smallest useful file: one system. Everything else has a default
  // that must match the documentation in daemon.proto.
  DaemonSettings s = MustLoad("systems:\n  sandbox:\n    type: sandbox\n");
  EXPECT_EQ(s.source, kSource);
  EXPECT_THAT(s.listen, ElementsAre("127.0.0.1:50051"));
  EXPECT_EQ(s.default_region, "US");
  // A single system is the default system.
  EXPECT_EQ(s.default_system, "sandbox");
  EXPECT_THAT(s.routes, IsEmpty());
  ASSERT_EQ(s.systems.size(), 1u);
  EXPECT_EQ(s.systems[0].name, "sandbox");
  EXPECT_EQ(s.systems[0].type, "sandbox");
  EXPECT_NE(s.systems[0].factory, nullptr);
  EXPECT_THAT(s.systems[0].fingerprint, StartsWith("sandbox\n"));
  EXPECT_EQ(s.event_window, 10000u);
  EXPECT_EQ(s.subscriber_max_lag, 4096u);
  EXPECT_EQ(s.ended_retention, absl::Hours(1));
  EXPECT_EQ(s.max_ended_calls, 10000u);
  EXPECT_EQ(s.idempotency_ttl, absl::Hours(24));
  EXPECT_EQ(s.idempotency_max_keys, 1000000u);
  EXPECT_EQ(s.end_call_timeout, absl::Seconds(5));
  EXPECT_TRUE(s.shutdown_end_active_calls);
  EXPECT_EQ(s.shutdown_grace, absl::Seconds(5));
  EXPECT_EQ(s.log_level, "info");
}

TEST(ConfigLoaderTest, SandboxDefaultsAreFilledByFactoryValidation) {
  DaemonSettings s = MustLoad("systems:\n  sandbox: { type: sandbox }\n");
  ASSERT_EQ(s.systems.size(), 1u);
  const auto* config = SandboxConfig(s.systems[0]);
  ASSERT_NE(config, nullptr) << "typed config is not SandboxAdapterConfig";
  EXPECT_EQ(config->time_scale(), 1.0);
}

TEST(ConfigLoaderTest, EmbeddedDefaultConfigLoads) {
  // Used when no file exists: it must always be valid.
  absl::StatusOr<DaemonSettings> s = LoadConfigText(kEmbeddedDefaultConfig, "<embedded>");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->listen, ElementsAre("127.0.0.1:50051"));
  EXPECT_EQ(s->default_region, "US");
  EXPECT_EQ(s->default_system, "sandbox");
  ASSERT_EQ(s->systems.size(), 1u);
  EXPECT_EQ(s->systems[0].type, "sandbox");
}

TEST(ConfigLoaderTest, ShippedExampleConfigLoads) {
  // config/voipd.example.yaml is what operators copy; it must stay valid.
  const std::string path = std::string(VOIPD_SOURCE_DIR) + "/config/voipd.example.yaml";
  absl::StatusOr<DaemonSettings> s = LoadConfigFile(path);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->source, path);
  EXPECT_FALSE(s->systems.empty());
}

TEST(ConfigLoaderTest, EverySettingIsRead) {
  DaemonSettings s = MustLoad(R"(listen: ["127.0.0.1:6000", "unix:/run/voipd.sock"]
default_region: GB
default_system: uk
systems:
  uk: { type: sandbox, time_scale: 50, accept_sip_uri: true }
  us:
    type: sandbox
    accept_extension: yes
    default_ring_timeout_seconds: 12.5
    default_from: "+12015550199"
    simulate_unhealthy: true
routes:
  - { prefix: "+1", system: us }
  - { country: GB, system: uk }
events: { window: 500, subscriber_max_lag: 100 }
calls:
  ended_retention: 10m
  max_ended_calls: 7
  idempotency_ttl: 2h
  idempotency_max_keys: 9
  end_call_timeout: 1500ms
shutdown: { end_active_calls: false, grace: 30s }
log_level: debug
)");
  EXPECT_THAT(s.listen, ElementsAre("127.0.0.1:6000", "unix:/run/voipd.sock"));
  EXPECT_EQ(s.default_region, "GB");
  EXPECT_EQ(s.default_system, "uk");
  ASSERT_EQ(s.routes.size(), 2u);
  EXPECT_EQ(s.routes[0].prefix, "+1");
  EXPECT_EQ(s.routes[0].system, "us");
  EXPECT_EQ(s.routes[1].country, "GB");
  EXPECT_EQ(s.routes[1].system, "uk");
  EXPECT_EQ(s.event_window, 500u);
  EXPECT_EQ(s.subscriber_max_lag, 100u);
  EXPECT_EQ(s.ended_retention, absl::Minutes(10));
  EXPECT_EQ(s.max_ended_calls, 7u);
  EXPECT_EQ(s.idempotency_ttl, absl::Hours(2));
  EXPECT_EQ(s.idempotency_max_keys, 9u);
  EXPECT_EQ(s.end_call_timeout, absl::Milliseconds(1500));
  EXPECT_FALSE(s.shutdown_end_active_calls);
  EXPECT_EQ(s.shutdown_grace, absl::Seconds(30));
  EXPECT_EQ(s.log_level, "debug");

  ASSERT_EQ(s.systems.size(), 2u);
  std::map<std::string, const voip::config::v1::SandboxAdapterConfig*> by_name;
  for (const auto& system : s.systems) by_name[system.name] = SandboxConfig(system);
  ASSERT_NE(by_name["uk"], nullptr);
  ASSERT_NE(by_name["us"], nullptr);
  EXPECT_EQ(by_name["uk"]->time_scale(), 50.0);
  EXPECT_TRUE(by_name["uk"]->accept_sip_uri());
  EXPECT_TRUE(by_name["us"]->accept_extension());
  EXPECT_EQ(by_name["us"]->default_ring_timeout_seconds(), 12.5);
  EXPECT_EQ(by_name["us"]->default_from(), "+12015550199");
  EXPECT_TRUE(by_name["us"]->simulate_unhealthy());
}

TEST(ConfigLoaderTest, HistorySettingsAreRead) {
  const std::string systems = "systems: { a: { type: sandbox } }\n";
  DaemonSettings defaults = MustLoad(systems);
  EXPECT_EQ(defaults.state_dir, "");
  EXPECT_EQ(defaults.history.retention, absl::Hours(24 * 90));
  EXPECT_TRUE(defaults.history.synchronous_full);

  DaemonSettings s = MustLoad(systems + "state_dir: /var/lib/voipd\n"
                              "history: { retention: 30d, synchronous: normal }\n");
  EXPECT_EQ(s.state_dir, "/var/lib/voipd");
  EXPECT_EQ(s.history.retention, absl::Hours(24 * 30));
  EXPECT_FALSE(s.history.synchronous_full);
  EXPECT_EQ(MustLoad(systems + "history: { retention: 720h }\n").history.retention,
            absl::Hours(720));
  EXPECT_EQ(MustLoad(systems + "history: { retention: \"0\" }\n").history.retention,
            absl::InfiniteDuration());
}

TEST(ConfigLoaderTest, SmallWindowLowersDefaultMaxLag) {
  // The default lag (4096) must not exceed a smaller window.
  DaemonSettings s = MustLoad("events: { window: 100 }\nsystems: { a: { type: sandbox } }\n");
  EXPECT_EQ(s.event_window, 100u);
  EXPECT_EQ(s.subscriber_max_lag, 100u);
}

TEST(ConfigLoaderTest, SeveralSystemsWithoutDefaultLeaveDefaultEmpty) {
  // With two systems there is no obvious default; the router then needs a
  // route or an explicit choice.
  DaemonSettings s =
      MustLoad("systems:\n  a: { type: sandbox }\n  b: { type: sandbox }\n");
  EXPECT_EQ(s.default_system, "");
  EXPECT_EQ(s.systems.size(), 2u);
}

TEST(ConfigLoaderTest, FingerprintIsStableAndTracksSettings) {
  // Reload keeps a running adapter only when its fingerprint is unchanged.
  const std::string base = "systems:\n  a: { type: sandbox, time_scale: 2 }\n";
  DaemonSettings one = MustLoad(base);
  DaemonSettings two = MustLoad(base);
  DaemonSettings changed = MustLoad("systems:\n  a: { type: sandbox, time_scale: 3 }\n");
  ASSERT_EQ(one.systems.size(), 1u);
  ASSERT_EQ(two.systems.size(), 1u);
  ASSERT_EQ(changed.systems.size(), 1u);
  EXPECT_EQ(one.systems[0].fingerprint, two.systems[0].fingerprint);
  EXPECT_NE(one.systems[0].fingerprint, changed.systems[0].fingerprint);
}

TEST(ConfigLoaderTest, ExplicitDefaultTimeScaleMatchesOmittedOne) {
  // time_scale: 1 and no time_scale are the same config: a reload must not
  // restart the adapter over it.
  DaemonSettings omitted = MustLoad("systems:\n  a: { type: sandbox }\n");
  DaemonSettings explicit_one = MustLoad("systems:\n  a: { type: sandbox, time_scale: 1 }\n");
  ASSERT_EQ(omitted.systems.size(), 1u);
  ASSERT_EQ(explicit_one.systems.size(), 1u);
  EXPECT_EQ(omitted.systems[0].fingerprint, explicit_one.systems[0].fingerprint);
}

// ---------------------------------------------------------------------------
// Errors. Each names the source, the 1-based line and the dotted field.

struct ErrorCase {
  std::string name;
  std::string yaml;
  int line;           // 1-based line the error should point at; 0 = none applies
  std::string field;  // dotted field path in the message
  std::string also;   // another substring the message must contain ("" = none)
};

// Keeps gtest from dumping the struct's bytes in failure messages.
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

std::vector<ErrorCase> ErrorCases() {
  return {
      // Structural errors found while mapping YAML onto the schema.
      {"UnknownTopLevelKey",
       "listen: [\"127.0.0.1:1\"]\nlisen: [\"x\"]\nsystems: { a: { type: sandbox } }\n", 2,
       "lisen", "unknown setting"},
      {"UnknownKeyInsideSystem",
       "systems:\n  sandbox:\n    type: sandbox\n    time_scael: 2\n", 4,
       "systems.sandbox.time_scael", "unknown setting"},
      {"UnknownNestedKey", "systems: { a: { type: sandbox } }\ncalls:\n  ttl: 5s\n", 3,
       "calls.ttl", "unknown setting"},
      {"WrongTypeNumber", "systems:\n  sandbox:\n    type: sandbox\n    time_scale: abc\n", 4,
       "systems.sandbox.time_scale", "'abc'"},
      {"WrongTypeBool", "systems:\n  sandbox:\n    type: sandbox\n    accept_sip_uri: maybe\n",
       4, "systems.sandbox.accept_sip_uri", "'maybe'"},
      {"WrongTypeInteger", "systems: { a: { type: sandbox } }\nevents:\n  window: lots\n", 3,
       "events.window", "'lots'"},
      {"NegativeUnsigned", "systems: { a: { type: sandbox } }\ncalls:\n  max_ended_calls: -1\n",
       3, "calls.max_ended_calls", "'-1'"},
      {"ListWhereScalarExpected", "listen: 127.0.0.1:50051\nsystems: { a: { type: sandbox } }\n",
       1, "listen", "list"},
      {"MappingWhereScalarExpected", "log_level: { a: b }\nsystems: { a: { type: sandbox } }\n",
       1, "log_level", ""},
      {"BadYamlSyntax", "systems:\n  a: { type: sandbox }\nlisten: [\"x\"\nlog_level: info\n", 4,
       "", "not valid YAML"},
      {"BadYamlIndentation", "systems:\n  a:\n    type: sandbox\n   time_scale: 2\n", 4, "",
       "not valid YAML"},
      // Systems.
      {"SystemWithoutType", "systems:\n  sandbox:\n    time_scale: 2\n", 3,
       "systems.sandbox.type", "required"},
      {"SystemWithEmptyMapping", "log_level: info\nsystems:\n  sandbox: {}\n", 3,
       "systems.sandbox.type", "required"},
      {"SystemNotAMapping", "systems:\n  sandbox: sandbox\n", 2, "systems.sandbox", "mapping"},
      {"UnknownAdapterType", "systems:\n  pbx:\n    type: sipp\n", 3, "systems.pbx.type",
       "'sipp'"},
      {"UnknownKeyInRoute",
       "systems: { a: { type: sandbox } }\nroutes:\n  - prefix: \"+44\"\n    sytem: a\n", 4,
       "routes[0].sytem", "unknown setting"},
      {"DuplicateSystemName",
       "systems:\n  a: { type: sandbox, time_scale: 2 }\n  a: { type: sandbox, time_scale: 3 }\n",
       3, "systems.a", ""},
      {"BadSystemName", "systems:\n  \"bad name\": { type: sandbox }\n", 2, "systems.bad name",
       ""},
      // Factory validation: the factory names the field; the line is that
      // field's, not the system's.
      {"SandboxNegativeTimeScale", "systems:\n  sandbox:\n    type: sandbox\n    time_scale: -1\n",
       4, "systems.sandbox.time_scale", ""},
      {"SandboxTooLargeTimeScale",
       "systems:\n  sandbox:\n    type: sandbox\n    time_scale: 20000\n", 4,
       "systems.sandbox.time_scale", ""},
      {"SandboxNegativeRingTimeout",
       "systems:\n  sandbox:\n    type: sandbox\n    default_ring_timeout_seconds: -3\n", 4,
       "systems.sandbox.default_ring_timeout_seconds", ""},
      // Cross-field validation. The line is that of the offending value (or
      // list entry), so an operator can jump straight to it.
      {"MissingSystems", "listen: [\"127.0.0.1:1\"]\n", 0, "systems", "at least one"},
      {"NullSystems", "listen: [\"127.0.0.1:1\"]\nsystems:\n", 0, "systems", "at least one"},
      {"EmptySystemsMapping", "listen: [\"127.0.0.1:1\"]\nsystems: {}\n", 2, "systems",
       "at least one"},
      {"DefaultSystemNotConfigured",
       "systems: { a: { type: sandbox } }\ndefault_system: b\n", 2, "default_system", "'b'"},
      {"RouteWithPrefixAndCountry",
       "systems: { a: { type: sandbox } }\nroutes:\n  - { prefix: \"+44\", country: GB, system: a "
       "}\n",
       3, "routes[0]", "exactly one"},
      {"RouteWithNeitherPrefixNorCountry",
       "systems: { a: { type: sandbox } }\nroutes:\n  - { prefix: \"+1\", system: a }\n  - { "
       "system: a }\n",
       4, "routes[1]", "exactly one"},
      {"RoutePrefixWithoutPlus",
       "systems: { a: { type: sandbox } }\nroutes:\n  - { prefix: \"44\", system: a }\n", 3,
       "routes[0].prefix", "'44'"},
      {"RoutePrefixOnlyPlus",
       "systems: { a: { type: sandbox } }\nroutes:\n  - { prefix: \"+\", system: a }\n", 3,
       "routes[0].prefix", ""},
      {"RoutePrefixWithLetter",
       "systems: { a: { type: sandbox } }\nroutes:\n  - { prefix: \"+4a\", system: a }\n", 3,
       "routes[0].prefix", ""},
      {"RouteUnknownCountry",
       "systems: { a: { type: sandbox } }\nroutes:\n  - { country: XX, system: a }\n", 3,
       "routes[0].country", "'XX'"},
      {"RouteToUnknownSystem",
       "systems: { a: { type: sandbox } }\nroutes:\n  - { prefix: \"+44\", system: b }\n", 3,
       "routes[0].system", "'b'"},
      {"BadDuration", "systems: { a: { type: sandbox } }\ncalls:\n  end_call_timeout: 5 parsecs\n",
       3, "calls.end_call_timeout", "'5 parsecs'"},
      {"ZeroDuration", "systems: { a: { type: sandbox } }\ncalls:\n  ended_retention: 0s\n", 3,
       "calls.ended_retention", ""},
      {"BadShutdownGrace", "systems: { a: { type: sandbox } }\nshutdown:\n  grace: soon\n", 3,
       "shutdown.grace", "'soon'"},
      {"MaxLagAboveWindow",
       "systems: { a: { type: sandbox } }\nevents:\n  window: 10\n  subscriber_max_lag: 20\n", 4,
       "events.subscriber_max_lag", ""},
      {"WindowTooLarge", "systems: { a: { type: sandbox } }\nevents:\n  window: 2000000\n", 3,
       "events.window", ""},
      {"BadLogLevel", "systems: { a: { type: sandbox } }\nlog_level: verbose\n", 2, "log_level",
       "'verbose'"},
      {"BadDefaultRegion", "systems: { a: { type: sandbox } }\ndefault_region: XX\n", 2,
       "default_region", "'XX'"},
      {"EmptyListenAddress", "systems: { a: { type: sandbox } }\nlisten: [\"\"]\n", 2,
       "listen[0]", "empty"},
      // gRPC would listen on 443 for these two, and on 34463 for 99999.
      {"ListenWithoutPort",
       "systems: { a: { type: sandbox } }\nlisten:\n  - \"127.0.0.1:0\"\n  - localhost\n", 4,
       "listen[1]", "no port"},
      {"ListenPortTooLarge", "systems: { a: { type: sandbox } }\nlisten: [\"127.0.0.1:99999\"]\n",
       2, "listen[0]", "0 to 65535"},
      {"ListenEmptyUnixPath", "systems: { a: { type: sandbox } }\nlisten: [\"unix:\"]\n", 2,
       "listen[0]", "unix socket path"},
      {"ListenBareIpv6", "systems: { a: { type: sandbox } }\nlisten: [\"::1:50051\"]\n", 2,
       "listen[0]", "brackets"},
      {"MetricsListenWithoutPort",
       "systems: { a: { type: sandbox } }\nmetrics:\n  listen: localhost\n", 3,
       "metrics.listen", "IP:PORT"},
      {"MetricsListenPortTooLarge",
       "systems: { a: { type: sandbox } }\nmetrics:\n  listen: 127.0.0.1:70000\n", 3,
       "metrics.listen", "IP:PORT"},
      {"MetricsListenOnUnixSocket",
       "systems: { a: { type: sandbox } }\nmetrics:\n  listen: unix:/tmp/m.sock\n", 3,
       "metrics.listen", "IP:PORT"},
      {"DocumentNotAMapping", "- just\n- a list\n", 1, "", "mapping"},
      {"BadHistoryRetention",
       "systems: { a: { type: sandbox } }\nhistory:\n  retention: forever\n", 3,
       "history.retention", "'forever'"},
      {"NegativeHistoryRetention",
       "systems: { a: { type: sandbox } }\nhistory:\n  retention: -5d\n", 3,
       "history.retention", "'-5d'"},
      {"BadHistorySynchronous",
       "systems: { a: { type: sandbox } }\nhistory:\n  synchronous: sometimes\n", 3,
       "history.synchronous", "'sometimes'"},
  };
}

std::vector<ErrorCase> WithLine(std::vector<ErrorCase> cases) {
  std::vector<ErrorCase> out;
  for (auto& c : cases) {
    if (c.line > 0) out.push_back(std::move(c));
  }
  return out;
}

std::string CaseName(const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; }

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, IsRejectedNamingSourceAndField) {
  const ErrorCase& c = GetParam();
  absl::StatusOr<DaemonSettings> s = Load(c.yaml);
  ASSERT_FALSE(s.ok()) << "accepted:\n" << c.yaml;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  const std::string message(s.status().message());
  EXPECT_THAT(message, StartsWith(absl::StrCat(kSource, ":")));
  if (!c.field.empty()) {
    EXPECT_THAT(message, HasSubstr(absl::StrCat(c.field, ":")));
  }
  if (!c.also.empty()) {
    EXPECT_THAT(message, HasSubstr(c.also));
  }
}

INSTANTIATE_TEST_SUITE_P(AllErrors, ConfigErrorTest, ::testing::ValuesIn(ErrorCases()), CaseName);

// Separate from the test above so that a message lacking only the line
// number shows up as exactly that.
class ConfigErrorLineTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorLineTest, NamesTheOneBasedLine) {
  const ErrorCase& c = GetParam();
  absl::StatusOr<DaemonSettings> s = Load(c.yaml);
  ASSERT_FALSE(s.ok()) << "accepted:\n" << c.yaml;
  EXPECT_THAT(std::string(s.status().message()),
              StartsWith(absl::StrCat(kSource, ":", c.line, ": ")));
}

INSTANTIATE_TEST_SUITE_P(ErrorsWithALine, ConfigErrorLineTest,
                         ::testing::ValuesIn(WithLine(ErrorCases())), CaseName);

TEST(ConfigLoaderTest, UnknownTopLevelKeyListsKnownSettings) {
  // A typo is fixed fastest when the right spelling is right there.
  absl::StatusOr<DaemonSettings> s = Load("lisen: []\nsystems: { a: { type: sandbox } }\n");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("listen"));
  EXPECT_THAT(s.status().message(), HasSubstr("default_region"));
}

TEST(ConfigLoaderTest, UnknownSystemKeyListsTheAdaptersSettings) {
  absl::StatusOr<DaemonSettings> s =
      Load("systems:\n  sandbox:\n    type: sandbox\n    time_scael: 2\n");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("time_scale"));
}

TEST(ConfigLoaderTest, UnknownAdapterTypeListsCompiledInTypes) {
  absl::StatusOr<DaemonSettings> s = Load("systems:\n  pbx:\n    type: sipp\n");
  ASSERT_FALSE(s.ok());
  const std::vector<std::string> names = adapters::AdapterRegistry::Names();
  ASSERT_THAT(names, Not(IsEmpty()));
  EXPECT_THAT(s.status().message(),
              HasSubstr(absl::StrCat("(compiled in: ", absl::StrJoin(names, ", "), ")")));
  EXPECT_THAT(s.status().message(), HasSubstr("sandbox"));
}

TEST(ConfigLoaderTest, MissingTypeListsCompiledInTypes) {
  absl::StatusOr<DaemonSettings> s = Load("systems:\n  pbx: { time_scale: 2 }\n");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("sandbox"));
}

TEST(ConfigLoaderTest, ErrorsUseTheGivenSourceName) {
  absl::StatusOr<DaemonSettings> s = LoadConfigText("log_level: loud\nsystems: { a: { type: sandbox } }\n",
                                                    "/etc/voipd/voipd.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), StartsWith("/etc/voipd/voipd.yaml:"));
}

// ---------------------------------------------------------------------------
// Files

TEST(ConfigLoaderTest, LoadConfigFileOnMissingPathNamesThePath) {
  const std::string path = ::testing::TempDir() + "/voipd-no-such-dir/voipd.yaml";
  absl::StatusOr<DaemonSettings> s = LoadConfigFile(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr(path));
}

TEST(ConfigLoaderTest, LoadConfigFileReadsTheFileAndNamesItInErrors) {
  const std::string path = ::testing::TempDir() + "/config_loader_test_voipd.yaml";
  {
    std::ofstream out(path);
    out << "systems:\n  sandbox:\n    type: sandbox\n    time_scael: 2\n";
  }
  absl::StatusOr<DaemonSettings> bad = LoadConfigFile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), StartsWith(absl::StrCat(path, ":4: ")));
  {
    std::ofstream out(path, std::ios::trunc);
    out << kEmbeddedDefaultConfig;
  }
  absl::StatusOr<DaemonSettings> good = LoadConfigFile(path);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->source, path);
  EXPECT_EQ(good->default_system, "sandbox");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace voipd
