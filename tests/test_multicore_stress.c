/*
 * Several cores at once: 4 schedulers with 10,000 lthreads between them
 * (1,000 under TSan, which counts each as a thread) pass about 1,000,000
 * numbered messages (100,000 under a sanitizer or on a slow host) through
 * 4 channels of capacities 0, 1, 16 and 256, produced on every scheduler
 * and on short-lived schedulers that start and finish meanwhile, consumed
 * on every scheduler (some through lthread_chan_select()), and counted
 * under striped mutexes: every message arrives exactly once (a seen-map,
 * and each producer's count and sum of sequence numbers).
 *
 * Meanwhile plain pthreads wake sleeping lthreads (lthread_wakeup()) and
 * signal condition variables, and one driver runs races between
 * schedulers: a joiner destroyed while its joinee exits; a joinee
 * destroyed while another scheduler joins it; an lthread destroyed as a
 * mutex or a channel value is handed to it (the mutex must be passed on,
 * the channel left without waiters).
 *
 * Nothing here depends on timing: waits are for progress, with deadlines
 * that a working library never reaches.
 */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sync_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define STRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRESS_ASAN 1
#endif
#endif
#ifndef STRESS_ASAN
#define STRESS_ASAN 0
#endif

enum { NSCHED = 4, NCH = 4, NLOCKS = 8 };

/* Per long-lived scheduler: producers, consumers, sleepers, cond waiters
 * (plus one race helper, and the race driver on scheduler 0). */
#if CHECK_TSAN
enum { NPROD = 100, NCONS = 100, NSLEEP = 25, NCWAIT = 25 };
enum { TRANSIENT = 8, TPROD = 10, ROUNDS = 40 };
#else
enum { NPROD = 1000, NCONS = 1000, NSLEEP = 250, NCWAIT = 250 };
enum { TRANSIENT = 20, TPROD = 10, ROUNDS = 200 };
#endif
enum { KWAKE = 4, KCOND = 4 };

static const size_t capacities[NCH] = {0, 1, 16, 256};

/* ---- messages ------------------------------------------------------------ */

struct msg {
    uint32_t producer;
    uint32_t seq;
};

static lthread_chan_t *chans[NCH];
static lthread_mutex_t *locks[NLOCKS];
static uint32_t nproducers, per_producer; /* set before anything starts */
static unsigned char *seen;               /* __atomic, per message */
static long *pcount, *psum;               /* under locks[producer % NLOCKS] */
static int producers_done, bad_msgs, consumer_errors; /* __atomic */

static void producer(lthread_t *lt, void *arg)
{
    uint32_t me = (uint32_t)(uintptr_t)arg;
    lthread_chan_t *c = chans[me % NCH];

    (void)lt;
    for (uint32_t seq = 0; seq < per_producer; seq++) {
        struct msg m = {me, seq};

        if (lthread_chan_send(c, &m, 0) != 0) {
            CHECK_EQ(lthread_chan_send(c, &m, 0), 0);
            break;
        }
    }
    /* The last producer closes every channel: the consumers drain them
     * and end. */
    if ((uint32_t)add(&producers_done, 1) == nproducers)
        for (int i = 0; i < NCH; i++)
            CHECK_EQ(lthread_chan_close(chans[i]), 0);
}

static void account(const struct msg *m)
{
    lthread_mutex_t *l;

    if (m->producer >= nproducers || m->seq >= per_producer) {
        add(&bad_msgs, 1);
        return;
    }
    __atomic_add_fetch(&seen[(size_t)m->producer * per_producer + m->seq], 1,
                       __ATOMIC_RELAXED);
    l = locks[m->producer % NLOCKS];
    CHECK_EQ(lthread_mutex_lock(l), 0);
    pcount[m->producer]++;
    psum[m->producer] += m->seq;
    CHECK_EQ(lthread_mutex_unlock(l), 0);
}

/* Receives from one channel until it is closed and empty. */
static void consumer(lthread_t *lt, void *arg)
{
    lthread_chan_t *c = chans[(uintptr_t)arg % NCH];
    struct msg m;

    (void)lt;
    while (lthread_chan_recv(c, &m, 0) == 0)
        account(&m);
    if (errno != EPIPE)
        add(&consumer_errors, 1);
}

/* Receives from two channels at once, until both are closed and empty. */
static void select_consumer(lthread_t *lt, void *arg)
{
    int first = (int)((uintptr_t)arg % NCH);
    struct msg a, b;
    struct lthread_chan_op ops[2] = {
        {chans[first], LTHREAD_CHAN_RECV, &a, 0},
        {chans[(first + 1) % NCH], LTHREAD_CHAN_RECV, &b, 0},
    };
    size_t n = 2;

    (void)lt;
    while (n > 0) {
        int i = lthread_chan_select(ops, n, 0);

        if (i < 0) {
            add(&consumer_errors, 1);
            return;
        }
        if (ops[i].err == EPIPE) { /* that one is done */
            ops[i] = ops[--n];
            continue;
        }
        account(ops[i].elem);
    }
}

/* ---- wakeups from a plain pthread ------------------------------------------
 */

enum { S_IDLE, S_SLEEPING, S_CLAIMED, S_WOKEN };

static lthread_t *sleepers[NSCHED * NSLEEP]; /* __atomic */
static int sleep_state[NSCHED * NSLEEP];     /* __atomic, S_* */
static int sleepers_done, wakeups_lost;      /* __atomic */

/* Sleeps 30 s, KWAKE times; each sleep must be cut short by the waker. */
static void sleeper(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;

    __atomic_store_n(&sleepers[i], lt, __ATOMIC_SEQ_CST);
    for (int k = 0; k < KWAKE; k++) {
        double t0 = check_now_ms();

        /* No switch between this and the sleep: a wakeup posted now is
         * handled once we sleep. */
        set(&sleep_state[i], S_SLEEPING);
        lthread_sleep(30000);
        if (check_now_ms() - t0 >= 29999)
            add(&wakeups_lost, 1);
        /* The waker may still be inside lthread_wakeup(): we must live
         * until it is out. */
        while (get(&sleep_state[i]) != S_WOKEN)
            lthread_sleep(1);
        set(&sleep_state[i], S_IDLE);
    }
    add(&sleepers_done, 1);
}

static void *waker_main(void *arg)
{
    int n = NSCHED * NSLEEP;
    long calls = 0;

    (void)arg;
    while (get(&sleepers_done) < n) {
        int found = 0;

        for (int i = 0; i < n; i++) {
            int expect = S_SLEEPING;

            if (__atomic_compare_exchange_n(&sleep_state[i], &expect, S_CLAIMED,
                                            0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST)) {
                lthread_t *lt = __atomic_load_n(&sleepers[i], __ATOMIC_SEQ_CST);

                CHECK_EQ(lthread_wakeup(lt), 0);
                set(&sleep_state[i], S_WOKEN);
                calls++;
                found = 1;
            }
        }
        if (!found)
            usleep(200);
    }
    CHECK_EQ(calls, (long)n * KWAKE);
    return NULL;
}

/* ---- cond signals from a plain pthread -----------------------------------
 */

static lthread_cond_t *conds[NSCHED];
static int cond_waits[NSCHED], cond_wakes[NSCHED], cond_timeouts[NSCHED];

/* KCOND waits, each ended by a signal (a timeout only retries: it keeps
 * the scheduler from being alone with waiters that a plain pthread
 * signals, see lthread_run()). */
static void cond_waiter(lthread_t *lt, void *arg)
{
    int s = (int)(intptr_t)arg;

    (void)lt;
    for (int k = 0; k < KCOND;) {
        add(&cond_waits[s], 1); /* then waits, with no switch between */
        if (lthread_cond_wait(conds[s], 1000) == 0) {
            add(&cond_wakes[s], 1);
            k++;
        } else {
            add(&cond_timeouts[s], 1);
        }
    }
}

static void *signaller_main(void *arg)
{
    long sent = 0;

    (void)arg;
    for (;;) {
        int done = 1;

        for (int s = 0; s < NSCHED; s++) {
            int wakes = get(&cond_wakes[s]);

            if (wakes >= NCWAIT * KCOND)
                continue;
            done = 0;
            /* (a waiter that timed out waits again: counted again) */
            if (get(&cond_waits[s]) - get(&cond_timeouts[s]) > wakes) {
                /* now and then everyone at once */
                if (sent % 16 == 15)
                    CHECK_EQ(lthread_cond_broadcast(conds[s]), 0);
                else
                    CHECK_EQ(lthread_cond_signal(conds[s]), 0);
                sent++;
            }
        }
        if (done)
            break;
        usleep(50);
    }
    return NULL;
}

/* ---- races between schedulers ----------------------------------------------
 */

/* Jobs for the helpers (an lthread on each of schedulers 1 to 3). */
enum { JOB_JOIN_KEEP, JOB_JOIN_OBSERVED, JOB_LOCKER, JOB_RECEIVER };
struct job {
    int type;
    lthread_t *target;
};

static lthread_chan_t *helper_ch[NSCHED], *reply_ch;
static lthread_mutex_t *race_mx, *dead_mx;
static lthread_chan_t *race_ch, *dead_ch;
static int joined_ok, joined_cancelled, joined_gone, joiners_destroyed;
static int race_locks, race_values, race_sends, race_bad; /* __atomic */
static int race_mx_stuck;

static void random_pause(unsigned *seed)
{
    unsigned r = rand_r(seed) % 4;

    if (r == 1)
        lthread_sleep(0);
    else if (r >= 2)
        lthread_sleep(r - 1); /* 1 or 2 ms */
}

/* A joinee that exits by itself, after a pause. */
static void exiting_joinee(lthread_t *lt, void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;

    (void)lt;
    random_pause(&seed);
    lthread_exit((void *)(uintptr_t)0x5eed);
}

/* A joinee that never ends by itself: sleeps, and once woken waits on a
 * mutex that main() holds, or a channel nobody sends to, until it is
 * destroyed. */
static void forever_joinee(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    lthread_sleep(60000);
    if ((uintptr_t)arg % 2)
        lthread_mutex_lock(dead_mx);
    else
        lthread_chan_recv(dead_ch, &v, 0);
    add(&race_bad, 1); /* never: destroyed first */
}

/* Joins its target, then lives on until it is destroyed. */
static void keeping_joiner(lthread_t *lt, void *arg)
{
    void *v = NULL;

    (void)lt;
    if (lthread_join(arg, &v, 0) == 0 && v == (void *)(uintptr_t)0x5eed)
        add(&joined_ok, 1);
    else
        add(&race_bad, 1);
    for (;;)
        lthread_sleep(60000);
}

static int joiner_parked; /* set by observed_joiner just before it parks */

/* Joins its target, which is destroyed meanwhile. */
static void observed_joiner(lthread_t *lt, void *arg)
{
    int rc;

    (void)lt;
    lthread_detach();
    joiner_parked = 1; /* no switch until lthread_join() parks */
    rc = lthread_join(arg, NULL, 0);
    if (rc == -1 && errno == ECANCELED)
        add(&joined_cancelled, 1); /* the join was there first */
    else if (rc == -1 && errno == ESRCH)
        add(&joined_gone, 1); /* the destroy was */
    else
        add(&race_bad, 1);
}

static int victim_parked;

/* Waits for race_mx, which the driver hands over as it destroys us. */
static void locker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    victim_parked = 1;
    if (lthread_mutex_lock(race_mx) == 0) {
        add(&race_locks, 1);
        CHECK_EQ(lthread_mutex_unlock(race_mx), 0);
    }
    for (;;)
        lthread_sleep(60000);
}

/* Waits for a value on race_ch, which the driver sends as it destroys
 * us. */
static void receiver(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    victim_parked = 1;
    if (lthread_chan_recv(race_ch, &v, 0) == 0)
        add(&race_values, 1);
    for (;;)
        lthread_sleep(60000);
}

/* Runs the driver's jobs on its scheduler; replies with the lthread it
 * made. */
static void helper(lthread_t *lt, void *arg)
{
    int s = (int)(intptr_t)arg;
    struct job j;

    (void)lt;
    while (lthread_chan_recv(helper_ch[s], &j, 0) == 0) {
        lthread_t *made = NULL;

        switch (j.type) {
        case JOB_JOIN_KEEP:
            CHECK_EQ(lthread_create(&made, keeping_joiner, j.target), 0);
            break;
        case JOB_JOIN_OBSERVED:
            joiner_parked = 0;
            CHECK_EQ(lthread_create(&made, observed_joiner, j.target), 0);
            /* We run again only once it has parked in lthread_join(). */
            while (!joiner_parked)
                lthread_sleep(0);
            break;
        case JOB_LOCKER:
        case JOB_RECEIVER:
            victim_parked = 0;
            CHECK_EQ(lthread_create(
                         &made, j.type == JOB_LOCKER ? locker : receiver, NULL),
                     0);
            while (!victim_parked)
                lthread_sleep(0);
            break;
        }
        CHECK_EQ(lthread_chan_send(reply_ch, &made, 0), 0);
    }
}

static lthread_t *ask(int s, int type, lthread_t *target)
{
    struct job j = {type, target};
    lthread_t *made = NULL;

    CHECK_EQ(lthread_chan_send(helper_ch[s], &j, 0), 0);
    CHECK_EQ(lthread_chan_recv(reply_ch, &made, 0), 0);
    return made;
}

/* On scheduler 0: ROUNDS of each race against the helpers. */
static void race_driver(lthread_t *lt, void *arg)
{
    unsigned seed = 12345;
    lthread_t *v, *j;
    int x = 7, rc;

    (void)lt;
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        int s = 1 + r % (NSCHED - 1);

        /* A joiner on another scheduler, destroyed while the joinee
         * exits here (both may win). */
        CHECK_EQ(lthread_create(&v, exiting_joinee, (void *)(uintptr_t)r), 0);
        j = ask(s, JOB_JOIN_KEEP, v);
        random_pause(&seed);
        CHECK_EQ(lthread_destroy(j), 0);
        add(&joiners_destroyed, 1);

        /* A joinee here, destroyed (maybe woken first) while a joiner
         * of another scheduler waits for it. */
        CHECK_EQ(lthread_create(&v, forever_joinee, (void *)(uintptr_t)r), 0);
        lthread_sleep(0); /* it sleeps */
        ask(s, JOB_JOIN_OBSERVED, v);
        if (rand_r(&seed) % 2) {
            CHECK_EQ(lthread_wakeup(v), 0);
            random_pause(&seed);
        }
        CHECK_EQ(lthread_destroy(v), 0);

        /* The mutex handed to an lthread of another scheduler that is
         * being destroyed: it is passed on (here: free). Once it was not,
         * once is enough. */
        if (get(&race_mx_stuck))
            goto channel_race;
        CHECK_EQ(lthread_mutex_lock(race_mx), 0);
        v = ask(s, JOB_LOCKER, NULL);
        random_pause(&seed);
        if (rand_r(&seed) % 2) {
            CHECK_EQ(lthread_destroy(v), 0);
            CHECK_EQ(lthread_mutex_unlock(race_mx), 0);
        } else {
            CHECK_EQ(lthread_mutex_unlock(race_mx), 0);
            random_pause(&seed);
            CHECK_EQ(lthread_destroy(v), 0);
        }
        rc = lthread_mutex_timedlock(race_mx, 2000 * (uint64_t)check_slow());
        CHECK_EQ(rc, 0);
        if (rc == 0) {
            CHECK_EQ(lthread_mutex_unlock(race_mx), 0);
        } else {
            /* Held by the destroyed lthread for good: go on with another
             * (this one is leaked). */
            add(&race_mx_stuck, 1);
            CHECK_EQ(lthread_mutex_create(&race_mx), 0);
        }

    channel_race:
        /* A value sent to a receiver being destroyed: taken, dropped with
         * it, or not sent at all; never left waiting. */
        v = ask(s, JOB_RECEIVER, NULL);
        random_pause(&seed);
        if (rand_r(&seed) % 2) {
            CHECK_EQ(lthread_destroy(v), 0);
            rc = lthread_chan_send(race_ch, &x, 20);
        } else {
            rc = lthread_chan_send(race_ch, &x, 20);
            random_pause(&seed);
            CHECK_EQ(lthread_destroy(v), 0);
        }
        if (rc == 0)
            add(&race_sends, 1);
        else
            CHECK_EQ(rc, -2);
    }
    for (int s = 1; s < NSCHED; s++)
        CHECK_EQ(lthread_chan_close(helper_ch[s]), 0);
}

/* ---- schedulers
 * ---------------------------------------------------------------
 */

static uint32_t next_producer; /* __atomic: producer numbers */

static void long_lived(lthread_t *lt, void *arg)
{
    int s = (int)(intptr_t)arg;
    lthread_t *t;

    (void)lt;
    for (int i = 0; i < NPROD; i++) {
        uint32_t p = __atomic_fetch_add(&next_producer, 1, __ATOMIC_SEQ_CST);

        CHECK_EQ(lthread_create(&t, producer, (void *)(uintptr_t)p), 0);
    }
    for (int i = 0; i < NCONS; i++)
        CHECK_EQ(lthread_create(&t, i % 8 ? consumer : select_consumer,
                                (void *)(uintptr_t)(i + s)),
                 0);
    for (int i = 0; i < NSLEEP; i++)
        CHECK_EQ(
            lthread_create(&t, sleeper, (void *)(intptr_t)(s * NSLEEP + i)), 0);
    for (int i = 0; i < NCWAIT; i++)
        CHECK_EQ(lthread_create(&t, cond_waiter, (void *)(intptr_t)s), 0);
    if (s == 0)
        CHECK_EQ(lthread_create(&t, race_driver, NULL), 0);
    else
        CHECK_EQ(lthread_create(&t, helper, (void *)(intptr_t)s), 0);
}

/* A short-lived scheduler: TPROD producers, then it finishes. */
static void transient(lthread_t *lt, void *arg)
{
    lthread_t *t;

    (void)lt;
    (void)arg;
    for (int i = 0; i < TPROD; i++) {
        uint32_t p = __atomic_fetch_add(&next_producer, 1, __ATOMIC_SEQ_CST);

        CHECK_EQ(lthread_create(&t, producer, (void *)(uintptr_t)p), 0);
    }
}

/* Starts the short-lived schedulers two at a time, while the others run. */
static void *spawner_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < TRANSIENT; i += 2) {
        pthread_t a = start_sched(transient, NULL);
        pthread_t b = start_sched(transient, NULL);

        CHECK_EQ(pthread_join(a, NULL), 0);
        CHECK_EQ(pthread_join(b, NULL), 0);
    }
    return NULL;
}

int main(void)
{
    pthread_t sched[NSCHED], spawner, waker, signaller;
    long messages, total = (long)NSCHED * NPROD + TRANSIENT * TPROD;
    int sanitized = CHECK_TSAN || STRESS_ASAN || check_slow() > 1;
    double t0 = check_now_ms();
    long missing = 0, duplicated = 0, wrong_sums = 0;

    /* About 10^6 messages (10^5 under sanitizers and emulators). */
    messages = sanitized ? 100000 : 1000000;
    nproducers = (uint32_t)total;
    per_producer = (uint32_t)((messages + total - 1) / total);
    seen = calloc((size_t)nproducers * per_producer, 1);
    pcount = calloc(nproducers, sizeof(*pcount));
    psum = calloc(nproducers, sizeof(*psum));
    CHECK(seen && pcount && psum);
    for (int i = 0; i < NCH; i++)
        CHECK_EQ(
            lthread_chan_create(&chans[i], sizeof(struct msg), capacities[i]),
            0);
    for (int i = 0; i < NLOCKS; i++)
        CHECK_EQ(lthread_mutex_create(&locks[i]), 0);
    for (int s = 0; s < NSCHED; s++) {
        CHECK_EQ(lthread_cond_create(&conds[s]), 0);
        CHECK_EQ(lthread_chan_create(&helper_ch[s], sizeof(struct job), 0), 0);
    }
    CHECK_EQ(lthread_chan_create(&reply_ch, sizeof(lthread_t *), 0), 0);
    CHECK_EQ(lthread_chan_create(&race_ch, sizeof(int), 0), 0);
    CHECK_EQ(lthread_chan_create(&dead_ch, sizeof(int), 0), 0);
    CHECK_EQ(lthread_mutex_create(&race_mx), 0);
    CHECK_EQ(lthread_mutex_create(&dead_mx), 0);
    CHECK_EQ(lthread_mutex_lock(dead_mx), 0); /* held by main() throughout */

    for (int s = 0; s < NSCHED; s++)
        sched[s] = start_sched(long_lived, (void *)(intptr_t)s);
    CHECK_EQ(pthread_create(&spawner, NULL, spawner_main, NULL), 0);
    CHECK_EQ(pthread_create(&waker, NULL, waker_main, NULL), 0);
    CHECK_EQ(pthread_create(&signaller, NULL, signaller_main, NULL), 0);

    CHECK_EQ(pthread_join(spawner, NULL), 0);
    CHECK_EQ(pthread_join(waker, NULL), 0);
    CHECK_EQ(pthread_join(signaller, NULL), 0);
    for (int s = 0; s < NSCHED; s++)
        CHECK_EQ(pthread_join(sched[s], NULL), 0);

    /* Every message exactly once. */
    CHECK_EQ(producers_done, (long)nproducers);
    CHECK_EQ(bad_msgs, 0);
    CHECK_EQ(consumer_errors, 0);
    for (size_t i = 0; i < (size_t)nproducers * per_producer; i++) {
        missing += seen[i] == 0;
        duplicated += seen[i] > 1;
    }
    for (uint32_t p = 0; p < nproducers; p++)
        wrong_sums += pcount[p] != (long)per_producer ||
                      psum[p] != (long)per_producer * (per_producer - 1) / 2;
    CHECK_EQ(missing, 0);
    CHECK_EQ(duplicated, 0);
    CHECK_EQ(wrong_sums, 0);

    /* Wakeups and signals from plain pthreads. */
    CHECK_EQ(sleepers_done, NSCHED * NSLEEP);
    CHECK_EQ(wakeups_lost, 0);
    for (int s = 0; s < NSCHED; s++)
        CHECK_EQ(cond_wakes[s], NCWAIT * KCOND);

    /* The races: each ended one of the allowed ways, and left the mutexes
     * and channels with no waiter. */
    CHECK_EQ(race_bad, 0);
    CHECK_EQ(race_mx_stuck, 0);
    CHECK_EQ(joiners_destroyed, ROUNDS);
    CHECK(joined_ok <= ROUNDS);
    CHECK_EQ(joined_cancelled + joined_gone, ROUNDS);
    CHECK(race_locks <= ROUNDS);
    CHECK(race_values <= race_sends);
    CHECK_EQ(lthread_mutex_unlock(dead_mx), 0);
    CHECK_EQ(lthread_mutex_trylock(race_mx), 0);
    CHECK_EQ(lthread_mutex_unlock(race_mx), 0);
    CHECK_EQ(lthread_mutex_destroy(race_mx), 0);
    CHECK_EQ(lthread_mutex_destroy(dead_mx), 0);
    CHECK_EQ(lthread_chan_destroy(race_ch), 0);
    CHECK_EQ(lthread_chan_destroy(dead_ch), 0);
    CHECK_EQ(lthread_chan_destroy(reply_ch), 0);
    for (int s = 0; s < NSCHED; s++) {
        CHECK_EQ(lthread_chan_destroy(helper_ch[s]), 0);
        CHECK_EQ(lthread_cond_destroy(conds[s]), 0);
    }
    for (int i = 0; i < NCH; i++)
        CHECK_EQ(lthread_chan_destroy(chans[i]), 0);
    for (int i = 0; i < NLOCKS; i++)
        CHECK_EQ(lthread_mutex_destroy(locks[i]), 0);

    printf("test_multicore_stress: %u producers x %u messages, %d lthreads "
           "on %d schedulers + %d short-lived, %.0f ms\n",
           nproducers, per_producer,
           NSCHED * (NPROD + NCONS + NSLEEP + NCWAIT + 1), NSCHED, TRANSIENT,
           check_now_ms() - t0);
    printf("    races: %d joins done, %d cancelled, %d found the joinee "
           "gone; %d of %d hand-overs taken, %d of %d values\n",
           joined_ok, joined_cancelled, joined_gone, race_locks, ROUNDS,
           race_values, race_sends);
    free(seen);
    free(pcount);
    free(psum);
    return check_summary("test_multicore_stress");
}
