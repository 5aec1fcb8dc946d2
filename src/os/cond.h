/*
 * A condition variable whose timed waits end at a CLOCK_MONOTONIC deadline
 * (the compute pool's idle wait): POSIX's pthread_condattr_setclock() in
 * src/os/posix/cond.c, and macOS, which lacks it, in src/os/darwin/cond.c.
 */
#ifndef LTHREAD_OS_COND_H
#define LTHREAD_OS_COND_H

#include <pthread.h>
#include <time.h>

/* Initialises c for lthread__os_cond_wait_until(). Returns 0 or an errno. */
int lthread__os_cond_init(pthread_cond_t *c);

/* pthread_cond_timedwait() with a CLOCK_MONOTONIC deadline: returns 0 when
 * woken (perhaps spuriously) or ETIMEDOUT once the deadline has passed. */
int lthread__os_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                                const struct timespec *deadline);

#endif /* LTHREAD_OS_COND_H */
