#include "adapters/webrtc/static_files.h"

#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace voipd::adapters::webrtc {
namespace {

constexpr size_t kMaxTarget = 256;

absl::Status NotFound() { return absl::NotFoundError("not found"); }

}  // namespace

std::string ContentTypeFor(const std::filesystem::path& file) {
  const std::string ext = absl::AsciiStrToLower(file.extension().string());
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".json") return "application/json";
  if (ext == ".webmanifest") return "application/manifest+json";
  return "";
}

absl::StatusOr<StaticFile> ResolveStaticFile(const std::filesystem::path& root,
                                             absl::string_view target) {
  // The query string never selects a file.
  const size_t q = target.find_first_of("?#");
  absl::string_view path = target.substr(0, q);
  if (path.empty() || path.front() != '/' || path.size() > kMaxTarget) return NotFound();
  for (char c : path) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '.' && c != '-' &&
        c != '_') {
      return NotFound();  // '%', '\\', NUL, spaces...: no file of ours needs them
    }
  }
  std::filesystem::path relative;
  for (absl::string_view segment : absl::StrSplit(path.substr(1), '/')) {
    if (segment.empty()) continue;
    if (segment.front() == '.') return NotFound();  // "..", ".", hidden files
    relative /= std::string(segment);
  }
  if (relative.empty() || path.back() == '/') relative /= "index.html";
  std::error_code ec;
  const std::filesystem::path file = std::filesystem::canonical(root / relative, ec);
  if (ec) return NotFound();
  // A symlink may point anywhere: the resolved file must still be under root.
  auto [root_end, file_it] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (root_end != root.end()) return NotFound();
  if (!std::filesystem::is_regular_file(file, ec) || ec) return NotFound();
  StaticFile out;
  out.content_type = ContentTypeFor(file);
  if (out.content_type.empty()) return NotFound();
  out.path = file;
  return out;
}

}  // namespace voipd::adapters::webrtc
