/*
 * Every allocation of the library goes through these two calls, so that the
 * test build can make any of them fail and check that nothing leaks.
 */
#ifndef LTHREAD_ALLOC_H
#define LTHREAD_ALLOC_H

#include <stddef.h>

/* malloc(); NULL (with errno ENOMEM) when out of memory or made to fail. */
void *lthread__malloc(size_t size);
/* calloc(1, size), same failure rule. */
void *lthread__calloc(size_t size);
/* realloc(); on failure p is left untouched. */
void *lthread__realloc(void *p, size_t size);
/* size bytes at a multiple of align (a power of two, at least
 * sizeof(void *)), freed by lthread__free(); same failure rule. */
void *lthread__malloc_aligned(size_t align, size_t size);
void lthread__free(void *p);

/*
 * Test hook: the next n allocations succeed, then every one fails until
 * called again; n < 0 turns failing off (the default). Not thread-safe with
 * respect to allocations made meanwhile by other pthreads' schedulers.
 */
void lthread__alloc_fail_after(long n);

#endif /* LTHREAD_ALLOC_H */
