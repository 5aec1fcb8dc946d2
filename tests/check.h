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

/* Updated atomically: test_multi checks from several pthreads at once. */
static long check_passed, check_failed;

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

/* Prints "<name>: N passed, N failed"; returns the exit code for main(). */
static inline int check_summary(const char *name)
{
    printf("%s: %ld passed, %ld failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}
#endif
