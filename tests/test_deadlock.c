/* lthread_run() detects lthreads that can never be woken: -1/EDEADLK. */
#include <lthread.h>

#include <stdint.h>
#include <string.h>

#include "check.h"
#include "heap_util.h"

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

/* Several conds with waiters at once: the scheduler's list of them
 * (kept for introspection and for this teardown) loses conds from its
 * middle, its head and its tail, is walked after each, and is emptied by
 * the teardown of the deadlock that follows. */
static lthread_cond_t *conds[4];
static int timeouts;

static void nth_waiter(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;

    (void)lt;
    started++;
    if (lthread_cond_wait(conds[i], i == 1 ? 1000 : 0) == -2)
        timeouts++;
    reached_end++;
}

/* Counts the cond waiters lthread_walk() lists. */
static int count_cond(const struct lthread_info *i, void *arg)
{
    int *n = arg;

    if (i->wait && !strcmp(i->wait, "cond"))
        (*n)++;
    return 0;
}

static int cond_waiters(void)
{
    int n = 0;

    CHECK_EQ(lthread_walk(count_cond, &n), 0);
    return n;
}

static void list_walker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(1);
    /* Listed newest first: conds 3, 2, 1, 0. (Cond 1's timeout is long
     * enough for a loaded machine's stalls, half a second: at 20 ms, TSan
     * builds sometimes fired it with the sleep's timer, the walker
     * first.) */
    CHECK_EQ(cond_waiters(), 4);
    lthread_sleep(1100); /* cond 1's waiter times out: the middle */
    CHECK_EQ(timeouts, 1);
    CHECK_EQ(cond_waiters(), 3);
    CHECK_EQ(lthread_cond_signal(conds[3]), 0); /* the head */
    CHECK_EQ(lthread_cond_signal(conds[0]), 0); /* the tail */
    lthread_sleep(1);
    CHECK_EQ(reached_end, 3);
    CHECK_EQ(cond_waiters(), 1);
    /* Cond 1 has no waiter any more: it is free, and can be destroyed
     * and made again while its old neighbours are listed. */
    CHECK_EQ(lthread_cond_destroy(conds[1]), 0);
    CHECK_EQ(lthread_cond_create(&conds[1]), 0);
    /* Two join the one left (cond 2), on two conds: then a deadlock. */
    CHECK_EQ(lthread_create(&lt, nth_waiter, (void *)(intptr_t)2), 0);
    CHECK_EQ(lthread_create(&lt, nth_waiter, (void *)(intptr_t)3), 0);
}

static void list_walker_after(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(cond_waiters(), 0);
}

/*
 * Chains of joiners: each joins the one before it, the first waits on a
 * cond. A joiner is on no list of the scheduler's (its joinee names it):
 * lthread_walk() must still list every one once, and a deadlock's
 * teardown must still free them all.
 */
enum { CHAIN = 10, CHAINS = 200 };
static int chain_walked[3]; /* join, cond, anything else */

static void chain_joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    started++;
    lthread_join(arg, NULL, 0);
    reached_end++;
}

static int count_chain(const struct lthread_info *i, void *arg)
{
    (void)arg;
    if (!strcmp(i->wait, "join"))
        chain_walked[0]++;
    else if (!strcmp(i->wait, "cond"))
        chain_walked[1]++;
    else
        chain_walked[2]++;
    return 0;
}

static void chain_walker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(1); /* every chain is waiting by now */
    memset(chain_walked, 0, sizeof(chain_walked));
    CHECK_EQ(lthread_walk(count_chain, NULL), 0);
}

/* `chains` chains of CHAIN (the walker too when `walk`); a deadlock. */
static void chains_deadlock(int chains, int walk)
{
    lthread_t *lt;

    started = reached_end = 0;
    for (int c = 0; c < chains; c++) {
        CHECK_EQ(lthread_create(&lt, cond_waiter, NULL), 0);
        for (int k = 1; k < CHAIN; k++)
            CHECK_EQ(lthread_create(&lt, chain_joiner, lt), 0);
    }
    if (walk)
        CHECK_EQ(lthread_create(&lt, chain_walker, NULL), 0);
    errno = 0;
    CHECK_EQ(lthread_run(), -1);
    CHECK_EQ(errno, EDEADLK);
    CHECK_EQ(started, chains * CHAIN);
    CHECK_EQ(reached_end, 0);
}

static void joiner_chains(void)
{
    size_t heap0, heap1;

    chains_deadlock(2, 1);
    CHECK_EQ(chain_walked[0], 2 * (CHAIN - 1));
    CHECK_EQ(chain_walked[1], 2);
    CHECK_EQ(chain_walked[2], 1); /* the walker */
    heap0 = heap_in_use();
    chains_deadlock(CHAINS, 0);
    heap1 = heap_in_use();
    /* A joiner left behind is a 120-byte control block (and its image):
     * far above a few bytes per lthread. */
    CHECK((long)heap1 - (long)heap0 < CHAINS * CHAIN * 8);
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

    /* Several conds with waiters (list_walker). */
    started = reached_end = timeouts = 0;
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(lthread_cond_create(&conds[i]), 0);
        CHECK_EQ(lthread_create(&lt, nth_waiter, (void *)(intptr_t)i), 0);
    }
    CHECK_EQ(lthread_create(&lt, list_walker, NULL), 0);
    errno = 0;
    CHECK_EQ(lthread_run(), -1);
    CHECK_EQ(errno, EDEADLK);
    CHECK_EQ(started, 6);
    CHECK_EQ(reached_end, 3);
    /* The freed waiters left every cond free. */
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_cond_destroy(conds[i]), 0);
    /* And the next run's list starts empty. */
    CHECK_EQ(lthread_create(&lt, list_walker_after, NULL), 0);
    CHECK_EQ(lthread_run(), 0);

    joiner_chains();

    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_run(), 0);
    return check_summary("test_deadlock");
}
