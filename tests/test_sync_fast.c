/*
 * The same-scheduler fast path of mutexes and channels (src/sync/sync.h:
 * a waiter that is an lthread of the waker's own scheduler is claimed
 * without a CAS and woken inline) and each of its fall-backs:
 *
 *  - hand-offs between two lthreads of one scheduler, every value size
 *    the copies special-case and some they do not (a cached group holds
 *    up to 64 bytes; 100 bytes takes the general path), both orders (the
 *    sender parks, the receiver parks), capacity 0 and 1, and the mutex;
 *  - FIFO across kinds: a waiter of another scheduler that came first is
 *    served before a local one behind it (the fast path looks only at the
 *    oldest waiter), and the local one after it;
 *  - a plain pthread waiting, and waking, and filling and emptying a ring;
 *  - a waiter passed over: a select served on another channel, still
 *    linked at the head of the queue when a send comes;
 *  - a destroy while the wake is on its way (woken, not yet run): the
 *    mutex handed over goes on to the next waiter; a value, given or
 *    taken, is dropped with its group (LSan sees a leak otherwise);
 *  - a waiter with a timeout served in time: its timer is stopped;
 *  - a receiver served and its channel destroyed by the sender before the
 *    receiver runs: the receiver must not read the channel any more;
 *  - lthread_walk() finds each waiter once, and not the cached groups nor
 *    the waiters served and not yet run (wait.c's registry of groups).
 */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sync_util.h"

/* ---- hand-offs on one scheduler ------------------------------------------ */

enum { ROUNDS = 2000, MAXV = 100 };
static const size_t sizes[] = {1, 2, 3, 4, 8, 16, 24, 64, 100};

struct pp {
    lthread_chan_t *to[2]; /* to[i]: what player i receives */
    size_t esize;
    int first; /* the player that sends first */
};

struct pa {
    struct pp *p;
    int me;
};

static void fill(unsigned char *v, size_t n, long round, int who)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (unsigned char)(round * 31 + (long)i * 7 + who);
}

static void player(lthread_t *lt, void *arg)
{
    struct pp *p = ((struct pa *)arg)->p;
    int me = ((struct pa *)arg)->me;
    unsigned char out[MAXV], in[MAXV], want[MAXV];
    int bad = 0;

    (void)lt;
    for (long r = 0; r < ROUNDS; r++) {
        if (me == p->first) {
            fill(out, p->esize, r, me);
            bad += lthread_chan_send(p->to[1 - me], out, 0) != 0;
            bad += lthread_chan_recv(p->to[me], in, 0) != 0;
            fill(want, p->esize, r, 1 - me);
        } else {
            bad += lthread_chan_recv(p->to[me], in, 0) != 0;
            fill(want, p->esize, r, 1 - me);
            bad += memcmp(in, want, p->esize) != 0;
            fill(out, p->esize, r, me);
            bad += lthread_chan_send(p->to[1 - me], out, 0) != 0;
            continue;
        }
        bad += memcmp(in, want, p->esize) != 0;
    }
    CHECK_EQ(bad, 0);
}

static void test_pingpong(size_t esize, size_t cap, int first)
{
    struct pp p = {.esize = esize, .first = first};
    struct pa a0 = {&p, 0}, a1 = {&p, 1};
    lthread_t *t0, *t1;

    CHECK_EQ(lthread_chan_create(&p.to[0], esize, cap), 0);
    CHECK_EQ(lthread_chan_create(&p.to[1], esize, cap), 0);
    CHECK_EQ(lthread_create(&t0, player, &a0), 0);
    CHECK_EQ(lthread_create(&t1, player, &a1), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_chan_destroy(p.to[0]), 0);
    CHECK_EQ(lthread_chan_destroy(p.to[1]), 0);
}

static lthread_mutex_t *mx;
static int turn, mutex_bad;

static void mutex_player(lthread_t *lt, void *arg)
{
    int me = (int)(intptr_t)arg;

    (void)lt;
    if (me == 0) {
        mutex_bad += lthread_mutex_lock(mx) != 0;
        lthread_sleep(0); /* player 1 waits for it */
    } else {
        mutex_bad += lthread_mutex_lock(mx) != 0 || turn != 1;
    }
    for (int r = 0; r < ROUNDS; r++) {
        turn = 1 - me;
        mutex_bad += lthread_mutex_unlock(mx) != 0;
        mutex_bad += lthread_mutex_lock(mx) != 0;
        mutex_bad += turn != me; /* handed over, then back */
    }
    turn = 1 - me;
    mutex_bad += lthread_mutex_unlock(mx) != 0;
}

static void test_mutex_pingpong(void)
{
    lthread_t *t0, *t1;

    CHECK_EQ(lthread_mutex_create(&mx), 0);
    turn = 0;
    mutex_bad = 0;
    CHECK_EQ(lthread_create(&t0, mutex_player, (void *)0), 0);
    CHECK_EQ(lthread_create(&t1, mutex_player, (void *)1), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(mutex_bad, 0);
    CHECK_EQ(lthread_mutex_destroy(mx), 0);
}

/* ---- FIFO: a waiter of another scheduler first, a local one behind --------
 */

static lthread_mutex_t *fm;
static lthread_chan_t *fc;
static int remote_waiting, remote_done, order_next, order_remote, order_local;
static int remote_value, local_value;

/* Sets *flag once an lthread of this scheduler waits on a mutex or a
 * channel (linked in the object's queue: it is, before it parks). */
static int find_sync_waiter(const struct lthread_info *i, void *arg)
{
    if (strcmp(i->state, "waiting") == 0 && strcmp(i->wait, "sync") == 0)
        *(int *)arg = 1;
    return 0;
}

static void wait_until_sync_waiting(int *flag)
{
    double end = check_now_ms() + 30000.0 * check_slow();
    int found = 0;

    while (!found && check_now_ms() < end) {
        lthread_sleep(1);
        CHECK_EQ(lthread_walk(find_sync_waiter, &found), 0);
    }
    CHECK(found);
    set(flag, 1);
}

static void remote_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    if (arg) { /* the channel */
        CHECK_EQ(lthread_chan_recv(fc, &remote_value, 0), 0);
    } else {
        CHECK_EQ(lthread_mutex_lock(fm), 0);
        order_remote = add(&order_next, 1);
        CHECK_EQ(lthread_mutex_unlock(fm), 0);
    }
}

static void remote_main(lthread_t *lt, void *arg)
{
    lthread_t *w;

    (void)lt;
    CHECK_EQ(lthread_create(&w, remote_waiter, arg), 0);
    wait_until_sync_waiting(&remote_waiting);
    CHECK_EQ(lthread_join(w, NULL, 0), 0);
    set(&remote_done, 1);
}

static void local_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    if (arg) {
        CHECK_EQ(lthread_chan_recv(fc, &local_value, 0), 0);
    } else {
        CHECK_EQ(lthread_mutex_lock(fm), 0);
        order_local = add(&order_next, 1);
        CHECK_EQ(lthread_mutex_unlock(fm), 0);
    }
}

static void fifo_main(lthread_t *lt, void *arg)
{
    lthread_t *l;
    int one = 1, two = 2;

    (void)lt;
    if (!arg)
        CHECK_EQ(lthread_mutex_lock(fm), 0);
    pthread_t t = start_sched(remote_main, arg);
    lt_wait_at_least(&remote_waiting, 1);
    /* The remote waiter is linked: the local one queues behind it. */
    CHECK_EQ(lthread_create(&l, local_waiter, arg), 0);
    lthread_sleep(0);
    if (arg) {
        CHECK_EQ(lthread_chan_send(fc, &one, 0), 0); /* the remote one's */
        CHECK_EQ(lthread_chan_send(fc, &two, 0), 0); /* the local one's */
    } else {
        CHECK_EQ(lthread_mutex_unlock(fm), 0);
    }
    CHECK_EQ(lthread_join(l, NULL, 0), 0);
    lt_wait_at_least(&remote_done, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static void test_fifo(int chan)
{
    lthread_t *lt;

    CHECK_EQ(lthread_mutex_create(&fm), 0);
    CHECK_EQ(lthread_chan_create(&fc, sizeof(int), 0), 0);
    remote_waiting = remote_done = order_next = 0;
    order_remote = order_local = remote_value = local_value = 0;
    CHECK_EQ(lthread_create(&lt, fifo_main, (void *)(intptr_t)chan), 0);
    CHECK_EQ(lthread_run(), 0);
    if (chan) {
        CHECK_EQ(remote_value, 1);
        CHECK_EQ(local_value, 2);
    } else {
        CHECK_EQ(order_remote, 1);
        CHECK_EQ(order_local, 2);
    }
    CHECK_EQ(lthread_mutex_destroy(fm), 0);
    CHECK_EQ(lthread_chan_destroy(fc), 0);
}

/* ---- a plain pthread waits, and wakes ------------------------------------ */

static lthread_chan_t *pc;
static lthread_mutex_t *pm;
static int p_holding, p_value;

static void *plain_side(void *arg)
{
    int v = 0, seven = 7;

    (void)arg;
    /* Waits for a value (the lthread sleeps first: it finds us waiting,
     * or we find it waiting as a sender: either way one value). */
    CHECK_EQ(lthread_chan_recv(pc, &v, 0), 0);
    CHECK_EQ(v, 41);
    /* Waits for the mutex the lthread holds. */
    CHECK_EQ(lthread_mutex_lock(pm), 0);
    set(&p_holding, 1);
    usleep(20000); /* the lthread waits for it meanwhile */
    CHECK_EQ(lthread_mutex_unlock(pm), 0);
    /* Sends to the lthread, which waits on it. */
    CHECK_EQ(lthread_chan_send(pc, &seven, 0), 0);
    return NULL;
}

static void plain_main(lthread_t *lt, void *arg)
{
    pthread_t t;
    int v = 41;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_mutex_lock(pm), 0);
    CHECK_EQ(pthread_create(&t, NULL, plain_side, NULL), 0);
    lthread_sleep(20);
    CHECK_EQ(lthread_chan_send(pc, &v, 0), 0);
    lthread_sleep(20);
    CHECK_EQ(lthread_mutex_unlock(pm), 0); /* to the pthread, if it waits */
    lt_wait_at_least(&p_holding, 1);
    CHECK_EQ(lthread_mutex_lock(pm), 0); /* waits for the pthread */
    CHECK_EQ(lthread_mutex_unlock(pm), 0);
    CHECK_EQ(lthread_chan_recv(pc, &p_value, 0), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static void test_plain_pthread(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_chan_create(&pc, sizeof(int), 0), 0);
    CHECK_EQ(lthread_mutex_create(&pm), 0);
    p_holding = p_value = 0;
    CHECK_EQ(lthread_create(&lt, plain_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(p_value, 7);
    CHECK_EQ(lthread_chan_destroy(pc), 0);
    CHECK_EQ(lthread_mutex_destroy(pm), 0);
}

/* A plain pthread fills a ring and empties it (the general path). */
static void *ring_side(void *arg)
{
    lthread_chan_t *c = arg;
    int v;

    for (v = 1; v <= 2; v++)
        CHECK_EQ(lthread_chan_send(c, &v, 0), 0);
    CHECK_EQ(lthread_chan_send(c, &v, 20), -2); /* full */
    CHECK_EQ(errno, ETIMEDOUT);
    for (int want = 1; want <= 2; want++) {
        CHECK_EQ(lthread_chan_recv(c, &v, 0), 0);
        CHECK_EQ(v, want);
    }
    CHECK_EQ(lthread_chan_recv(c, &v, 20), -2); /* empty */
    CHECK_EQ(errno, ETIMEDOUT);
    return NULL;
}

static void test_plain_ring(void)
{
    lthread_chan_t *c;
    pthread_t t;

    CHECK_EQ(lthread_chan_create(&c, sizeof(int), 2), 0);
    CHECK_EQ(pthread_create(&t, NULL, ring_side, c), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(lthread_chan_destroy(c), 0);
}

/* ---- a served select's waiter passed over ----------------------------------
 */

static lthread_chan_t *sa, *sb;
static int sel_parked, sel_index = -1, sel_value, behind_value;

static void selector(lthread_t *lt, void *arg)
{
    struct lthread_chan_op ops[2] = {
        {sa, LTHREAD_CHAN_RECV, &sel_value, 0},
        {sb, LTHREAD_CHAN_RECV, &sel_value, 0},
    };

    (void)lt;
    (void)arg;
    sel_parked = 1;
    sel_index = lthread_chan_select(ops, 2, 0);
}

static void behind(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(sb, &behind_value, 0), 0);
}

static void passover_main(lthread_t *lt, void *arg)
{
    lthread_t *s, *b;
    int one = 1, two = 2;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&s, selector, NULL), 0);
    lthread_sleep(0);
    CHECK_EQ(sel_parked, 1);
    CHECK_EQ(lthread_create(&b, behind, NULL), 0);
    lthread_sleep(0); /* b waits on sb, behind the selector's waiter */
    CHECK_EQ(lthread_chan_send(sa, &one, 0), 0); /* serves the selector */
    /* Before the selector runs, its sb waiter is still linked, first, and
     * served already: the send must pass over it to b. */
    CHECK_EQ(lthread_chan_send(sb, &two, 1000 * check_slow()), 0);
    CHECK_EQ(lthread_join(s, NULL, 0), 0);
    CHECK_EQ(lthread_join(b, NULL, 0), 0);
}

static void test_passover(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_chan_create(&sa, sizeof(int), 0), 0);
    CHECK_EQ(lthread_chan_create(&sb, sizeof(int), 0), 0);
    CHECK_EQ(lthread_create(&lt, passover_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(sel_index, 0);
    CHECK_EQ(sel_value, 1);
    CHECK_EQ(behind_value, 2);
    CHECK_EQ(lthread_chan_destroy(sa), 0);
    CHECK_EQ(lthread_chan_destroy(sb), 0);
}

/* ---- destroyed while the wake is on its way --------------------------------
 */

static lthread_mutex_t *dm;
static lthread_chan_t *dc;
static int got_lock[2], parked;

static void lock_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    parked++;
    /* (A timeout: a mutex that is not passed on fails the test rather
     * than hang it.) */
    CHECK_EQ(lthread_mutex_timedlock(dm, 5000 * check_slow()), 0);
    got_lock[(intptr_t)arg] = 1;
    CHECK_EQ(lthread_mutex_unlock(dm), 0);
}

static void chan_waiter(lthread_t *lt, void *arg)
{
    int v = 3;

    (void)lt;
    parked++;
    if (arg)
        lthread_chan_send(dc, &v, 0);
    else
        lthread_chan_recv(dc, &v, 0);
    CHECK(0); /* destroyed before it runs again */
}

static void destroy_main(lthread_t *lt, void *arg)
{
    lthread_t *a, *b;
    int v = 9;

    (void)lt;
    (void)arg;
    /* The mutex: a is handed it and destroyed before it runs; b gets it. */
    CHECK_EQ(lthread_mutex_lock(dm), 0);
    CHECK_EQ(lthread_create(&a, lock_waiter, (void *)0), 0);
    CHECK_EQ(lthread_create(&b, lock_waiter, (void *)1), 0);
    lthread_sleep(0);
    CHECK_EQ(parked, 2);
    CHECK_EQ(lthread_mutex_unlock(dm), 0);   /* to a, woken */
    CHECK_EQ(lthread_mutex_trylock(dm), -1); /* a holds it */
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_destroy(a), 0); /* passes it on to b */
    CHECK_EQ(lthread_join(b, NULL, 0), 0);
    CHECK_EQ(got_lock[0], 0);
    CHECK_EQ(got_lock[1], 1);
    CHECK_EQ(lthread_mutex_destroy(dm), 0);

    /* A receiver given a value, and a sender whose value was taken. */
    for (intptr_t send = 0; send < 2; send++) {
        parked = 0;
        CHECK_EQ(lthread_create(&a, chan_waiter, (void *)send), 0);
        lthread_sleep(0);
        CHECK_EQ(parked, 1);
        if (send)
            CHECK_EQ(lthread_chan_recv(dc, &v, 0), 0);
        else
            CHECK_EQ(lthread_chan_send(dc, &v, 0), 0);
        CHECK_EQ(v, send ? 3 : 9);
        CHECK_EQ(lthread_destroy(a), 0);
    }
    CHECK_EQ(lthread_chan_destroy(dc), 0);
}

static void test_destroy_woken(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_mutex_create(&dm), 0);
    CHECK_EQ(lthread_chan_create(&dc, sizeof(int), 0), 0);
    parked = 0;
    CHECK_EQ(lthread_create(&lt, destroy_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
}

/* ---- a timed waiter served in time; the channel gone before it runs -------
 */

static lthread_chan_t *tc;
static lthread_mutex_t *tm;
static int timed_rc = 1, timed_value, lock_rc = 1;

static void timed_receiver(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    timed_rc = lthread_chan_recv(tc, &timed_value, 60000);
    /* Served: its timer must be gone (a stale one would end this sleep
     * at once, or fire into the next wait). */
    CHECK_EQ(lthread_sleep(30), 0);
}

static void timed_locker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lock_rc = lthread_mutex_timedlock(tm, 60000);
    CHECK_EQ(lthread_mutex_unlock(tm), 0);
    CHECK_EQ(lthread_sleep(30), 0);
}

static void timed_main(lthread_t *lt, void *arg)
{
    lthread_t *r, *l;
    int v = 77;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_mutex_lock(tm), 0);
    CHECK_EQ(lthread_create(&r, timed_receiver, NULL), 0);
    CHECK_EQ(lthread_create(&l, timed_locker, NULL), 0);
    lthread_sleep(0);
    CHECK_EQ(lthread_chan_send(tc, &v, 0), 0);
    /* The receiver has not run since: nothing of the channel is its. */
    CHECK_EQ(lthread_chan_destroy(tc), 0);
    CHECK_EQ(lthread_mutex_unlock(tm), 0);
    CHECK_EQ(lthread_join(r, NULL, 0), 0);
    CHECK_EQ(lthread_join(l, NULL, 0), 0);
}

static void test_timed_served(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_chan_create(&tc, sizeof(int), 0), 0);
    CHECK_EQ(lthread_mutex_create(&tm), 0);
    CHECK_EQ(lthread_create(&lt, timed_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(timed_rc, 0);
    CHECK_EQ(timed_value, 77);
    CHECK_EQ(lock_rc, 0);
    CHECK_EQ(lthread_mutex_destroy(tm), 0);
}

/* ---- lthread_walk finds the waiters, once each --------------------------- */

static lthread_mutex_t *wm;
static lthread_chan_t *wc;

struct census {
    int sync, ready;
};

static int count_states(const struct lthread_info *i, void *arg)
{
    struct census *c = arg;

    if (strcmp(i->state, "waiting") == 0 && strcmp(i->wait, "sync") == 0)
        c->sync++;
    if (strcmp(i->state, "ready") == 0)
        c->ready++;
    return 0;
}

static void walk_waiter(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    if (arg) {
        CHECK_EQ(lthread_chan_recv(wc, &v, 0), 0);
    } else {
        CHECK_EQ(lthread_mutex_lock(wm), 0);
        CHECK_EQ(lthread_mutex_unlock(wm), 0);
    }
}

static void walk_main(lthread_t *lt, void *arg)
{
    lthread_t *w[4];
    struct census c = {0, 0};
    int v = 1;

    (void)lt;
    (void)arg;
    /* Groups in the cache (freed by earlier waits) are not waiters. */
    CHECK_EQ(lthread_walk(count_states, &c), 0);
    CHECK_EQ(c.sync, 0);
    CHECK_EQ(lthread_mutex_lock(wm), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_create(&w[i], walk_waiter, (void *)(intptr_t)(i == 3)),
                 0);
    lthread_sleep(0);
    c = (struct census){0, 0};
    CHECK_EQ(lthread_walk(count_states, &c), 0);
    CHECK_EQ(c.sync, 4);
    CHECK_EQ(c.ready, 0);
    /* Served, not yet run: ready, no longer waiting. */
    CHECK_EQ(lthread_chan_send(wc, &v, 0), 0);
    CHECK_EQ(lthread_mutex_unlock(wm), 0);
    c = (struct census){0, 0};
    CHECK_EQ(lthread_walk(count_states, &c), 0);
    CHECK_EQ(c.sync, 2);
    CHECK_EQ(c.ready, 2);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_join(w[i], NULL, 0), 0);
    c = (struct census){0, 0};
    CHECK_EQ(lthread_walk(count_states, &c), 0);
    CHECK_EQ(c.sync, 0);
}

static void test_walk(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_mutex_create(&wm), 0);
    CHECK_EQ(lthread_chan_create(&wc, sizeof(int), 0), 0);
    CHECK_EQ(lthread_create(&lt, walk_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_mutex_destroy(wm), 0);
    CHECK_EQ(lthread_chan_destroy(wc), 0);
}

int main(void)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t cap = 0; cap < 2; cap++)
            for (int first = 0; first < 2; first++)
                test_pingpong(sizes[i], cap, first);
    test_mutex_pingpong();
    test_fifo(0);
    test_fifo(1);
    test_plain_pthread();
    test_plain_ring();
    test_passover();
    test_destroy_woken();
    test_timed_served();
    test_walk();
    return check_summary("test_sync_fast");
}
