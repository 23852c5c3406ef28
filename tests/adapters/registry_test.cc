// The adapter registry against the build's adapter list, and the sandbox
// factory's typed-config hooks.
#include "adapters/api/registry.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "voip/config/v1/sandbox.pb.h"
#include "voip/config/v1/webrtc.pb.h"

#ifndef VOIPD_ADAPTER_LIST
#error "VOIPD_ADAPTER_LIST must be defined by tests/CMakeLists.txt"
#endif

namespace voipd::adapters {
namespace {

using ::testing::ElementsAreArray;

std::vector<std::string> BuildList() {
  std::vector<std::string> names =
      absl::StrSplit(VOIPD_ADAPTER_LIST, ',', absl::SkipWhitespace());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AdapterRegistryTest, NamesEqualTheBuildList) {
  // A dropped REGISTER_ADAPTER (or an adapter missing from VOIPD_ADAPTERS)
  // shows up here rather than as "unknown adapter type" in production.
  const std::vector<std::string> expected = BuildList();
  ASSERT_FALSE(expected.empty()) << "VOIPD_ADAPTER_LIST is empty";
  EXPECT_THAT(AdapterRegistry::Names(), ElementsAreArray(expected))
      << "VOIPD_ADAPTER_LIST=\"" << VOIPD_ADAPTER_LIST << "\"";
}

TEST(AdapterRegistryTest, NamesAreSortedAndUnique) {
  const std::vector<std::string> names = AdapterRegistry::Names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

TEST(AdapterRegistryTest, EveryListedFactoryIsFoundUnderItsOwnName) {
  for (const std::string& name : BuildList()) {
    const AdapterFactory* factory = AdapterRegistry::Find(name);
    ASSERT_NE(factory, nullptr) << name;
    EXPECT_EQ(factory->name(), name);
    EXPECT_NE(factory->CreateEmptyConfig(), nullptr) << name;
  }
}

TEST(AdapterRegistryTest, FindUnknownTypeIsNull) {
  EXPECT_EQ(AdapterRegistry::Find("no-such-adapter"), nullptr);
  EXPECT_EQ(AdapterRegistry::Find(""), nullptr);
  EXPECT_EQ(AdapterRegistry::Find("Sandbox"), nullptr) << "type names are case-sensitive";
}

TEST(SandboxFactoryTest, EmptyConfigIsSandboxAdapterConfig) {
  const AdapterFactory* factory = AdapterRegistry::Find("sandbox");
  ASSERT_NE(factory, nullptr);
  std::unique_ptr<google::protobuf::Message> config = factory->CreateEmptyConfig();
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->GetDescriptor()->full_name(), "voip.config.v1.SandboxAdapterConfig");
  EXPECT_EQ(config->GetDescriptor(), voip::config::v1::SandboxAdapterConfig::descriptor());
}

TEST(SandboxFactoryTest, ValidateFillsTimeScaleOne) {
  const AdapterFactory* factory = AdapterRegistry::Find("sandbox");
  ASSERT_NE(factory, nullptr);
  std::unique_ptr<google::protobuf::Message> config = factory->CreateEmptyConfig();
  ASSERT_TRUE(factory->Validate(*config).ok());
  const auto& sandbox = dynamic_cast<const voip::config::v1::SandboxAdapterConfig&>(*config);
  EXPECT_EQ(sandbox.time_scale(), 1.0);
}

TEST(SandboxFactoryTest, ValidateKeepsAGivenTimeScale) {
  const AdapterFactory* factory = AdapterRegistry::Find("sandbox");
  ASSERT_NE(factory, nullptr);
  voip::config::v1::SandboxAdapterConfig config;
  config.set_time_scale(20);
  ASSERT_TRUE(factory->Validate(config).ok());
  EXPECT_EQ(config.time_scale(), 20.0);
}

TEST(SandboxFactoryTest, ValidateRejectsNegativeTimeScaleNamingTheField) {
  const AdapterFactory* factory = AdapterRegistry::Find("sandbox");
  ASSERT_NE(factory, nullptr);
  voip::config::v1::SandboxAdapterConfig config;
  config.set_time_scale(-1);
  absl::Status status = factory->Validate(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "time_scale")) << status.message();
}

TEST(SandboxFactoryTest, ValidateRejectsNegativeRingTimeoutNamingTheField) {
  const AdapterFactory* factory = AdapterRegistry::Find("sandbox");
  ASSERT_NE(factory, nullptr);
  voip::config::v1::SandboxAdapterConfig config;
  config.set_default_ring_timeout_seconds(-5);
  absl::Status status = factory->Validate(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "default_ring_timeout_seconds"))
      << status.message();
}

TEST(WebRtcFactoryTest, ValidateRejectsAListenAddressItCouldNotBindNamingTheField) {
  // Checked when the config is validated, so --check-config sees it, not
  // only once the adapter binds at start.
  const AdapterFactory* factory = AdapterRegistry::Find("webrtc");
  ASSERT_NE(factory, nullptr);
  for (const std::string bad : {"localhost", "127.0.0.1:99999", "pbx.example.com:8089"}) {
    voip::config::v1::WebRtcAdapterConfig config;
    config.set_listen(bad);
    config.set_web_root(std::filesystem::temp_directory_path().string());
    absl::Status status = factory->Validate(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad << ": " << status;
    EXPECT_TRUE(absl::StartsWith(status.message(), "listen: '" + bad + "'")) << status.message();
  }
  voip::config::v1::WebRtcAdapterConfig good;
  good.set_listen("[::1]:0");
  good.set_web_root(std::filesystem::temp_directory_path().string());
  EXPECT_TRUE(factory->Validate(good).ok());
}

TEST(SandboxFactoryTest, CreateBuildsAnAdapterFromTheTypedConfig) {
  const AdapterFactory* factory = AdapterRegistry::Find("sandbox");
  ASSERT_NE(factory, nullptr);
  voip::config::v1::SandboxAdapterConfig config;
  config.set_accept_sip_uri(true);
  ASSERT_TRUE(factory->Validate(config).ok());
  AdapterContext context;
  context.system_name = "sbx";
  absl::StatusOr<AdapterPtr> adapter = factory->Create(config, context);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  ASSERT_NE(*adapter, nullptr);
  EXPECT_TRUE((*adapter)->capabilities().accepts_sip_uri);
  EXPECT_FALSE((*adapter)->capabilities().accepts_extension);
}

}  // namespace
}  // namespace voipd::adapters
