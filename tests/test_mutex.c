/*
 * Mutexes: every call and its errors, within one scheduler (waiters served
 * in arrival order, the lock handed to the longest waiter at unlock, a
 * timed-out waiter never handed it), across schedulers and from plain
 * pthreads (mutual exclusion that TSan can see: the counters it guards are
 * plain ints), from compute sections (the holder is the lthread, wherever
 * it runs), and lthreads destroyed while they wait (the mutex goes on to
 * the next waiter, or is free).
 */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "sync_util.h"

static lthread_mutex_t *mx;

/* ---- arguments, and a plain pthread alone ----------------------------------
 */

static void test_args(void)
{
    lthread_mutex_t *m = NULL;

    errno = 0;
    CHECK_EQ(lthread_mutex_create(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_mutex_destroy(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_mutex_lock(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_mutex_timedlock(NULL, 10), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_mutex_trylock(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_mutex_unlock(NULL), -1);
    CHECK_EQ(errno, EINVAL);

    CHECK_EQ(lthread_mutex_create(&m), 0);
    CHECK(m != NULL);
    CHECK_EQ(lthread_mutex_destroy(m), 0);
}

/* main() is a plain pthread: it holds the mutex itself. */
static void test_plain_alone(void)
{
    lthread_mutex_t *m;
    double t0;

    CHECK_EQ(lthread_mutex_create(&m), 0);
    errno = 0;
    CHECK_EQ(lthread_mutex_unlock(m), -1); /* nobody holds it */
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_mutex_lock(m), 0);
    errno = 0;
    CHECK_EQ(lthread_mutex_lock(m), -1);
    CHECK_EQ(errno, EDEADLK);
    errno = 0;
    CHECK_EQ(lthread_mutex_timedlock(m, 10), -1);
    CHECK_EQ(errno, EDEADLK);
    errno = 0;
    CHECK_EQ(lthread_mutex_timedlock(m, 0), -1);
    CHECK_EQ(errno, EDEADLK);
    errno = 0;
    CHECK_EQ(lthread_mutex_trylock(m), -1); /* held by the caller too */
    CHECK_EQ(errno, EBUSY);
    errno = 0;
    CHECK_EQ(lthread_mutex_destroy(m), -1);
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_mutex_unlock(m), 0);
    errno = 0;
    CHECK_EQ(lthread_mutex_unlock(m), -1);
    CHECK_EQ(errno, EPERM);

    CHECK_EQ(lthread_mutex_trylock(m), 0);
    CHECK_EQ(lthread_mutex_unlock(m), 0);
    t0 = check_now_ms();
    CHECK_EQ(lthread_mutex_timedlock(m, 5000), 0); /* free: at once */
    CHECK_TIME(check_now_ms() - t0 < 100.0 * check_slow());
    CHECK_EQ(lthread_mutex_unlock(m), 0);
    CHECK_EQ(lthread_mutex_destroy(m), 0);
}

/* ---- one scheduler: arrival order, hand-over, the holder's errors ---------
 */

static int order[8], norder, nfinished, nwaiting, in_cs;

static void fifo_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    nwaiting++;
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    CHECK_EQ(in_cs, 0);
    in_cs = 1;
    order[norder++] = (int)(intptr_t)arg;
    lthread_sleep(1); /* the others stay parked while we hold it */
    in_cs = 0;
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    nfinished++;
}

/* Not the holder: it may neither unlock nor take the mutex. */
static void bystander(lthread_t *lt, void *arg)
{
    double t0;

    (void)lt;
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_mutex_unlock(mx), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_mutex_trylock(mx), -1);
    CHECK_EQ(errno, EBUSY);
    /* It queues behind the waiters, then gives up. */
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_mutex_timedlock(mx, 30), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(check_now_ms() - t0 >= 29);
    CHECK_TIME(check_now_ms() - t0 < 30 + 100.0 * check_slow());
}

static void fifo_holder(lthread_t *lt, void *arg)
{
    lthread_t *w;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    errno = 0;
    CHECK_EQ(lthread_mutex_lock(mx), -1);
    CHECK_EQ(errno, EDEADLK);
    errno = 0;
    CHECK_EQ(lthread_mutex_timedlock(mx, 10), -1);
    CHECK_EQ(errno, EDEADLK);
    errno = 0;
    CHECK_EQ(lthread_mutex_trylock(mx), -1);
    CHECK_EQ(errno, EBUSY);
    errno = 0;
    CHECK_EQ(lthread_mutex_destroy(mx), -1); /* locked, no waiter */
    CHECK_EQ(errno, EBUSY);

    /* Waiter k starts waiting before k + 1 is created. */
    for (int k = 0; k < 4; k++) {
        CHECK_EQ(lthread_create(&w, fifo_waiter, (void *)(intptr_t)k), 0);
        while (nwaiting < k + 1)
            lthread_sleep(0);
    }
    CHECK_EQ(lthread_create(&w, bystander, NULL), 0);
    CHECK_EQ(lthread_join(w, NULL, 0), 0);

    errno = 0;
    CHECK_EQ(lthread_mutex_destroy(mx), -1); /* locked, and waited on */
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(norder, 0);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    /* Handed to waiter 0 at once, before it runs: not free. */
    errno = 0;
    CHECK_EQ(lthread_mutex_trylock(mx), -1);
    CHECK_EQ(errno, EBUSY);
    errno = 0;
    CHECK_EQ(lthread_mutex_unlock(mx), -1);
    CHECK_EQ(errno, EPERM);
    while (nfinished < 4)
        lthread_sleep(1);
    for (int k = 0; k < 4; k++)
        CHECK_EQ(order[k], k);
    CHECK_EQ(lthread_mutex_trylock(mx), 0);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
}

static void test_one_scheduler(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_mutex_create(&mx), 0);
    CHECK_EQ(lthread_create(&lt, fifo_holder, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(norder, 4);
    CHECK_EQ(lthread_mutex_destroy(mx), 0);
}

/* ---- timed locks ------------------------------------------------------------
 */

static int timed_phase;

static void timed_taker(lthread_t *lt, void *arg)
{
    double t0;

    (void)lt;
    (void)arg;
    /* Gives up: the holder keeps it. */
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_mutex_timedlock(mx, 40), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(check_now_ms() - t0 >= 39);
    CHECK_TIME(check_now_ms() - t0 < 40 + 100.0 * check_slow());
    timed_phase = 1;
    while (timed_phase < 2)
        lthread_sleep(1);
    /* Gets it when the holder lets go, long before the timeout. */
    t0 = check_now_ms();
    CHECK_EQ(lthread_mutex_timedlock(mx, 60000), 0);
    CHECK(check_now_ms() - t0 < 30000);
    CHECK_EQ(timed_phase, 3);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    timed_phase = 4;
}

static void timed_holder(lthread_t *lt, void *arg)
{
    lthread_t *t;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    CHECK_EQ(lthread_create(&t, timed_taker, NULL), 0);
    while (timed_phase < 1)
        lthread_sleep(1);
    /* The waiter that timed out is gone from the queue: nobody is handed
     * the mutex, it is free. */
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(lthread_mutex_trylock(mx), 0);
    timed_phase = 2;
    lthread_sleep(20); /* the taker waits again */
    timed_phase = 3;
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(lthread_join(t, NULL, 0), 0);
    CHECK_EQ(timed_phase, 4);
}

static void test_timed(void)
{
    lthread_t *lt;

    timed_phase = 0;
    CHECK_EQ(lthread_mutex_create(&mx), 0);
    CHECK_EQ(lthread_create(&lt, timed_holder, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_mutex_destroy(mx), 0);
}

/* ---- compute sections -------------------------------------------------------
 */

enum { NREC = 8 };
struct rec {
    int rc[NREC], err[NREC];
    int released_before; /* the holder had let go when lock returned */
    double timed_ms;
};

static int cs_released, cs_done;

/* Locked before the section: still the holder inside it and after. */
static __attribute__((noinline)) void holder_inside(struct rec *r)
{
    r->rc[0] = lthread_mutex_unlock(mx);
    r->err[0] = ERRNO;
    r->rc[1] = lthread_mutex_lock(mx);
    r->err[1] = ERRNO;
    ERRNO = 0;
    r->rc[2] = lthread_mutex_lock(mx);
    r->err[2] = ERRNO;
    ERRNO = 0;
    r->rc[3] = lthread_mutex_trylock(mx);
    r->err[3] = ERRNO;
}

static void compute_holder(lthread_t *lt, void *arg)
{
    struct rec r;
    int begin, end;

    (void)lt;
    (void)arg;
    memset(&r, 0, sizeof(r));
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    begin = lthread_compute_begin(); /* no CHECK inside */
    holder_inside(&r);
    end = lthread_compute_end();
    CHECK_EQ(begin, 0);
    CHECK_EQ(end, 0);
    CHECK_EQ(r.rc[0], 0);
    CHECK_EQ(r.rc[1], 0);
    CHECK_EQ(r.rc[2], -1);
    CHECK_EQ(r.err[2], EDEADLK);
    CHECK_EQ(r.rc[3], -1);
    CHECK_EQ(r.err[3], EBUSY);
    /* Locked inside, unlocked at home: the same holder. */
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
}

/* A non-holder in a section: its pthread blocks in lock until the holder,
 * an lthread of the scheduler it left, lets go. */
static __attribute__((noinline)) void waiter_inside(struct rec *r)
{
    double t0;

    ERRNO = 0;
    r->rc[0] = lthread_mutex_unlock(mx);
    r->err[0] = ERRNO;
    ERRNO = 0;
    r->rc[1] = lthread_mutex_trylock(mx);
    r->err[1] = ERRNO;
    t0 = check_now_ms();
    ERRNO = 0;
    r->rc[2] = lthread_mutex_timedlock(mx, 30);
    r->err[2] = ERRNO;
    r->timed_ms = check_now_ms() - t0;
    add(&cs_done, 1); /* the holder may let go now */
    r->rc[3] = lthread_mutex_lock(mx);
    r->released_before = get(&cs_released);
    r->rc[4] = lthread_mutex_unlock(mx);
}

static void compute_waiter(lthread_t *lt, void *arg)
{
    struct rec r;
    int begin, end;

    (void)lt;
    (void)arg;
    memset(&r, 0, sizeof(r));
    begin = lthread_compute_begin(); /* no CHECK inside */
    waiter_inside(&r);
    end = lthread_compute_end();
    CHECK_EQ(begin, 0);
    CHECK_EQ(end, 0);
    CHECK_EQ(r.rc[0], -1);
    CHECK_EQ(r.err[0], EPERM);
    CHECK_EQ(r.rc[1], -1);
    CHECK_EQ(r.err[1], EBUSY);
    CHECK_EQ(r.rc[2], -2);
    CHECK_EQ(r.err[2], ETIMEDOUT);
    CHECK(r.timed_ms >= 29);
    CHECK_TIME(r.timed_ms < 30 + 100.0 * check_slow());
    CHECK_EQ(r.rc[3], 0);
    CHECK(r.released_before);
    CHECK_EQ(r.rc[4], 0);
}

static void compute_main(lthread_t *lt, void *arg)
{
    lthread_t *a, *b;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&a, compute_holder, NULL), 0);
    CHECK_EQ(lthread_join(a, NULL, 0), 0);

    CHECK_EQ(lthread_mutex_lock(mx), 0);
    CHECK_EQ(create_private(&b, compute_waiter, NULL), 0);
    /* This scheduler keeps running while b's pthread waits in lock. */
    while (get(&cs_done) < 1)
        lthread_sleep(1);
    lthread_sleep(20);
    set(&cs_released, 1);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(lthread_join(b, NULL, 0), 0);
}

static void test_compute(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_mutex_create(&mx), 0);
    CHECK_EQ(lthread_create(&lt, compute_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_mutex_destroy(mx), 0);
}

/* ---- a plain pthread and an lthread -------------------------------------
 */

static int pl_phase;

static void pl_lthread(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lt_wait_at_least(&pl_phase, 1); /* main holds it */
    errno = 0;
    CHECK_EQ(lthread_mutex_trylock(mx), -1);
    CHECK_EQ(errno, EBUSY);
    errno = 0;
    CHECK_EQ(lthread_mutex_unlock(mx), -1);
    CHECK_EQ(errno, EPERM);
    set(&pl_phase, 2);
    CHECK_EQ(lthread_mutex_lock(mx), 0); /* parks until main unlocks */
    CHECK(get(&pl_phase) >= 3);
    set(&pl_phase, 4);
    lt_wait_at_least(&pl_phase, 5); /* main tried and failed */
    lthread_sleep(20);
    set(&pl_phase, 6);
    CHECK_EQ(lthread_mutex_unlock(mx), 0); /* main's lock returns */
}

static void pl_sched(lthread_t *lt, void *arg)
{
    lthread_t *a;

    (void)lt;
    (void)arg;
    /* While `a` waits for main() to unlock, this scheduler has nothing
     * else to do: a plain pthread may unlock, so it waits, and does not
     * declare a deadlock. */
    CHECK_EQ(lthread_create(&a, pl_lthread, NULL), 0);
    CHECK_EQ(lthread_join(a, NULL, 0), 0);
}

static void test_plain_and_lthread(void)
{
    pthread_t t;
    double t0;

    pl_phase = 0;
    CHECK_EQ(lthread_mutex_create(&mx), 0);
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    t = start_sched(pl_sched, NULL);
    set(&pl_phase, 1);
    wait_at_least(&pl_phase, 2);
    usleep(20000); /* it parks in lock */
    CHECK_EQ(get(&pl_phase), 2);
    set(&pl_phase, 3);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    wait_at_least(&pl_phase, 4);
    /* The lthread holds it now. */
    errno = 0;
    CHECK_EQ(lthread_mutex_unlock(mx), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_mutex_trylock(mx), -1);
    CHECK_EQ(errno, EBUSY);
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_mutex_timedlock(mx, 30), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(check_now_ms() - t0 >= 29);
    CHECK_TIME(check_now_ms() - t0 < 30 + 100.0 * check_slow());
    set(&pl_phase, 5);
    CHECK_EQ(lthread_mutex_lock(mx), 0); /* blocks this pthread */
    CHECK_EQ(get(&pl_phase), 6);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(lthread_mutex_destroy(mx), 0);
}

/* ---- many lthreads on 4 schedulers, a plain pthread, compute sections ---
 */

enum { NSCHED = 4 };
#if CHECK_TSAN
enum { PER_SCHED = 16, ITERS = 100, PLAIN_ITERS = 300 };
#else
enum { PER_SCHED = 50, ITERS = 200, PLAIN_ITERS = 2000 };
#endif

/* Guarded by mx: plain ints, so that TSan sees a mutex that does not
 * order its holders. */
static long counter;
static int holders;

/* One critical section: nobody else inside, the counter moved by one. */
static void critical(int yield)
{
    CHECK_EQ(holders, 0);
    holders++;
    long c = counter;
    if (yield)
        lthread_sleep(0); /* the others of this scheduler queue up */
    counter = c + 1;
    holders--;
}

static void stress_lthread(lthread_t *lt, void *arg)
{
    int me = (int)(intptr_t)arg;

    (void)lt;
    for (int i = 0; i < ITERS; i++) {
        switch ((i + me) % 3) {
        case 0:
            CHECK_EQ(lthread_mutex_lock(mx), 0);
            break;
        case 1:
            CHECK_EQ(lthread_mutex_timedlock(mx, 60000), 0);
            break;
        default:
            while (lthread_mutex_trylock(mx) != 0) {
                if (errno != EBUSY)
                    CHECK_EQ(errno, EBUSY);
                lthread_sleep(0);
            }
        }
        critical(i % 8 == 0);
        CHECK_EQ(lthread_mutex_unlock(mx), 0);
    }
}

/* In a compute section, the pthread blocks in lock; no CHECK inside. */
static __attribute__((noinline)) int stress_computing(void)
{
    int bad = 0;

    for (int i = 0; i < ITERS; i++) {
        bad += lthread_mutex_lock(mx) != 0;
        bad += holders != 0;
        holders++;
        counter++;
        holders--;
        bad += lthread_mutex_unlock(mx) != 0;
    }
    return bad;
}

static void stress_computer(lthread_t *lt, void *arg)
{
    int begin, end, bad;

    (void)lt;
    (void)arg;
    begin = lthread_compute_begin();
    bad = stress_computing();
    end = lthread_compute_end();
    CHECK_EQ(begin, 0);
    CHECK_EQ(end, 0);
    CHECK_EQ(bad, 0);
}

static void stress_sched(lthread_t *lt, void *arg)
{
    lthread_t *lts[PER_SCHED + 1];

    (void)lt;
    for (int i = 0; i < PER_SCHED; i++)
        CHECK_EQ(lthread_create(&lts[i], stress_lthread,
                                (void *)(intptr_t)(i + (intptr_t)arg)),
                 0);
    CHECK_EQ(create_private(&lts[PER_SCHED], stress_computer, NULL), 0);
    for (int i = 0; i <= PER_SCHED; i++)
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);
}

static void test_stress(void)
{
    pthread_t t[NSCHED];

    counter = 0;
    holders = 0;
    CHECK_EQ(lthread_mutex_create(&mx), 0);
    for (int i = 0; i < NSCHED; i++)
        t[i] = start_sched(stress_sched, (void *)(intptr_t)i);
    /* This pthread takes its turns too. */
    for (int i = 0; i < PLAIN_ITERS; i++) {
        if (i % 2)
            CHECK_EQ(lthread_mutex_lock(mx), 0);
        else
            CHECK_EQ(lthread_mutex_timedlock(mx, 60000), 0);
        CHECK_EQ(holders, 0);
        holders++;
        counter++;
        holders--;
        CHECK_EQ(lthread_mutex_unlock(mx), 0);
    }
    for (int i = 0; i < NSCHED; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(counter, (long)NSCHED * (PER_SCHED + 1) * ITERS + PLAIN_ITERS);
    CHECK_EQ(lthread_mutex_destroy(mx), 0);
}

/* ---- lthreads destroyed while they wait -------------------------------------
 */

static lthread_t *victims[3];
static int got[3], dv_cancelled, dv_phase;

static void dv_waiter(lthread_t *lt, void *arg)
{
    int k = (int)(intptr_t)arg;

    victims[k] = lt;
    add(&nwaiting, 1);
    if (k == 1)
        CHECK_EQ(lthread_mutex_timedlock(mx, 60000), 0);
    else
        CHECK_EQ(lthread_mutex_lock(mx), 0);
    add(&got[k], 1);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
}

/* Joins a victim: returns once it is destroyed (ECANCELED). */
static void dv_joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    errno = 0;
    CHECK_EQ(lthread_join(arg, NULL, 0), -1);
    CHECK_EQ(errno, ECANCELED);
    add(&dv_cancelled, 1);
}

/* Same scheduler: victims 0 and 1 are destroyed while they wait, 2 gets
 * the mutex. */
static void dv_holder(lthread_t *lt, void *arg)
{
    lthread_t *w, *j;
    int rc;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    for (int k = 0; k < 3; k++) {
        CHECK_EQ(lthread_create(&w, dv_waiter, (void *)(intptr_t)k), 0);
        while (get(&nwaiting) < k + 1)
            lthread_sleep(0);
    }
    CHECK_EQ(lthread_destroy(victims[0]), 0);
    CHECK_EQ(lthread_destroy(victims[1]), 0);
    errno = 0;
    CHECK_EQ(lthread_mutex_destroy(mx), -1); /* 2 still waits */
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    while (get(&got[2]) < 1)
        lthread_sleep(1);
    CHECK_EQ(got[0] + got[1], 0);

    /* The only waiter destroyed: unlock leaves the mutex free. */
    nwaiting = 0;
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    CHECK_EQ(lthread_create(&w, dv_waiter, (void *)(intptr_t)0), 0);
    while (get(&nwaiting) < 1)
        lthread_sleep(0);
    CHECK_EQ(lthread_create(&j, dv_joiner, victims[0]), 0);
    lthread_sleep(1); /* the joiner waits */
    CHECK_EQ(lthread_destroy(victims[0]), 0);
    CHECK_EQ(lthread_join(j, NULL, 0), 0);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(lthread_mutex_trylock(mx), 0);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(got[0], 0);

    /* Handed over by the unlock, destroyed before it ran (it never
     * returned from lthread_mutex_lock()): the mutex is passed on, to
     * the next waiter (1), then to nobody (free). */
    nwaiting = 0;
    got[1] = 0;
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(lthread_create(&w, dv_waiter, (void *)(intptr_t)k), 0);
        while (get(&nwaiting) < k + 1)
            lthread_sleep(0);
    }
    CHECK_EQ(lthread_mutex_unlock(mx), 0); /* to 0, which is READY now */
    CHECK_EQ(lthread_destroy(victims[0]), 0);
    rc = lthread_mutex_timedlock(mx, 1000); /* after 1 is done */
    CHECK_EQ(rc, 0);
    CHECK_EQ(got[0], 0);
    CHECK_EQ(got[1], 1);
    if (rc != 0) {
        /* Held for good by the destroyed lthread: 1 would wait forever.
         * Go on with a new mutex (this one is leaked). */
        CHECK_EQ(lthread_destroy(victims[1]), 0);
        CHECK_EQ(lthread_mutex_create(&mx), 0);
        return;
    }
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    nwaiting = 0;
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    CHECK_EQ(lthread_create(&w, dv_waiter, (void *)(intptr_t)0), 0);
    while (get(&nwaiting) < 1)
        lthread_sleep(0);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(lthread_destroy(victims[0]), 0);
    CHECK_EQ(lthread_mutex_trylock(mx), 0);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(got[0], 0);
}

/* Another scheduler's waiter, destroyed from a plain pthread. */
static void dv_remote_sched(lthread_t *lt, void *arg)
{
    lthread_t *w, *j;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&w, dv_waiter, (void *)(intptr_t)0), 0);
    CHECK_EQ(lthread_create(&j, dv_joiner, w), 0);
    CHECK_EQ(lthread_create(&w, dv_waiter, (void *)(intptr_t)2), 0);
    CHECK_EQ(lthread_join(j, NULL, 0), 0);
    set(&dv_phase, 1);
}

static void test_destroy_waiter(void)
{
    lthread_t *lt;
    pthread_t t;

    nwaiting = 0;
    CHECK_EQ(lthread_mutex_create(&mx), 0);
    CHECK_EQ(lthread_create(&lt, dv_holder, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_mutex_destroy(mx), 0);
    CHECK_EQ(dv_cancelled, 1);

    /* main holds the mutex; victim 0 and then 2 wait for it on another
     * scheduler; 0 is destroyed from here, and 2 gets it. */
    nwaiting = 0;
    got[0] = got[2] = 0;
    dv_cancelled = dv_phase = 0;
    CHECK_EQ(lthread_mutex_create(&mx), 0);
    CHECK_EQ(lthread_mutex_lock(mx), 0);
    t = start_sched(dv_remote_sched, NULL);
    wait_at_least(&nwaiting, 2);
    usleep(20000); /* both park, and the joiner too */
    CHECK_EQ(lthread_destroy(victims[0]), 0);
    wait_at_least(&dv_phase, 1); /* the destroy has been done */
    errno = 0;
    CHECK_EQ(lthread_mutex_destroy(mx), -1); /* 2 still waits */
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    wait_at_least(&got[2], 1);
    CHECK_EQ(got[0], 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(lthread_mutex_trylock(mx), 0);
    CHECK_EQ(lthread_mutex_unlock(mx), 0);
    CHECK_EQ(lthread_mutex_destroy(mx), 0);
    CHECK_EQ(dv_cancelled, 1);
}

int main(void)
{
    test_args();
    test_plain_alone();
    test_one_scheduler();
    test_timed();
    test_compute();
    test_plain_and_lthread();
    test_stress();
    test_destroy_waiter();
    return check_summary("test_mutex");
}
