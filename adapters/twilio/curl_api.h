// libcurl, loaded when the first twilio system needs it rather than linked
// into voipd: libcurl's TLS stack (gnutls, p11-kit, krb5, nettle...) costs
// ~2.7 MB of resident memory in every voipd, including the many that never
// configure a twilio system (bench scenario f, docs/performance.md). Only
// the functions the adapter uses; the types and constants still come from
// <curl/curl.h>.
#pragma once

#include <curl/curl.h>

#include "absl/status/status.h"

namespace voipd::adapters::twilio {

struct CurlApi {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  char* (*easy_escape)(CURL*, const char*, int);
  char* (*easy_unescape)(CURL*, const char*, int, int*);
  void (*free)(void*);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  CURLM* (*multi_init)();
  CURLMcode (*multi_cleanup)(CURLM*);
  CURLMcode (*multi_setopt)(CURLM*, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM*, CURL*);
  CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
  CURLMcode (*multi_perform)(CURLM*, int*);
  CURLMcode (*multi_poll)(CURLM*, curl_waitfd*, unsigned int, int, int*);
  CURLMcode (*multi_wakeup)(CURLM*);
  CURLMsg* (*multi_info_read)(CURLM*, int*);
};

// Loads libcurl.so.4 once (thread-safe). The twilio factory calls it so that
// a missing library is a configuration error naming it, at start or reload.
absl::Status LoadCurl();

// The loaded API; loads it first if needed and aborts with a message if that
// fails (only reachable by code that bypassed LoadCurl, i.e. tests).
const CurlApi& Curl();

}  // namespace voipd::adapters::twilio
