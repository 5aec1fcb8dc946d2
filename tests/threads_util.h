/* Counting the process's threads, for the compute pool tests. */
#ifndef LTHREAD_TEST_THREADS_UTIL_H
#define LTHREAD_TEST_THREADS_UTIL_H

#include <pthread.h>
#include <unistd.h>

#include "platform.h"

/* Threads of the process now, or -1 where the system cannot tell. */
static inline int nthreads(void)
{
    return platform_threads();
}

static inline void *threads_util_noop(void *arg)
{
    return arg;
}

/* Threads of the process before any compute worker: main, plus whatever a
 * runtime starts with the first pthread_create (TSan's background thread),
 * which a thrown-away pthread triggers first. */
static inline int base_threads(void)
{
    pthread_t th;

    if (pthread_create(&th, NULL, threads_util_noop, NULL) == 0)
        pthread_join(th, NULL);
    usleep(10000);
    return nthreads();
}

/* The calling thread's id. */
static inline long gettid_(void)
{
    return platform_tid();
}

#endif
