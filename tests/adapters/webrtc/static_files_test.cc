#include "adapters/webrtc/static_files.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace voipd::adapters::webrtc {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("voipd-webrtc-static-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "web" / "css");
    Write(base_ / "web" / "index.html", "<!doctype html>");
    Write(base_ / "web" / "app.js", "1");
    Write(base_ / "web" / "css" / "s.css", "a{}");
    Write(base_ / "web" / ".secret.js", "x");
    Write(base_ / "web" / "notes.txt", "x");
    Write(base_ / "outside.html", "secret");
    fs::create_symlink(base_ / "outside.html", base_ / "web" / "link.html");
    root_ = fs::canonical(base_ / "web");
  }
  void TearDown() override { fs::remove_all(base_); }
  static void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  fs::path base_;
  fs::path root_;
};

TEST_F(StaticFilesTest, ServesFilesWithTypes) {
  auto index = ResolveStaticFile(root_, "/");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->path, root_ / "index.html");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  auto js = ResolveStaticFile(root_, "/app.js?v=3");
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  auto css = ResolveStaticFile(root_, "/css/s.css");
  ASSERT_TRUE(css.ok());
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  EXPECT_TRUE(ResolveStaticFile(root_, "/index.html").ok());
}

TEST_F(StaticFilesTest, RefusesTraversalAndOddTargets) {
  for (const char* target :
       {"/../outside.html", "/css/../../outside.html", "/%2e%2e/outside.html", "/.secret.js",
        "/notes.txt", "/link.html", "/missing.js", "/css", "", "index.html", "/a\\b.js",
        "//etc/passwd", "/css/./s.css"}) {
    auto r = ResolveStaticFile(root_, target);
    EXPECT_FALSE(r.ok()) << target;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << target;
    }
  }
}

}  // namespace
}  // namespace voipd::adapters::webrtc
