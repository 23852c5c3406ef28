// libre's timers on a binary heap instead of its sorted linked list.
//
// libre 1.1.0 (src/tmr/tmr.c, unchanged upstream) keeps each libre context's
// timers in one sorted list and inserts by walking it from the tail past
// every timer that expires later: O(n) per tmr_start. Under SIP load n is
// tens of thousands (transaction timers live up to 64*T1 = 32 s) and the walk
// took 65 % of the SIP thread, so the cost per call grew with the call rate
// (bench/performance-notes.md, scenario b).
//
// libre_timers.cc defines tmr_start, tmr_cancel, tmr_poll and
// tmr_next_timeout. libre calls its own timer functions through its PLT, so
// the executable's definitions replace them for libre itself too (ELF symbol
// interposition; the link exports them, see CMakeLists.txt). Each timer keeps
// libre's `struct tmr` and its semantics: expiry order, FIFO among equal
// expiries, a zero delay runs after the timers already due, tmr_isrunning().
//
// VOIPD_LIBRE_TIMERS=list in the environment selects libre's own list
// instead (read once, at the first timer): for comparison in bench/ and as
// a way back should a libre update change its timer ABI unnoticed.
#pragma once

#include <cstddef>

namespace voipd::adapters::sip {

// "heap" or "list" (VOIPD_LIBRE_TIMERS=list); fixed at the first call of any
// timer function.
const char* LibreTimerImplementation();

// Timers running in the calling thread's libre context (heap only; 0 with
// libre's list). For tests and diagnostics.
size_t LibreTimersRunning();

}  // namespace voipd::adapters::sip
