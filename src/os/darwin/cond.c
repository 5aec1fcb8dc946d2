/*
 * Monotonic condition variables on macOS, which has no
 * pthread_condattr_setclock(): the wait is relative, for the time left
 * until the deadline (pthread_cond_timedwait_relative_np). Built on Linux
 * by tests/test_os_cond.c against a double of that call.
 */
#include "os/cond.h"

#include <errno.h>
#include <stdint.h>

int lthread__os_cond_init(pthread_cond_t *c)
{
    return pthread_cond_init(c, NULL);
}

int lthread__os_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                                const struct timespec *deadline)
{
    struct timespec now, left;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ns = ((int64_t)deadline->tv_sec - now.tv_sec) * 1000000000 +
         (deadline->tv_nsec - now.tv_nsec);
    if (ns <= 0)
        return ETIMEDOUT;
    left.tv_sec = (time_t)(ns / 1000000000);
    left.tv_nsec = (long)(ns % 1000000000);
    return pthread_cond_timedwait_relative_np(c, m, &left);
}
