/*
 * Test double of macOS's pthread_cond_timedwait_relative_np(), for
 * tests/test_os_cond.c: force-included into src/os/darwin/cond.c built on
 * Linux, where the test defines it (over pthread_cond_timedwait on the
 * default, CLOCK_REALTIME, condition variable that the file makes).
 */
#ifndef LTHREAD_TEST_DARWIN_COND_H
#define LTHREAD_TEST_DARWIN_COND_H

#include <pthread.h>
#include <time.h>

int pthread_cond_timedwait_relative_np(pthread_cond_t *c, pthread_mutex_t *m,
                                       const struct timespec *rel);

#endif
