#include "adapters/sip/libre_timers.h"

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)

// The replacement relies on libre 1.1.0's timer ABI: `struct tmr` as below,
// tmr_start a function (later libre versions make it a macro around
// tmr_start_dbg and add fields), tmr_poll taking the context's `struct list`.
#ifdef tmr_start
#error "libre's timer API changed (tmr_start is a macro): adapters/sip/libre_timers.cc needs porting"
#endif
static_assert(sizeof(struct tmr) == 56 && offsetof(struct tmr, jfs) == 48,
              "libre's struct tmr changed: adapters/sip/libre_timers.cc needs porting");

// libre's own accessor for the calling thread's timer list (exported, not in
// its headers): the key that tells libre contexts (re_thread_init) apart.
extern "C" struct list* tmrl_get(void);

namespace voipd::adapters::sip {
namespace {

// One libre context's running timers, a binary min-heap on (expiry, start
// order). A running timer's bookkeeping lives in its own `le`, which only
// libre's tmr.c used (for the list link):
//   le.list -> the TimerHeap holding it, le.data -> its index in `items`,
//   le.prev -> its start sequence (FIFO among equal expiries, as libre).
// A timer is in a heap exactly while `th` is set, as libre's
// tmr_isrunning() expects.
struct TimerHeap {
  std::vector<struct tmr*> items;
  uint64_t next_seq = 0;
};

TimerHeap* OwnerOf(const struct tmr* t) { return reinterpret_cast<TimerHeap*>(t->le.list); }
size_t IndexOf(const struct tmr* t) { return reinterpret_cast<uintptr_t>(t->le.data); }
uint64_t SeqOf(const struct tmr* t) { return reinterpret_cast<uintptr_t>(t->le.prev); }

bool Before(const struct tmr* a, const struct tmr* b) {
  return a->jfs != b->jfs ? a->jfs < b->jfs : SeqOf(a) < SeqOf(b);
}

void Place(TimerHeap& heap, size_t i, struct tmr* t) {
  heap.items[i] = t;
  t->le.data = reinterpret_cast<void*>(static_cast<uintptr_t>(i));
}

void SiftUp(TimerHeap& heap, size_t i) {
  struct tmr* t = heap.items[i];
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!Before(t, heap.items[parent])) break;
    Place(heap, i, heap.items[parent]);
    i = parent;
  }
  Place(heap, i, t);
}

void SiftDown(TimerHeap& heap, size_t i) {
  const size_t n = heap.items.size();
  struct tmr* t = heap.items[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && Before(heap.items[child + 1], heap.items[child])) ++child;
    if (!Before(heap.items[child], t)) break;
    Place(heap, i, heap.items[child]);
    i = child;
  }
  Place(heap, i, t);
}

void Push(TimerHeap& heap, struct tmr* t) {
  t->le.list = reinterpret_cast<struct list*>(&heap);
  t->le.prev = reinterpret_cast<struct le*>(static_cast<uintptr_t>(heap.next_seq++));
  heap.items.push_back(t);
  SiftUp(heap, heap.items.size() - 1);
}

// Takes `t` out of its heap. A timer whose bookkeeping does not match (never
// started here) is left alone rather than corrupting a heap.
void Remove(struct tmr* t) {
  TimerHeap* heap = OwnerOf(t);
  if (heap == nullptr) return;
  const size_t i = IndexOf(t);
  if (i >= heap->items.size() || heap->items[i] != t) return;
  struct tmr* last = heap->items.back();
  heap->items.pop_back();
  if (last != t) {
    Place(*heap, i, last);
    SiftDown(*heap, i);
    SiftUp(*heap, IndexOf(last));
  }
  t->le.list = nullptr;
}

// Heaps by libre context (its timer list's address). Contexts are few (the
// global one, plus one per re_thread_init thread) and live until exit, so
// heaps are never freed; the last lookup is cached per thread.
TimerHeap& HeapFor(struct list* context) {
  struct Cache {
    struct list* context = nullptr;
    TimerHeap* heap = nullptr;
  };
  thread_local Cache cache;
  if (cache.heap != nullptr && cache.context == context) return *cache.heap;
  static std::mutex* mu = new std::mutex();
  static auto* heaps = new std::vector<std::pair<struct list*, TimerHeap*>>();
  std::lock_guard<std::mutex> lock(*mu);
  TimerHeap* found = nullptr;
  for (const auto& [key, heap] : *heaps) {
    if (key == context) found = heap;
  }
  if (found == nullptr) {
    found = new TimerHeap();
    heaps->emplace_back(context, found);
  }
  cache = {context, found};
  return *found;
}

// libre's own functions, for VOIPD_LIBRE_TIMERS=list.
struct LibreList {
  void (*start)(struct tmr*, uint64_t, tmr_h*, void*);
  void (*poll)(struct list*);
  uint64_t (*next_timeout)(struct list*);
};

// nullptr: the heap is in use. Decided once, before the first timer.
const LibreList* ListMode() {
  static const LibreList* mode = []() -> const LibreList* {
    const char* choice = std::getenv("VOIPD_LIBRE_TIMERS");
    if (choice == nullptr || std::strcmp(choice, "list") != 0) return nullptr;
    auto* list = new LibreList{
        reinterpret_cast<decltype(LibreList::start)>(dlsym(RTLD_NEXT, "tmr_start")),
        reinterpret_cast<decltype(LibreList::poll)>(dlsym(RTLD_NEXT, "tmr_poll")),
        reinterpret_cast<decltype(LibreList::next_timeout)>(dlsym(RTLD_NEXT, "tmr_next_timeout")),
    };
    if (list->start == nullptr || list->poll == nullptr || list->next_timeout == nullptr) {
      std::fprintf(stderr, "sip: VOIPD_LIBRE_TIMERS=list but libre's timer functions were not "
                           "found; using the heap\n");
      return nullptr;
    }
    return list;
  }();
  return mode;
}

}  // namespace

const char* LibreTimerImplementation() { return ListMode() == nullptr ? "heap" : "list"; }

size_t LibreTimersRunning() {
  if (ListMode() != nullptr) return 0;
  return HeapFor(tmrl_get()).items.size();
}

}  // namespace voipd::adapters::sip

using voipd::adapters::sip::HeapFor;
using voipd::adapters::sip::ListMode;

extern "C" {

// Same contract as libre's: (re)starts `tmr` to call `th(arg)` after `delay`
// ms; th == nullptr cancels.
void tmr_start(struct tmr* tmr, uint64_t delay, tmr_h* th, void* arg) {
  if (const auto* list = ListMode()) return list->start(tmr, delay, th, arg);
  if (tmr == nullptr) return;
  if (tmr->th != nullptr) voipd::adapters::sip::Remove(tmr);
  tmr->th = th;
  tmr->arg = arg;
  if (th == nullptr) return;
  tmr->jfs = tmr_jiffies() + delay;
  voipd::adapters::sip::Push(HeapFor(tmrl_get()), tmr);
}

void tmr_cancel(struct tmr* tmr) { tmr_start(tmr, 0, nullptr, nullptr); }

// Runs every timer due by now, earliest first. A handler may start or cancel
// any timer, itself included.
void tmr_poll(struct list* tmrl) {
  if (const auto* list = ListMode()) return list->poll(tmrl);
  if (tmrl == nullptr) return;
  auto& heap = HeapFor(tmrl);
  const uint64_t now = tmr_jiffies();
  while (!heap.items.empty() && heap.items.front()->jfs <= now) {
    struct tmr* due = heap.items.front();
    voipd::adapters::sip::Remove(due);
    tmr_h* th = due->th;
    void* arg = due->arg;
    due->th = nullptr;
    if (th != nullptr) th(arg);
  }
}

// Milliseconds until the earliest timer (1 when one is due, 0 when none).
uint64_t tmr_next_timeout(struct list* tmrl) {
  if (const auto* list = ListMode()) return list->next_timeout(tmrl);
  if (tmrl == nullptr) return 0;
  auto& heap = HeapFor(tmrl);
  if (heap.items.empty()) return 0;
  const uint64_t now = tmr_jiffies();
  const uint64_t due = heap.items.front()->jfs;
  return due > now ? due - now : 1;
}

}  // extern "C"
