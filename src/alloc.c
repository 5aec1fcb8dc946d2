/* Allocation wrappers with a failure-injection hook for the tests. */
#include "alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Allocations left before failing; negative: never fail. Atomic because
 * compute pthreads and other schedulers allocate concurrently. */
static _Atomic long allocs_left = -1;

static int alloc_should_fail(void)
{
    long n = atomic_load_explicit(&allocs_left, memory_order_relaxed);

    if (n < 0)
        return 0;
    while (n > 0) {
        if (atomic_compare_exchange_weak(&allocs_left, &n, n - 1))
            return 0;
        if (n < 0)
            return 0;
    }
    errno = ENOMEM;
    return 1;
}

void *lthread__malloc(size_t size)
{
    return alloc_should_fail() ? NULL : malloc(size);
}

void *lthread__calloc(size_t size)
{
    return alloc_should_fail() ? NULL : calloc(1, size);
}

void *lthread__realloc(void *p, size_t size)
{
    return alloc_should_fail() ? NULL : realloc(p, size);
}

void *lthread__malloc_aligned(size_t align, size_t size)
{
    void *p;

    if (alloc_should_fail())
        return NULL;
    if (posix_memalign(&p, align, size)) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

void lthread__free(void *p)
{
    free(p);
}

void lthread__alloc_fail_after(long n)
{
    atomic_store(&allocs_left, n < 0 ? -1 : n);
}
