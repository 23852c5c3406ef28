#include "daemon/allocator.h"

#if VOIPD_TCMALLOC
#include <gperftools/malloc_extension.h>
#else
#include <malloc.h>
#endif

namespace voipd {

#if VOIPD_TCMALLOC

// Also the reference that keeps libtcmalloc_minimal in voipd's DT_NEEDED:
// Debian's GCC links --as-needed, and malloc itself resolves to glibc
// without complaint if the library is dropped.
const char* AllocatorName() { return "tcmalloc"; }
void ReleaseFreeMemory() {
  // Start-up ran on this thread, so its cache holds most of what start-up
  // freed (up to 4 MiB by default); hand that back to the page heap first,
  // which ReleaseFreeMemory then returns to the kernel. The caller (main)
  // then only waits for signals.
  MallocExtension::instance()->MarkThreadIdle();
  MallocExtension::instance()->ReleaseFreeMemory();
}

#else

const char* AllocatorName() { return "system"; }
void ReleaseFreeMemory() { malloc_trim(0); }

#endif

}  // namespace voipd
