/* lthread_run() detects lthreads that can never be woken: -1/EDEADLK. */
#include <lthread.h>

#include <stdint.h>

#include "check.h"

static lthread_cond_t *cond;
static int reached_end, started;

static void cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    started++;
    lthread_cond_wait(cond, 0);
    reached_end++;
}

static lthread_t *waited;

static void join_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    started++;
    lthread_join(waited, NULL, 0);
    reached_end++;
}

static void sleeper_then_broadcast(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(30);
    CHECK_EQ(lthread_cond_broadcast(cond), 0);
}

static void timed_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_cond_wait(cond, 20), -2);
    reached_end++;
}

static void noop(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    reached_end++;
}

int main(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_cond_create(&cond), 0);

    /* Every lthread waits on a cond with no timeout. */
    started = reached_end = 0;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lthread_create(&lt, cond_waiter, NULL), 0);
    errno = 0;
    CHECK_EQ(lthread_run(), -1);
    CHECK_EQ(errno, EDEADLK);
    CHECK_EQ(started, 3);
    CHECK_EQ(reached_end, 0);
    /* The freed waiters left the cond's queue. */
    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_cond_create(&cond), 0);

    /* The scheduler works again afterwards. */
    CHECK_EQ(lthread_create(&lt, noop, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(reached_end, 1);

    /* A chain: one waits in join on a cond waiter; others exited. */
    started = reached_end = 0;
    CHECK_EQ(lthread_create(&waited, cond_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lt, join_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lt, noop, NULL), 0);
    errno = 0;
    CHECK_EQ(lthread_run(), -1);
    CHECK_EQ(errno, EDEADLK);
    CHECK_EQ(started, 2);
    CHECK_EQ(reached_end, 1); /* the noop */
    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_cond_create(&cond), 0);

    /* Not a deadlock: a sleeper will broadcast. */
    started = reached_end = 0;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lthread_create(&lt, cond_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lt, sleeper_then_broadcast, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(reached_end, 3);

    /* Not a deadlock: a waiter with a timeout. */
    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_cond_create(&cond), 0);
    reached_end = 0;
    CHECK_EQ(lthread_create(&lt, timed_waiter, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(reached_end, 1);

    /* A deadlock after the timed waiter gave up. */
    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_cond_create(&cond), 0);
    started = reached_end = 0;
    CHECK_EQ(lthread_create(&lt, timed_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lt, cond_waiter, NULL), 0);
    errno = 0;
    CHECK_EQ(lthread_run(), -1);
    CHECK_EQ(errno, EDEADLK);
    CHECK_EQ(reached_end, 1);

    /* The cond whose waiters were freed serves the next run. */
    reached_end = 0;
    CHECK_EQ(lthread_create(&lt, timed_waiter, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(reached_end, 1);

    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_run(), 0);
    return check_summary("test_deadlock");
}
