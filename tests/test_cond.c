/* Condition variables. */
#include <lthread.h>

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "check.h"

static lthread_cond_t *cond;
static int woken[8], nwoken;
static int done;

static void test_create_destroy(void)
{
    lthread_cond_t *c = NULL;

    CHECK_EQ(lthread_cond_create(&c), 0);
    CHECK(c != NULL);
    CHECK_EQ(lthread_cond_destroy(c), 0);
    /* Again: nothing of the first one lingers. */
    CHECK_EQ(lthread_cond_create(&c), 0);
    CHECK_EQ(lthread_cond_destroy(c), 0);

    errno = 0;
    CHECK_EQ(lthread_cond_create(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_cond_destroy(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_cond_signal(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_cond_broadcast(NULL), -1);
    CHECK_EQ(errno, EINVAL);

    /* Waiting outside an lthread. */
    CHECK_EQ(lthread_cond_create(&c), 0);
    errno = 0;
    CHECK_EQ(lthread_cond_wait(c, 0), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_cond_wait(c, 10), -1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_cond_destroy(c), 0);
}

/*
 * Waiters begin to wait in the order of their argument k, whatever the
 * order they were created in: each first yields k times, and the ready
 * lthreads run round robin, so waiter k waits in round k.
 */
static int nwaiting;

static void waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    for (intptr_t i = 0; i < (intptr_t)arg; i++)
        lthread_sleep(0);
    nwaiting++;
    CHECK_EQ(lthread_cond_wait(cond, 0), 0);
    woken[nwoken++] = (int)(intptr_t)arg;
}

static void timed_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    for (intptr_t i = 0; i < (intptr_t)arg; i++)
        lthread_sleep(0);
    nwaiting++;
    CHECK_EQ(lthread_cond_wait(cond, 100000), 0);
    woken[nwoken++] = (int)(intptr_t)arg;
}

static void until_waiting(int n)
{
    while (nwaiting < n)
        lthread_sleep(1);
}

static void signaller(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    until_waiting(5);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(lthread_cond_signal(cond), 0);
        lthread_sleep(3);
        CHECK_EQ(nwoken, i + 1); /* exactly one per signal */
    }
    done++;
}

static void test_signal_fifo(void)
{
    lthread_t *lt;

    nwoken = done = nwaiting = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    /* Created in another order than they begin to wait; mixed timeouts. */
    CHECK_EQ(lthread_create(&lt, waiter, (void *)4), 0);
    CHECK_EQ(lthread_create(&lt, timed_waiter, (void *)1), 0);
    CHECK_EQ(lthread_create(&lt, waiter, (void *)3), 0);
    CHECK_EQ(lthread_create(&lt, waiter, (void *)0), 0);
    CHECK_EQ(lthread_create(&lt, timed_waiter, (void *)2), 0);
    CHECK_EQ(lthread_create(&lt, signaller, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);
    CHECK_EQ(nwoken, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(woken[i], i);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

static void broadcaster(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    until_waiting(5);
    CHECK_EQ(lthread_cond_broadcast(cond), 0);
    CHECK_EQ(lthread_cond_broadcast(cond), 0); /* nobody left: no-op */
    lthread_sleep(3);
    CHECK_EQ(nwoken, 5);
    done++;
}

static void test_broadcast(void)
{
    lthread_t *lt;

    nwoken = done = nwaiting = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_create(&lt, waiter, (void *)3), 0);
    CHECK_EQ(lthread_create(&lt, timed_waiter, (void *)0), 0);
    CHECK_EQ(lthread_create(&lt, waiter, (void *)4), 0);
    CHECK_EQ(lthread_create(&lt, waiter, (void *)1), 0);
    CHECK_EQ(lthread_create(&lt, timed_waiter, (void *)2), 0);
    CHECK_EQ(lthread_create(&lt, broadcaster, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);
    CHECK_EQ(nwoken, 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(woken[i], i);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

/* Timeouts; a signal is not remembered; a timed-out waiter leaves the
 * queue, so that the next signal goes to a real waiter. */
static void timeout_cases(lthread_t *lt, void *arg)
{
    long slow = check_slow();
    lthread_t *w;
    double t0, el;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_cond_signal(cond), 0);    /* no waiters: no-op */
    CHECK_EQ(lthread_cond_broadcast(cond), 0); /* idem */
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_cond_wait(cond, 30), -2);
    el = check_now_ms() - t0;
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(el >= 29);
    CHECK_TIME(el < 30 + 100 * slow);

    errno = 0;
    CHECK_EQ(lthread_cond_wait(cond, 1), LTHREAD_TIMEOUT);
    CHECK_EQ(errno, ETIMEDOUT);

    nwoken = nwaiting = 0;
    CHECK_EQ(lthread_create(&w, waiter, (void *)10), 0);
    until_waiting(1); /* w waits now, behind no one */
    CHECK_EQ(lthread_cond_signal(cond), 0);
    lthread_sleep(2);
    CHECK_EQ(nwoken, 1);
    CHECK_EQ(lthread_join(w, NULL, 0), 0);

    /* Signalled before the timeout: 0, and no late -2 or wakeup after. */
    nwoken = 0;
    CHECK_EQ(lthread_create(&w, timed_waiter, (void *)0), 0);
    lthread_sleep(2);
    CHECK_EQ(lthread_cond_signal(cond), 0);
    CHECK_EQ(lthread_join(w, NULL, 0), 0);
    CHECK_EQ(nwoken, 1);
    done++;
}

/* Destroy with waiters: EBUSY; the waiter still gets its signal. */
static void destroy_busy(lthread_t *lt, void *arg)
{
    lthread_t *w;

    (void)lt;
    (void)arg;
    nwoken = 0;
    CHECK_EQ(lthread_create(&w, waiter, (void *)0), 0);
    lthread_sleep(2);
    errno = 0;
    CHECK_EQ(lthread_cond_destroy(cond), -1);
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_cond_signal(cond), 0);
    CHECK_EQ(lthread_join(w, NULL, 0), 0);
    CHECK_EQ(nwoken, 1);

    errno = 0;
    CHECK_EQ(lthread_cond_wait(NULL, 0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_cond_wait(NULL, 10), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_cond_signal(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_cond_broadcast(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_cond_destroy(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    done++;
}

static void test_timeouts_and_errors(void)
{
    lthread_t *lt;

    done = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_create(&lt, timeout_cases, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_create(&lt, destroy_busy, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 2);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

/* A cond outlives lthread_run(): the same pthread uses it again in its
 * next run, with a new scheduler. */
static void reuse_lt(lthread_t *lt, void *arg)
{
    lthread_t *w;

    (void)lt;
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_cond_wait(cond, 1), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    nwoken = 0;
    CHECK_EQ(lthread_create(&w, waiter, (void *)0), 0);
    lthread_sleep(2);
    CHECK_EQ(lthread_cond_signal(cond), 0);
    CHECK_EQ(lthread_join(w, NULL, 0), 0);
    CHECK_EQ(nwoken, 1);
    CHECK_EQ(lthread_cond_broadcast(cond), 0);
    done++;
}

static void test_reuse_across_runs(void)
{
    lthread_t *lt;

    done = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    for (int run = 0; run < 3; run++) {
        CHECK_EQ(lthread_create(&lt, reuse_lt, NULL), 0);
        CHECK_EQ(lthread_run(), 0);
    }
    CHECK_EQ(done, 3);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

/*
 * While lthreads of pthread A wait on a cond, it belongs to A's scheduler:
 * pthread B's lthreads cannot wait on it (EPERM). Once nobody waits, B may
 * use it.
 */
static int bound, b_finished, a_released; /* __atomic */

static void a_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_cond_wait(cond, 0), 0);
    done++;
}

static void a_releaser(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    /* a_waiter ran first and waits now. */
    __atomic_store_n(&bound, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&b_finished, __ATOMIC_SEQ_CST))
        lthread_sleep(2);
    CHECK_EQ(lthread_cond_signal(cond), 0);
    done++;
}

static void *a_pthread(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&lt, a_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lt, a_releaser, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    __atomic_store_n(&a_released, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void b_refused(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_cond_wait(cond, 10), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_cond_wait(cond, 0), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_cond_destroy(cond), -1);
    CHECK(errno == EBUSY || errno == EPERM);
    /* Signalling from another scheduler is allowed: delivered on A's
     * (tests/test_xsched.c covers it; here A's waiter just wakes). */
}

static void b_allowed(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_cond_wait(cond, 1), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_EQ(lthread_cond_signal(cond), 0);
    CHECK_EQ(lthread_cond_broadcast(cond), 0);
    done++;
}

static void *b_pthread(void *arg)
{
    lthread_t *lt;

    (void)arg;
    while (!__atomic_load_n(&bound, __ATOMIC_SEQ_CST))
        sched_yield();
    CHECK_EQ(lthread_create(&lt, b_refused, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    __atomic_store_n(&b_finished, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&a_released, __ATOMIC_SEQ_CST))
        sched_yield();
    CHECK_EQ(lthread_create(&lt, b_allowed, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_other_scheduler(void)
{
    pthread_t a, b;

    done = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0); /* created in the main pthread */
    CHECK_EQ(pthread_create(&a, NULL, a_pthread, NULL), 0);
    CHECK_EQ(pthread_create(&b, NULL, b_pthread, NULL), 0);
    CHECK_EQ(pthread_join(b, NULL), 0);
    CHECK_EQ(pthread_join(a, NULL), 0);
    CHECK_EQ(done, 3);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

/* Ping-pong: two lthreads take turns 100k times each. */
enum { PINGS = 100000 };
static int turn, moves[2];

static void pinger(lthread_t *lt, void *arg)
{
    int me = (int)(intptr_t)arg, errors = 0;

    (void)lt;
    for (int i = 0; i < PINGS; i++) {
        while (turn != me)
            if (lthread_cond_wait(cond, 0) != 0 && errors++ > 10)
                return;
        moves[me]++;
        turn = !me;
        errors += lthread_cond_signal(cond) != 0;
    }
    CHECK_EQ(errors, 0);
}

static void test_ping_pong(void)
{
    lthread_t *a, *b;

    turn = 0;
    moves[0] = moves[1] = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_create(&b, pinger, (void *)1), 0);
    CHECK_EQ(lthread_create(&a, pinger, (void *)0), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(moves[0], PINGS);
    CHECK_EQ(moves[1], PINGS);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

int main(void)
{
    test_create_destroy();
    test_signal_fifo();
    test_broadcast();
    test_timeouts_and_errors();
    test_reuse_across_runs();
    test_other_scheduler();
    test_ping_pong();
    return check_summary("test_cond");
}
