// Maps an HTTP request target to a file of the softphone page under
// web_root. Deliberately strict: the page is a handful of plain files, so
// anything unusual (percent-encoding, dot segments, hidden files, unknown
// extensions, symlinks leading out of web_root) is simply "not found".
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace voipd::adapters::webrtc {

struct StaticFile {
  std::filesystem::path path;  // canonical, under the root
  std::string content_type;
};

// `root` must be canonical (std::filesystem::canonical). NOT_FOUND for any
// target that does not name a servable regular file under it.
absl::StatusOr<StaticFile> ResolveStaticFile(const std::filesystem::path& root,
                                             absl::string_view target);

// "text/html; charset=utf-8" for "index.html"; empty for a type not served.
std::string ContentTypeFor(const std::filesystem::path& file);

}  // namespace voipd::adapters::webrtc
