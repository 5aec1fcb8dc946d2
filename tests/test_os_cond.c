/*
 * The compute pool's condition variable alone (src/os/cond.h): timed waits
 * end at a CLOCK_MONOTONIC deadline, not before and not much after, and a
 * signal ends them early. Built with this system's src/os/<os>/cond.c and,
 * on Linux, as test_os_cond_darwin with macOS's (-DCOND_DOUBLE_DARWIN),
 * whose pthread_cond_timedwait_relative_np() is the double below: it also
 * checks that the relative time asked for is the time left.
 */
#include "os/cond.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

static pthread_cond_t cond;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

#ifdef COND_DOUBLE_DARWIN
static int relative_calls;
static int64_t relative_ns; /* the last relative wait asked for */

int pthread_cond_timedwait_relative_np(pthread_cond_t *c, pthread_mutex_t *m,
                                       const struct timespec *rel)
{
    struct timespec abs;

    relative_calls++;
    relative_ns = (int64_t)rel->tv_sec * 1000000000 + rel->tv_nsec;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += rel->tv_sec;
    abs.tv_nsec += rel->tv_nsec;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000;
    }
    return pthread_cond_timedwait(c, m, &abs);
}
#endif

static struct timespec after_ms(int64_t ms)
{
    struct timespec t;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &t);
    ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + ms * 1000000;
    t.tv_sec = (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}

/* Waits until woken for real or timed out; returns the result. */
static int wait_until(const struct timespec *deadline, int *woken)
{
    int rc;

    do
        rc = lthread__os_cond_wait_until(&cond, &lock, deadline);
    while (rc == 0 && !*woken);
    return rc;
}

static int woken;

static void *signaller(void *arg)
{
    (void)arg;
    usleep(30000);
    pthread_mutex_lock(&lock);
    woken = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    struct timespec deadline;
    pthread_t th;
    double t0, took;
    int never = 0;

    CHECK_EQ(lthread__os_cond_init(&cond), 0);
    pthread_mutex_lock(&lock);

    /* A deadline 60 ms away: the wait ends at it. */
    deadline = after_ms(60);
    t0 = check_now_ms();
    CHECK_EQ(wait_until(&deadline, &never), ETIMEDOUT);
    took = check_now_ms() - t0;
    CHECK(took >= 59.0);
    CHECK(took < 60.0 + 1000.0 * check_slow());
#ifdef COND_DOUBLE_DARWIN
    CHECK(relative_calls >= 1);
    CHECK(relative_ns > 0 && relative_ns <= 60 * 1000000);
#endif

    /* A deadline already past: at once. */
    deadline = after_ms(-5);
#ifdef COND_DOUBLE_DARWIN
    relative_calls = 0;
#endif
    t0 = check_now_ms();
    CHECK_EQ(wait_until(&deadline, &never), ETIMEDOUT);
    CHECK(check_now_ms() - t0 < 50.0 * check_slow());
#ifdef COND_DOUBLE_DARWIN
    CHECK_EQ(relative_calls, 0);
#endif

    /* A signal 30 ms into a 10 s wait ends it. */
    deadline = after_ms(10000);
    CHECK_EQ(pthread_create(&th, NULL, signaller, NULL), 0);
    t0 = check_now_ms();
    CHECK_EQ(wait_until(&deadline, &woken), 0);
    took = check_now_ms() - t0;
    CHECK(woken);
    CHECK(took < 5000.0);
    pthread_mutex_unlock(&lock);
    pthread_join(th, NULL);
    pthread_cond_destroy(&cond);
#ifdef COND_DOUBLE_DARWIN
    return check_summary("test_os_cond (macOS, relative waits)");
#else
    return check_summary("test_os_cond");
#endif
}
