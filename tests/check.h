/* House checks: print expression, errno and file:line; count; summarise. */
#ifndef LTHREAD_TEST_CHECK_H
#define LTHREAD_TEST_CHECK_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ThreadSanitizer builds: TSan counts every lthread as a thread (limit
 * ~8000 alive) and maps memory of its own, so a few checks scale down. */
#if defined(__SANITIZE_THREAD__)
#define CHECK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHECK_TSAN 1
#endif
#endif
#ifndef CHECK_TSAN
#define CHECK_TSAN 0
#endif

/* Updated atomically: test_multi checks from several pthreads at once.
 * check_failed_time counts the failed CHECK_TIME checks (below). */
static long check_passed, check_failed, check_failed_time;

/* Counts one check; on failure prints it with errno. Preserves errno, so
 * that CHECK_EQ(errno, X) may follow a CHECK(call() == -1). */
static inline int check_one(int ok, const char *what, const char *file,
                            int line)
{
    int e = errno;
    __atomic_add_fetch(ok ? &check_passed : &check_failed, 1, __ATOMIC_RELAXED);
    if (!ok)
        fprintf(stderr, "%s:%d: CHECK(%s) failed (errno %d: %s)\n", file, line,
                what, e, strerror(e));
    errno = e;
    return ok;
}
#define CHECK(expr) ((void)check_one(!!(expr), #expr, __FILE__, __LINE__))
#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (!check_one(a_ == b_, #a " == " #b, __FILE__, __LINE__)) {          \
            int e_ = errno;                                                    \
            fprintf(stderr, "    %s is %lld, %s is %lld\n", #a, a_, #b, b_);   \
            errno = e_;                                                        \
        }                                                                      \
    } while (0)

/*
 * Time in tests. The suite runs on shared machines (CI, a laptop building
 * in parallel, sanitizers, valgrind, qemu) that stall a process for
 * hundreds of ms now and then. The rule for every check that involves time:
 *
 *  1. Lower bounds are strict (CHECK): a sleep, timeout or wait never ends
 *     early, whatever the load (1 ms is allowed for clock granularity).
 *  2. "X does not hold up Y" is shown by progress, not latency: the test
 *     waits for Y to make progress while X is under way (a ticker ticks N
 *     times while a compute section runs; a quick request is answered
 *     while slow ones wait for it), and only gives up after a deadline
 *     of seconds x check_slow() that a working library never reaches
 *     (CHECK). A stall only delays such a test.
 *  3. An upper bound on a duration (promptness) is a CHECK_TIME: the
 *     expected time plus at least 100 ms x check_slow(), and below what
 *     the broken behaviour would take where one is in mind. When the only
 *     failed checks of a run are CHECK_TIME checks, check_summary() exits
 *     with CHECK_EXIT_TIMING and tests/run.sh runs the test once more,
 *     saying so on stderr: the second run decides.
 *  4. Values, errors, orders and counts of events are never CHECK_TIME,
 *     even where they were measured with a clock. Nor is CPU time (does a
 *     wait spin?): a stall does not add to it.
 *  5. What was measured is printed, so that a log shows how close a bound
 *     came.
 */
#define CHECK_EXIT_TIMING 75

/* A timing check (rule 3): counted apart, so that a run whose only
 * failures are timing checks can be told from a broken one. */
static inline int check_time_one(int ok, const char *what, const char *file,
                                 int line)
{
    int e = errno;
    __atomic_add_fetch(ok ? &check_passed : &check_failed_time, 1,
                       __ATOMIC_RELAXED);
    if (!ok)
        fprintf(stderr, "%s:%d: CHECK_TIME(%s) failed\n", file, line, what);
    errno = e;
    return ok;
}
#define CHECK_TIME(expr)                                                       \
    ((void)check_time_one(!!(expr), #expr, __FILE__, __LINE__))

/* Multiplies time tolerances: LTHREAD_TEST_SLOW=10 under valgrind or qemu. */
static inline long check_slow(void)
{
    const char *s = getenv("LTHREAD_TEST_SLOW");
    long f = s ? atol(s) : 1;
    return f > 0 ? f : 1;
}

/* Monotonic clock in milliseconds, with a fraction. */
static inline double check_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Prints "<name>: N passed, N failed"; returns the exit code for main():
 * 0, 1, or CHECK_EXIT_TIMING when only timing checks failed. */
static inline int check_summary(const char *name)
{
    long failed = check_failed + check_failed_time;

    if (check_failed_time)
        printf("%s: %ld passed, %ld failed (%ld of them timing checks)\n", name,
               check_passed, failed, check_failed_time);
    else
        printf("%s: %ld passed, %ld failed\n", name, check_passed, failed);
    if (check_failed)
        return 1;
    return check_failed_time ? CHECK_EXIT_TIMING : 0;
}
#endif
