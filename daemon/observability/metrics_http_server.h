// Serves Metrics::Render() as Prometheus text on GET /metrics (Boost.Beast)
// on its own thread and io_context, so a scrape never competes with the
// adapters' event loop and a stuck loop cannot hide the metrics either.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace voipd {

class MetricsHttpServer {
 public:
  using Render = std::function<std::string()>;

  // `listen` is "host:port" or "[v6]:port"; port 0 picks one.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& listen,
                                                                  Render render);
  ~MetricsHttpServer();

  // "host:port" actually bound.
  std::string address() const;

 private:
  struct Impl;
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace voipd
