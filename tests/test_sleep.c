/* lthread_sleep and lthread_wakeup. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

static int done;

/* Timings: at least the asked time (minus 1 ms of clock granularity); at
 * most 100 ms per slow-factor more, a timing check (check.h). */
static void timings(lthread_t *lt, void *arg)
{
    static const int ms[] = {10, 50, 100, 1};
    long slow = check_slow();

    (void)lt;
    (void)arg;
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        double t0 = check_now_ms(), el;

        CHECK_EQ(lthread_sleep((uint64_t)ms[i]), 0);
        el = check_now_ms() - t0;
        CHECK(el >= ms[i] - 1);
        CHECK_TIME(el < ms[i] + 100 * slow);
        if (el < ms[i] - 1 || el >= ms[i] + 100 * slow)
            fprintf(stderr, "    sleep(%d) took %.2f ms\n", ms[i], el);
    }
    done++;
}

/* Sleepers started in one order wake in the order of their deadlines. A
 * deadline is the library's clock read in lthread_sleep() plus the sleep:
 * a stall of the test (10 ms apart is not far under a loaded sanitizer
 * run) moves it, so each is bounded by what the test can see: from below
 * by the clock just before the call, from above by the next event on this
 * pthread after it (the next sleeper's start, or for the last one the
 * first wake), plus the sleep. A pair that woke in an order its bounds
 * forbid (the first's lowest deadline after the second's highest, 1 ms of
 * clock granularity allowed) fails. On an unstalled run the bounds are
 * microseconds apart: a timer that woke in the order of the calls, or of
 * the sleeps alone, fails it. */
static const int order_ms[] = {50, 10, 30, 20, 40};
static int order[5], norder, last_started;
static double lo[5], hi[5];

static void ordered_sleeper(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;
    double t = check_now_ms();

    (void)lt;
    if (last_started >= 0)
        hi[last_started] = t + order_ms[last_started];
    lo[i] = t + order_ms[i];
    last_started = i;
    CHECK_EQ(lthread_sleep((uint64_t)order_ms[i]), 0);
    if (!norder) /* the first wake: after the last sleeper's call */
        hi[last_started] = check_now_ms() + order_ms[last_started];
    order[norder++] = i;
}

static void test_order(void)
{
    lthread_t *lt;
    int seen = 0;

    norder = 0;
    last_started = -1;
    for (int i = 0; i < 5; i++)
        CHECK_EQ(lthread_create(&lt, ordered_sleeper, (void *)(intptr_t)i), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(norder, 5);
    for (int i = 0; i < 5; i++)
        seen |= 1 << order[i];
    CHECK_EQ(seen, 0x1f);
    for (int i = 1; i < 5; i++) {
        int a = order[i - 1], b = order[i];

        CHECK(lo[a] <= hi[b] + 1.0);
        if (lo[a] > hi[b] + 1.0)
            fprintf(stderr,
                    "    woke %d (deadline >= %.1f) before %d (<= %.1f)\n", a,
                    lo[a], b, hi[b]);
    }
}

/* sleep(0) is round robin: nobody runs twice before the others ran once. */
enum { RR_N = 7, RR_ROUNDS = 200 };
static int rr_log[RR_N * RR_ROUNDS], rr_len;

static void rr(lthread_t *lt, void *arg)
{
    (void)lt;
    for (int i = 0; i < RR_ROUNDS; i++) {
        rr_log[rr_len++] = (int)(intptr_t)arg;
        CHECK_EQ(lthread_sleep(0), 0);
    }
}

static void test_round_robin(void)
{
    lthread_t *lt;
    int bad = 0, seen[RR_N] = {0};

    rr_len = 0;
    for (intptr_t i = 0; i < RR_N; i++)
        CHECK_EQ(lthread_create(&lt, rr, (void *)i), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(rr_len, RR_N * RR_ROUNDS);
    for (int i = 0; i < RR_N; i++)
        seen[rr_log[i]]++;
    for (int i = 0; i < RR_N; i++)
        CHECK_EQ(seen[i], 1);
    for (int i = RR_N; i < rr_len; i++)
        bad += rr_log[i] != rr_log[i - RR_N];
    CHECK_EQ(bad, 0);
}

/* lthread_wakeup() ends a sleep early. */
static lthread_t *long_sleeper;
static int woke;

static void sleep_long(lthread_t *lt, void *arg)
{
    double t0 = check_now_ms();

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_sleep(5000), 0);
    /* A sleep never ends early by itself: the wakeup (at 10 ms) ended it. */
    CHECK(check_now_ms() - t0 < 5000 - 1);
    CHECK_TIME(check_now_ms() - t0 < 10 + 100 * check_slow());
    woke = 1;
    /* A later sleep is a normal one again. */
    t0 = check_now_ms();
    CHECK_EQ(lthread_sleep(20), 0);
    CHECK(check_now_ms() - t0 >= 19);
}

static void waker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(10);
    CHECK_EQ(woke, 0);
    CHECK_EQ(lthread_wakeup(long_sleeper), 0);
    lthread_sleep(5);
    CHECK_EQ(woke, 1);
    done++;
}

static void test_wakeup(void)
{
    lthread_t *lt;

    done = woke = 0;
    CHECK_EQ(lthread_create(&long_sleeper, sleep_long, NULL), 0);
    CHECK_EQ(lthread_create(&lt, waker, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);
}

/* lthread_wakeup() on lthreads that do not sleep leaves them alone. */
static lthread_cond_t *cond;
static int cond_returned;

static void cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    CHECK_EQ(lthread_cond_wait(cond, (uint64_t)(intptr_t)arg), 0);
    cond_returned++;
}

static lthread_t *joined;

static void join_waiter(lthread_t *lt, void *arg)
{
    void *v = NULL;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_join(joined, &v, 0), 0);
    CHECK(v == (void *)9);
    cond_returned++;
}

static void exit9(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_cond_wait(cond, 0);
    lthread_exit((void *)9);
}

static void noop(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
}

static void wake_non_sleepers(lthread_t *lt, void *arg)
{
    lthread_t *w1, *w2, *j, *fresh, *exited;

    (void)arg;
    CHECK_EQ(lthread_wakeup(lt), 0); /* running: itself */
    CHECK_EQ(lthread_create(&w1, cond_waiter, (void *)0), 0);
    CHECK_EQ(lthread_create(&w2, cond_waiter, (void *)5000), 0);
    CHECK_EQ(lthread_create(&joined, exit9, NULL), 0);
    CHECK_EQ(lthread_create(&j, join_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&exited, noop, NULL), 0);
    lthread_sleep(5);
    CHECK_EQ(lthread_create(&fresh, noop, NULL), 0);
    CHECK_EQ(lthread_wakeup(fresh), 0); /* ready, never ran */
    CHECK_EQ(lthread_wakeup(w1), 0);
    CHECK_EQ(lthread_wakeup(w2), 0);
    CHECK_EQ(lthread_wakeup(j), 0);
    CHECK_EQ(lthread_wakeup(joined), 0);
    CHECK_EQ(lthread_wakeup(exited), 0); /* exited, not joined */
    lthread_sleep(10);
    CHECK_EQ(cond_returned, 0);
    CHECK_EQ(lthread_join(exited, NULL, 0), 0);
    CHECK_EQ(lthread_cond_broadcast(cond), 0);
    lthread_sleep(5);
    CHECK_EQ(cond_returned, 3);
    CHECK_EQ(lthread_join(w1, NULL, 0), 0);
    CHECK_EQ(lthread_join(w2, NULL, 0), 0);
    CHECK_EQ(lthread_join(j, NULL, 0), 0);
    CHECK_EQ(lthread_join(fresh, NULL, 0), 0);

    errno = 0;
    CHECK_EQ(lthread_wakeup(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    done++;
}

static void test_wakeup_harmless(void)
{
    lthread_t *lt;

    done = cond_returned = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_create(&lt, wake_non_sleepers, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

/* A scheduler with nothing to do but wait for a timer does not spin. */
static double cpu_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void idle_sleeper(lthread_t *lt, void *arg)
{
    double c0 = cpu_ms(), t0 = check_now_ms(), used;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_sleep(300), 0);
    used = cpu_ms() - c0;
    CHECK(check_now_ms() - t0 >= 299);
    CHECK(used < 50 * check_slow());
    if (used >= 50 * check_slow())
        fprintf(stderr, "    300 ms of sleep used %.1f ms of CPU\n", used);
    done++;
}

/* lthread_sleep(0) goes to the back of the ready queue: every lthread
 * ready before it runs first, whether the next one has run before (the
 * one-step hand-over), is new, or shares its region (LTHREAD_REGIONS=1:
 * through the borrowed stack or the loop). */
static char yseq[32];
static int nyseq;

static void yielder(lthread_t *lt, void *arg)
{
    char me = (char)(intptr_t)arg;
    int errno_in = 1000 + me;

    for (int i = 0; i < 4; i++) {
        if (me == 'a' && i == 0)
            CHECK_EQ(lthread_create(&lt, yielder, (void *)(intptr_t)'d'), 0);
        yseq[nyseq++] = me;
        errno = errno_in;
        CHECK_EQ(lthread_sleep(0), 0);
        CHECK_EQ(errno, errno_in); /* each keeps its own */
    }
}

static void test_yield_order(const char *regions)
{
    lthread_t *lt;

    if (regions)
        setenv("LTHREAD_REGIONS", regions, 1);
    nyseq = 0;
    memset(yseq, 0, sizeof(yseq));
    for (char c = 'a'; c <= 'c'; c++)
        CHECK_EQ(lthread_create(&lt, yielder, (void *)(intptr_t)c), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(nyseq, 16);
    CHECK(!strcmp(yseq, "abcdabcdabcdabcd"));
    if (regions)
        unsetenv("LTHREAD_REGIONS");
}

/* Lthreads that yield to each other forever still let the loop look at
 * the timers: each hand-over draws on the round's budget. */
static volatile int spin_woke;
static long spin_bad;

static void spinner(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    while (!spin_woke)
        spin_bad += lthread_sleep(0) != 0;
}

static void spin_stopper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_sleep(5), 0);
    spin_woke = 1;
}

static void test_yield_budget(void)
{
    lthread_t *lt;

    spin_woke = 0;
    CHECK_EQ(lthread_create(&lt, spin_stopper, NULL), 0);
    CHECK_EQ(lthread_create(&lt, spinner, NULL), 0);
    CHECK_EQ(lthread_create(&lt, spinner, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(spin_woke, 1);
    CHECK_EQ(spin_bad, 0);
}

/* lthread_sleep(0) returns 0 whichever way it went: here alone (nobody
 * to yield to: no switch), then with one other lthread (the direct
 * hand-over, which returns the switch's own 0) and past the round's
 * budget (through the scheduler's loop). */
static void lone_yielder(lthread_t *lt, void *arg)
{
    lthread_t *other;

    (void)lt;
    (void)arg;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lthread_sleep(0), 0);
    CHECK_EQ(lthread_create(&other, rr, (void *)0), 0);
    for (int i = 0; i < RR_ROUNDS; i++)
        CHECK_EQ(lthread_sleep(0), 0);
    CHECK_EQ(lthread_join(other, NULL, 0), 0);
    done++;
}

int main(void)
{
    lthread_t *lt;

    done = 0;
    rr_len = 0;
    CHECK_EQ(lthread_create(&lt, lone_yielder, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);

    test_yield_order(NULL);
    test_yield_budget();
    test_yield_order("1");

    errno = 0;
    CHECK_EQ(lthread_sleep(10), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_sleep(0), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_wakeup(NULL), -1);
    CHECK_EQ(errno, EINVAL);

    done = 0;
    CHECK_EQ(lthread_create(&lt, timings, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);

    test_order();
    test_round_robin();
    test_wakeup();
    test_wakeup_harmless();

    done = 0;
    CHECK_EQ(lthread_create(&lt, idle_sleeper, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);

    /* Still EPERM with a scheduler that exists but does not run. */
    CHECK_EQ(lthread_create(&lt, noop, NULL), 0);
    errno = 0;
    CHECK_EQ(lthread_sleep(1), -1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_run(), 0);
    return check_summary("test_sleep");
}
