/* What the mutex, channel and multicore tests share: schedulers on their
 * own pthreads, waiting for counters that other pthreads move, private
 * stacks for lthreads that block in compute sections. Public API only. */
#ifndef LTHREAD_TEST_SYNC_UTIL_H
#define LTHREAD_TEST_SYNC_UTIL_H

#include <lthread.h>

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

/* errno and the result of each call made inside a compute section are
 * recorded there and checked after lthread_compute_end(): the compiler may
 * keep &errno from before the section (see tests/test_compute.c). */
static int *(*volatile sync_errno_fn)(void) = __errno_location;
#define ERRNO (*sync_errno_fn())

static inline int get(int *v)
{
    return __atomic_load_n(v, __ATOMIC_SEQ_CST);
}

static inline void set(int *v, int x)
{
    __atomic_store_n(v, x, __ATOMIC_SEQ_CST);
}

static inline int add(int *v, int x)
{
    return __atomic_add_fetch(v, x, __ATOMIC_SEQ_CST);
}

/* Waits (from a plain pthread) until *v >= n, 30 s x slow at most. */
static inline void wait_at_least(int *v, int n)
{
    double end = check_now_ms() + 30000.0 * check_slow();

    while (get(v) < n && check_now_ms() < end)
        usleep(200);
    CHECK(get(v) >= n);
}

/* The same from an lthread: sleeps 1 ms at a time. */
static inline void lt_wait_at_least(int *v, int n)
{
    double end = check_now_ms() + 30000.0 * check_slow();

    while (get(v) < n && check_now_ms() < end)
        lthread_sleep(1);
    CHECK(get(v) >= n);
}

/* A pthread that runs one scheduler, with lthread fn(arg) to start. */
struct sync_start {
    lthread_func fn;
    void *arg;
};

static inline void *sync_sched_main(void *p)
{
    struct sync_start s = *(struct sync_start *)p;
    lthread_t *lt;

    free(p);
    CHECK_EQ(lthread_create(&lt, s.fn, s.arg), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static inline pthread_t start_sched(lthread_func fn, void *arg)
{
    struct sync_start *s = malloc(sizeof(*s));
    pthread_t t;

    s->fn = fn;
    s->arg = arg;
    CHECK_EQ(pthread_create(&t, NULL, sync_sched_main, s), 0);
    return t;
}

/*
 * An lthread that waits on a mutex or channel inside a compute section
 * keeps its stack region all the while: a region-mate cannot run
 * meanwhile, and if the mate is the one that would unlock (or send), neither
 * ever goes on. Such lthreads get a private stack (no mates).
 */
static inline int create_private(lthread_t **lt, lthread_func fn, void *arg)
{
    lthread_attr_t attr;

    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
    return lthread_create_ex(lt, fn, arg, &attr);
}

#endif
