// The daemon's memory allocator. voipd links gperftools' tcmalloc (the
// allocator Envoy and gRPC's own benchmarks run on) unless it is built with
// -DVOIPD_ALLOCATOR=system: glibc's malloc/free were ~15 % of voipd's CPU in
// bench scenario a, most of it from gRPC threads contending on its arenas
// (bench/performance-notes.md, "a, third pass").
#pragma once

#include <string>

namespace voipd {

// "tcmalloc" or "system": what this build allocates with (logged at start).
const char* AllocatorName();

// Hands freed heap pages back to the kernel (after start-up, which frees more
// than it keeps, so that an idle daemon stays small).
void ReleaseFreeMemory();

}  // namespace voipd
