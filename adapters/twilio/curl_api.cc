#include "adapters/twilio/curl_api.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"

namespace voipd::adapters::twilio {
namespace {

struct Loaded {
  CurlApi api{};
  absl::Status status;
};

template <typename Fn>
bool Bind(void* lib, const char* name, Fn* out, std::string* missing) {
  *out = reinterpret_cast<Fn>(dlsym(lib, name));
  if (*out == nullptr) *missing = name;
  return *out != nullptr;
}

Loaded LoadOnce() {
  Loaded loaded;
  // The SONAME Debian's libcurl4 (OpenSSL flavour) ships; never unloaded.
  void* lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    loaded.status = absl::FailedPreconditionError(
        absl::StrCat("cannot load libcurl.so.4 (Debian package libcurl4): ", why ? why : "?"));
    return loaded;
  }
  CurlApi& a = loaded.api;
  std::string missing;
  const bool ok =
      Bind(lib, "curl_global_init", &a.global_init, &missing) &&
      Bind(lib, "curl_easy_init", &a.easy_init, &missing) &&
      Bind(lib, "curl_easy_cleanup", &a.easy_cleanup, &missing) &&
      Bind(lib, "curl_easy_setopt", &a.easy_setopt, &missing) &&
      Bind(lib, "curl_easy_getinfo", &a.easy_getinfo, &missing) &&
      Bind(lib, "curl_easy_strerror", &a.easy_strerror, &missing) &&
      Bind(lib, "curl_easy_escape", &a.easy_escape, &missing) &&
      Bind(lib, "curl_easy_unescape", &a.easy_unescape, &missing) &&
      Bind(lib, "curl_free", &a.free, &missing) &&
      Bind(lib, "curl_slist_append", &a.slist_append, &missing) &&
      Bind(lib, "curl_slist_free_all", &a.slist_free_all, &missing) &&
      Bind(lib, "curl_multi_init", &a.multi_init, &missing) &&
      Bind(lib, "curl_multi_cleanup", &a.multi_cleanup, &missing) &&
      Bind(lib, "curl_multi_setopt", &a.multi_setopt, &missing) &&
      Bind(lib, "curl_multi_add_handle", &a.multi_add_handle, &missing) &&
      Bind(lib, "curl_multi_remove_handle", &a.multi_remove_handle, &missing) &&
      Bind(lib, "curl_multi_perform", &a.multi_perform, &missing) &&
      Bind(lib, "curl_multi_poll", &a.multi_poll, &missing) &&
      Bind(lib, "curl_multi_wakeup", &a.multi_wakeup, &missing) &&
      Bind(lib, "curl_multi_info_read", &a.multi_info_read, &missing);
  if (!ok) {
    loaded.status = absl::FailedPreconditionError(
        absl::StrCat("libcurl.so.4 lacks ", missing, " (voipd needs libcurl >= 7.82)"));
    return loaded;
  }
  // Not guaranteed thread-safe on every libcurl build: once, here.
  a.global_init(CURL_GLOBAL_DEFAULT);
  return loaded;
}

const Loaded& Get() {
  static const Loaded* loaded = new Loaded(LoadOnce());
  return *loaded;
}

}  // namespace

absl::Status LoadCurl() { return Get().status; }

const CurlApi& Curl() {
  const Loaded& loaded = Get();
  if (!loaded.status.ok()) {
    std::fprintf(stderr, "voipd: %s\n", std::string(loaded.status.message()).c_str());
    std::abort();
  }
  return loaded.api;
}

}  // namespace voipd::adapters::twilio
