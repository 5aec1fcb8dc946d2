/*
 * Mutexes and channels at their edges, on one scheduler (deterministic:
 * an lthread runs until it parks or yields):
 *
 *  - an unlock hands the mutex to the oldest waiter, and hands it over:
 *    nobody can take it in between;
 *  - closing a full channel wakes its waiting senders with EPIPE;
 *  - a select served on one channel is no longer a waiter of the others:
 *    they can be destroyed, and a sender there finds no receiver;
 *  - a scheduler whose only lthread waits on a channel that a plain
 *    pthread will feed does not declare a deadlock.
 */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

/* ---- the mutex: FIFO hand-over --------------------------------------------
 */

enum { NLOCKERS = 4 };
static lthread_mutex_t *m;
static int lock_order[NLOCKERS], nlocked, nwaiting;

static void locker(lthread_t *lt, void *arg)
{
    (void)lt;
    nwaiting++;
    /* (A timeout: a broken hand-over fails the test rather than hang.) */
    if (lthread_mutex_timedlock(m, 5000 * check_slow()) != 0) {
        CHECK(0);
        return;
    }
    lock_order[nlocked++] = (int)(intptr_t)arg;
    lthread_sleep(0); /* hold it across a switch */
    CHECK_EQ(lthread_mutex_unlock(m), 0);
}

static void holder(lthread_t *lt, void *arg)
{
    lthread_t *w[NLOCKERS];

    (void)lt;
    (void)arg;
    nlocked = nwaiting = 0;
    CHECK_EQ(lthread_mutex_create(&m), 0);
    CHECK_EQ(lthread_mutex_lock(m), 0);
    for (int i = 0; i < NLOCKERS; i++) {
        CHECK_EQ(lthread_create(&w[i], locker, (void *)(intptr_t)i), 0);
        /* It runs up to its lock and parks there before the next. */
        while (nwaiting < i + 1)
            lthread_sleep(0);
    }
    CHECK_EQ(lthread_mutex_unlock(m), 0);
    /* Handed over to the oldest waiter, which has not run yet: the
     * mutex is not free meanwhile. */
    if (lthread_mutex_trylock(m) == 0) {
        CHECK(0);
        CHECK_EQ(lthread_mutex_unlock(m), 0);
    } else {
        CHECK_EQ(errno, EBUSY);
    }
    for (int i = 0; i < NLOCKERS; i++)
        CHECK_EQ(lthread_join(w[i], NULL, 0), 0);
    CHECK_EQ(nlocked, NLOCKERS);
    for (int i = 0; i < NLOCKERS; i++)
        CHECK_EQ(lock_order[i], i);
    CHECK_EQ(lthread_mutex_destroy(m), 0);
}

/* ---- close wakes waiting senders ------------------------------------------
 */

static lthread_chan_t *full;
static int sender_parked;

static void blocked_sender(lthread_t *lt, void *arg)
{
    int v = 2;

    (void)lt;
    (void)arg;
    sender_parked = 1;
    CHECK_EQ(lthread_chan_send(full, &v, 5000 * check_slow()), -1);
    CHECK_EQ(errno, EPIPE);
}

static void closer(lthread_t *lt, void *arg)
{
    lthread_t *s;
    int v = 1, w = 0;

    (void)lt;
    (void)arg;
    sender_parked = 0;
    CHECK_EQ(lthread_chan_create(&full, sizeof(int), 1), 0);
    CHECK_EQ(lthread_chan_send(full, &v, 0), 0); /* full now */
    CHECK_EQ(lthread_create(&s, blocked_sender, NULL), 0);
    while (!sender_parked)
        lthread_sleep(0);
    CHECK_EQ(lthread_chan_close(full), 0);
    CHECK_EQ(lthread_join(s, NULL, 0), 0);
    /* What was buffered before the close is still received. */
    CHECK_EQ(lthread_chan_recv(full, &w, 0), 0);
    CHECK_EQ(w, 1);
    CHECK_EQ(lthread_chan_recv(full, &w, 0), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(lthread_chan_destroy(full), 0);
}

/* ---- a served select leaves its other channels ---------------------------
 */

static lthread_chan_t *c1, *c2;
static int selecting, select_index = -1, select_value;

static void selector(lthread_t *lt, void *arg)
{
    struct lthread_chan_op ops[2];
    int v1 = 0, v2 = 0;

    (void)lt;
    (void)arg;
    ops[0] = (struct lthread_chan_op){c1, LTHREAD_CHAN_RECV, &v1, -1};
    ops[1] = (struct lthread_chan_op){c2, LTHREAD_CHAN_RECV, &v2, -1};
    selecting = 1;
    select_index = lthread_chan_select(ops, 2, 0);
    select_value = select_index == 0 ? v1 : v2;
    if (arg) {
        /* Nobody waits on c2 any more. */
        CHECK_EQ(lthread_chan_destroy(c2), 0);
        c2 = NULL;
    }
}

/* arg: the selector destroys c2 itself once served. */
static void select_server(lthread_t *lt, void *arg)
{
    lthread_t *s;
    int v = 11, w = 22;

    (void)lt;
    selecting = 0;
    select_index = -1;
    CHECK_EQ(lthread_chan_create(&c1, sizeof(int), 0), 0);
    CHECK_EQ(lthread_chan_create(&c2, sizeof(int), 0), 0);
    CHECK_EQ(lthread_create(&s, selector, arg), 0);
    while (!selecting)
        lthread_sleep(0);
    /* The selector waits on both: serve it through c1. */
    CHECK_EQ(lthread_chan_send(c1, &v, 0), 0);
    if (!arg) {
        /* Before it runs again: its c2 waiter was served with it, so
         * nobody receives on c2. */
        CHECK_EQ(lthread_chan_send(c2, &w, 20), -2);
        CHECK_EQ(errno, ETIMEDOUT);
    }
    CHECK_EQ(lthread_join(s, NULL, 0), 0);
    CHECK_EQ(select_index, 0);
    CHECK_EQ(select_value, 11);
    CHECK_EQ(lthread_chan_destroy(c1), 0);
    if (c2)
        CHECK_EQ(lthread_chan_destroy(c2), 0);
}

/* ---- no deadlock while a plain pthread will serve ------------------------ */

static lthread_chan_t *feed;

static void fed(lthread_t *lt, void *arg)
{
    int v = 0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(feed, &v, 0), 0);
    CHECK_EQ(v, 5);
}

static void *feeder(void *arg)
{
    int v = 5;

    (void)arg;
    usleep(50000); /* the lthread waits, its scheduler alone */
    CHECK_EQ(lthread_chan_send(feed, &v, 0), 0);
    return NULL;
}

static void test_fed_from_pthread(void)
{
    pthread_t t;
    lthread_t *lt;

    CHECK_EQ(lthread_chan_create(&feed, sizeof(int), 0), 0);
    CHECK_EQ(lthread_create(&lt, fed, NULL), 0);
    CHECK_EQ(pthread_create(&t, NULL, feeder, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(lthread_chan_destroy(feed), 0);
}

static void run_one(void (*fn)(lthread_t *, void *), void *arg)
{
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, fn, arg), 0);
    CHECK_EQ(lthread_run(), 0);
}

int main(void)
{
    run_one(holder, NULL);
    run_one(closer, NULL);
    run_one(select_server, NULL);
    run_one(select_server, (void *)1);
    test_fed_from_pthread();
    return check_summary("test_sync_edges");
}
