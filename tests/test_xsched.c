/*
 * Calls between schedulers and from plain pthreads: cond signals and
 * broadcasts, wakeups, joins (done, timed out, cancelled by a destroy) and
 * destroys, delivered through the target scheduler's inbox; nothing lost,
 * nothing woken twice. Also: a scheduler waits for another's signal rather
 * than declaring a deadlock while another scheduler runs.
 */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "threads_util.h"

static lthread_cond_t *cond;
static int waiting, woken, signaller_up; /* __atomic */

/* ---- cond: signalled from a plain pthread, another scheduler, a compute
 * section ---------------------------------------------------------------- */

static void cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    __atomic_add_fetch(&waiting, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(lthread_cond_wait(cond, 0), 0);
    __atomic_add_fetch(&woken, 1, __ATOMIC_SEQ_CST);
}

static void wait_for(int *counter, int n)
{
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < n)
        usleep(200);
}

static void *waiters_main(void *arg)
{
    lthread_t *lt;
    int n = (int)(intptr_t)arg;

    for (int i = 0; i < n; i++)
        CHECK_EQ(lthread_create(&lt, cond_waiter, NULL), 0);
    wait_for(&signaller_up, 1);
    /* Alone with waiters only: the signals come from elsewhere; until the
     * other pthreads' schedulers end, that is no deadlock. */
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void signaller(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    __atomic_store_n(&signaller_up, 1, __ATOMIC_SEQ_CST);
    wait_for(&waiting, 3);
    usleep(2000); /* (the waiters park after counting) */
    CHECK_EQ(lthread_cond_signal(cond), 0);
    wait_for(&woken, 1);
    CHECK_EQ(lthread_compute_begin(), 0);
    CHECK_EQ(lthread_cond_signal(cond), 0); /* from a compute section */
    CHECK_EQ(lthread_compute_end(), 0);
    /* Our scheduler stays alive while a plain pthread signals the last:
     * a scheduler alone with waiters only would declare a deadlock. */
    wait_for(&woken, 3);
}

static void *signaller_main(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&lt, signaller, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_cond_from_elsewhere(void)
{
    pthread_t w, sg;

    waiting = woken = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(pthread_create(&w, NULL, waiters_main, (void *)3), 0);
    CHECK_EQ(pthread_create(&sg, NULL, signaller_main, NULL), 0);
    wait_for(&woken, 2);
    /* From this plain pthread: a broadcast wakes the last one. */
    CHECK_EQ(lthread_cond_broadcast(cond), 0);
    CHECK_EQ(pthread_join(sg, NULL), 0);
    CHECK_EQ(pthread_join(w, NULL), 0);
    CHECK_EQ(woken, 3);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

/* ---- join, wakeup and destroy across schedulers ---------------------------
 */

static lthread_t *volatile targets[4];
static int phase; /* __atomic */

static void target_sleeper(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;

    targets[i] = lt;
    __atomic_add_fetch(&phase, 1, __ATOMIC_SEQ_CST);
    lthread_sleep(i == 0 ? 30 : 60000);
    lthread_exit((void *)(intptr_t)(100 + i));
}

static void target_computer(lthread_t *lt, void *arg)
{
    (void)arg;
    targets[3] = lt;
    CHECK_EQ(lthread_compute_begin(), 0);
    __atomic_add_fetch(&phase, 1, __ATOMIC_SEQ_CST);
    usleep(100000);
    CHECK_EQ(lthread_compute_end(), 0);
    lthread_sleep(60000); /* destroyed here, when back */
}

static void *targets_main(void *arg)
{
    lthread_t *lt;

    (void)arg;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lthread_create(&lt, target_sleeper, (void *)(intptr_t)i), 0);
    CHECK_EQ(lthread_create(&lt, target_computer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void joiner(lthread_t *lt, void *arg)
{
    void *v = NULL;

    (void)lt;
    (void)arg;
    wait_for(&phase, 4);
    /* 0 exits by itself after 30 ms: a plain join. */
    CHECK_EQ(lthread_join(targets[0], &v, 5000), 0);
    CHECK(v == (void *)100);
    /* 1 sleeps for a minute: a timed join gives up, a wakeup ends it. */
    CHECK_EQ(lthread_join(targets[1], &v, 20), -2);
    CHECK_EQ(lthread_wakeup(targets[1]), 0);
    CHECK_EQ(lthread_join(targets[1], &v, 0), 0);
    CHECK(v == (void *)101);
    /* 2 is destroyed by a plain pthread while we join it. */
    CHECK_EQ(lthread_join(targets[2], &v, 0), -1);
    CHECK_EQ(errno, ECANCELED);
}

static void *destroyer_main(void *arg)
{
    (void)arg;
    wait_for(&phase, 4);
    usleep(100000); /* the joiner of 2 has parked */
    CHECK_EQ(lthread_destroy(targets[2]), 0);
    /* 3 computes: destroyed once it is back home. */
    CHECK_EQ(lthread_destroy(targets[3]), 0);
    return NULL;
}

static void *joiner_main(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&lt, joiner, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_join_destroy(void)
{
    pthread_t t, j, d;
    double t0 = check_now_ms();

    phase = 0;
    CHECK_EQ(pthread_create(&t, NULL, targets_main, NULL), 0);
    CHECK_EQ(pthread_create(&j, NULL, joiner_main, NULL), 0);
    CHECK_EQ(pthread_create(&d, NULL, destroyer_main, NULL), 0);
    CHECK_EQ(pthread_join(j, NULL), 0);
    CHECK_EQ(pthread_join(d, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* Nothing waited for its minute. */
    CHECK(check_now_ms() - t0 < 30000);
}

/* ---- a stress: many lthreads on 4 schedulers signal and join each other --
 */

enum { NSCHED = 4 };
#if CHECK_TSAN
enum { PER = 200, ROUNDS = 20 };
#else
enum { PER = 1000, ROUNDS = 50 };
#endif

static lthread_cond_t *conds[NSCHED];
static int nsignals_done[NSCHED], nwoken[NSCHED]; /* __atomic */
static int stop_all;                              /* __atomic */

static void stress_waiter(lthread_t *lt, void *arg)
{
    int me = (int)(intptr_t)arg;

    (void)lt;
    while (!__atomic_load_n(&stop_all, __ATOMIC_SEQ_CST))
        if (lthread_cond_wait(conds[me], 5) == 0)
            __atomic_add_fetch(&nwoken[me], 1, __ATOMIC_RELAXED);
}

static void stress_signaller(lthread_t *lt, void *arg)
{
    int me = (int)(intptr_t)arg;

    (void)lt;
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < NSCHED; k++)
            CHECK_EQ(lthread_cond_signal(conds[(me + k) % NSCHED]), 0);
        __atomic_add_fetch(&nsignals_done[me], 1, __ATOMIC_RELAXED);
        lthread_sleep(1);
    }
}

static void *stress_main(void *arg)
{
    int me = (int)(intptr_t)arg;
    lthread_t *lt;

    for (int i = 0; i < PER; i++)
        CHECK_EQ(lthread_create(&lt, stress_waiter, arg), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_create(&lt, stress_signaller, arg), 0);
    (void)me;
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_stress(void)
{
    pthread_t t[NSCHED];
    long total = 0;

    for (int i = 0; i < NSCHED; i++)
        CHECK_EQ(lthread_cond_create(&conds[i]), 0);
    for (int i = 0; i < NSCHED; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, stress_main, (void *)(intptr_t)i),
                 0);
    for (int i = 0; i < NSCHED; i++)
        wait_for(&nsignals_done[i], 4 * ROUNDS);
    __atomic_store_n(&stop_all, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < NSCHED; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        total += nwoken[i];
        CHECK_EQ(lthread_cond_destroy(conds[i]), 0);
    }
    /* Each signal wakes at most one waiter (waiters may time out as the
     * signal arrives: then it wakes nobody). */
    CHECK(total <= (long)NSCHED * 4 * ROUNDS * NSCHED);
    CHECK(total > 0);
}

int main(void)
{
    /* Schedulers spin for their inbox before they sleep (off by default;
     * the other multicore tests run without it): the same calls, with the
     * inbox held armed by a spinner while posts come. */
    setenv("LTHREAD_SPIN_US", "50", 1);
    test_cond_from_elsewhere();
    test_join_destroy();
    test_stress();
    return check_summary("test_xsched");
}
