/* The heap in use, for tests that check that memory came back: mallinfo2()
 * in a plain build, the sanitizers' allocator statistics under ASan and
 * TSan (which replace malloc). */
#ifndef HEAP_UTIL_H
#define HEAP_UTIL_H

#include <malloc.h>
#include <stddef.h>

#include "check.h"

#if defined(__SANITIZE_ADDRESS__) || CHECK_TSAN
#define HEAP_SANITIZER_STATS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_SANITIZER_STATS 1
#endif
#endif
#ifdef HEAP_SANITIZER_STATS
/* From the sanitizer runtime (its header is not installed everywhere). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

static inline size_t heap_in_use(void)
{
#ifdef HEAP_SANITIZER_STATS
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 m = mallinfo2();

    return m.uordblks + m.hblkhd;
#endif
}

#endif /* HEAP_UTIL_H */
