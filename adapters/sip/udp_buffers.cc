#include "adapters/sip/udp_buffers.h"

#include <dirent.h>
#include <sys/socket.h>

#include <cstdlib>

namespace voipd::adapters::sip {

std::set<int> OpenFds() {
  std::set<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  // The listing's own descriptor is closed again below and may be reused by
  // the very socket we are looking for: leave it out.
  const int own = dirfd(dir);
  while (const struct dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && fd != own) fds.insert(static_cast<int>(fd));
  }
  closedir(dir);
  return fds;
}

int EnlargeNewUdpBuffers(const std::set<int>& before, int bytes) {
  int changed = 0;
  for (int fd : OpenFds()) {
    if (before.count(fd) != 0) continue;
    int type = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM) continue;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
    ++changed;
  }
  return changed;
}

}  // namespace voipd::adapters::sip
