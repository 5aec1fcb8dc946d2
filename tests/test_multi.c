/* Several pthreads, each with its own scheduler. */
#include <lthread.h>

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include <unistd.h>

#include "check.h"

enum { NPTHREADS = 4, NLT = 1000, ROUNDS = 10 };

/* ---- 4 schedulers at once: sleeps, conds, joins ------------------------ */

struct pair {
    lthread_cond_t *cond;
    int turn;
};

struct sched_state {
    int index;
    struct pair pairs[NLT / 2];
    lthread_t *lts[NLT];
    uint64_t ids[NLT + 1]; /* the children's, then the parent's */
    long moves;
    int joined;
};

static struct sched_state states[NPTHREADS];

struct child_arg {
    struct sched_state *st;
    int i;
};
static struct child_arg child_args[NPTHREADS][NLT];

static void child(lthread_t *lt, void *arg)
{
    struct child_arg *ca = arg;
    struct pair *p = &ca->st->pairs[ca->i / 2];
    int role = ca->i % 2;

    CHECK(lthread_current() == lt);
    ca->st->ids[ca->i] = lthread_id();
    lthread_sleep((uint64_t)(ca->i % 5));
    for (int r = 0; r < ROUNDS; r++) {
        while (p->turn != role)
            if (lthread_cond_wait(p->cond, 0) != 0)
                CHECK(!"lthread_cond_wait failed");
        ca->st->moves++;
        p->turn = !role;
        lthread_cond_signal(p->cond);
        if (r % 3 == 0)
            lthread_sleep(1);
    }
    lthread_exit((void *)(intptr_t)(ca->i + 1));
}

static void parent(lthread_t *lt, void *arg)
{
    struct sched_state *st = arg;

    (void)lt;
    st->ids[NLT] = lthread_id();
    for (int k = 0; k < NLT / 2; k++) {
        CHECK_EQ(lthread_cond_create(&st->pairs[k].cond), 0);
        st->pairs[k].turn = 0;
    }
    for (int i = 0; i < NLT; i++) {
        struct child_arg *ca = &child_args[st->index][i];

        ca->st = st;
        ca->i = i;
        CHECK_EQ(lthread_create(&st->lts[i], child, ca), 0);
    }
    for (int i = 0; i < NLT; i++) {
        void *v = NULL;

        /* Some joins time out first and are retried. */
        if (i % 100 == 0 && lthread_join(st->lts[i], &v, 1) == -2)
            CHECK_EQ(errno, ETIMEDOUT);
        if (v == NULL)
            CHECK_EQ(lthread_join(st->lts[i], &v, 0), 0);
        CHECK_EQ((intptr_t)v, i + 1);
        st->joined++;
    }
    for (int k = 0; k < NLT / 2; k++)
        CHECK_EQ(lthread_cond_destroy(st->pairs[k].cond), 0);
}

static void *sched_main(void *arg)
{
    struct sched_state *st = arg;
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, parent, st), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK(lthread_current() == NULL);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void test_parallel(void)
{
    pthread_t pt[NPTHREADS];
    static uint64_t all[NPTHREADS * (NLT + 1)];
    int n = 0, dups = 0, zeros = 0;

    for (int p = 0; p < NPTHREADS; p++) {
        states[p].index = p;
        CHECK_EQ(pthread_create(&pt[p], NULL, sched_main, &states[p]), 0);
    }
    for (int p = 0; p < NPTHREADS; p++)
        CHECK_EQ(pthread_join(pt[p], NULL), 0);
    for (int p = 0; p < NPTHREADS; p++) {
        CHECK_EQ(states[p].joined, NLT);
        CHECK_EQ(states[p].moves, (long)NLT * ROUNDS);
        for (int i = 0; i <= NLT; i++)
            all[n++] = states[p].ids[i];
    }
    qsort(all, (size_t)n, sizeof(all[0]), cmp_u64);
    for (int i = 0; i < n; i++)
        zeros += all[i] == 0;
    for (int i = 1; i < n; i++)
        dups += all[i] == all[i - 1];
    CHECK_EQ(zeros, 0);
    CHECK_EQ(dups, 0); /* ids are unique across pthreads */
}

/* ---- one pthread, several runs ----------------------------------------- */

static int cycle_count;

static void count(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_sleep((uint64_t)(intptr_t)arg);
    cycle_count++;
}

static void *cycles_main(void *arg)
{
    lthread_t *lt;

    (void)arg;
    for (int c = 0; c < 3; c++) {
        for (intptr_t i = 0; i < 10; i++)
            CHECK_EQ(lthread_create(&lt, count, (void *)(i % 3)), 0);
        CHECK_EQ(lthread_run(), 0);
        CHECK_EQ(cycle_count, 10 * (c + 1));
        CHECK_EQ(lthread_run(), 0);
    }
    return NULL;
}

static void test_cycles(void)
{
    pthread_t pt;

    cycle_count = 0;
    CHECK_EQ(pthread_create(&pt, NULL, cycles_main, NULL), 0);
    CHECK_EQ(pthread_join(pt, NULL), 0);
    CHECK_EQ(cycle_count, 30);
}

/* ---- calls on another pthread's lthread: delivered there ---------------- */

static lthread_t *a_lt;     /* published by pthread A */
static int b_done, a_wakes; /* __atomic */

static void a_body(lthread_t *lt, void *arg)
{
    (void)arg;
    __atomic_store_n(&a_lt, lt, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&b_done, __ATOMIC_SEQ_CST)) {
        double t0 = check_now_ms();

        lthread_sleep(60000);
        if (check_now_ms() - t0 < 30000)
            __atomic_add_fetch(&a_wakes, 1, __ATOMIC_SEQ_CST);
    }
    lthread_exit((void *)5);
}

static void *a_main(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&lt, a_body, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void b_waker(lthread_t *lt, void *arg)
{
    (void)lt;
    /* Posted after the join below (same pthread: in order), so A's
     * lthread exits with a joiner registered and is not freed as an
     * unjoined zombie when A's scheduler finishes. */
    __atomic_store_n(&b_done, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(lthread_wakeup(arg), 0);
}

static void b_body(lthread_t *lt, void *arg)
{
    lthread_t *other = __atomic_load_n(&a_lt, __ATOMIC_SEQ_CST), *w;
    void *v = NULL;

    (void)lt;
    (void)arg;
    /* A join that times out leaves it joinable. */
    CHECK_EQ(lthread_join(other, &v, 20), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(v == NULL);
    /* Woken from here, it sees b_done and exits: our join gets its value. */
    CHECK_EQ(lthread_create(&w, b_waker, other), 0);
    CHECK_EQ(lthread_join(other, &v, 0), 0);
    CHECK(v == (void *)5);
}

static void *b_main(void *arg)
{
    lthread_t *other, *lt;

    (void)arg;
    while ((other = __atomic_load_n(&a_lt, __ATOMIC_SEQ_CST)) == NULL)
        sched_yield();
    /* From a pthread with no scheduler: a wakeup cuts one sleep. */
    while (__atomic_load_n(&a_wakes, __ATOMIC_SEQ_CST) == 0) {
        CHECK_EQ(lthread_wakeup(other), 0);
        usleep(1000);
    }
    /* From an lthread of another scheduler. */
    CHECK_EQ(lthread_create(&lt, b_body, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_foreign(void)
{
    pthread_t a, b;

    CHECK_EQ(pthread_create(&a, NULL, a_main, NULL), 0);
    CHECK_EQ(pthread_create(&b, NULL, b_main, NULL), 0);
    CHECK_EQ(pthread_join(b, NULL), 0);
    CHECK_EQ(pthread_join(a, NULL), 0);
    CHECK(__atomic_load_n(&a_wakes, __ATOMIC_SEQ_CST) >= 2);
}

int main(void)
{
    test_parallel();
    test_cycles();
    test_foreign();
    return check_summary("test_multi");
}
