/* Monotonic condition variables the POSIX way (Linux, FreeBSD). */
#include "os/cond.h"

int lthread__os_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);

    if (err)
        return err;
    err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!err)
        err = pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
    return err;
}

int lthread__os_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                                const struct timespec *deadline)
{
    return pthread_cond_timedwait(c, m, deadline);
}
