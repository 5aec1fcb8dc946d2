/* The timer heap, seen through the API: hundreds of timed waits (sleeps
 * and cond waits with a timeout) with random deadlines, a third of them
 * ended early by lthread_wakeup(), lthread_cond_signal() or
 * lthread_destroy(), which remove timers from the middle of the heap. The
 * others must end no earlier than their deadline and in deadline order:
 * the scheduler fires expired timers smallest first, into a FIFO ready
 * queue, so even on a loaded machine a wait that ends after one with a
 * later deadline means the heap was out of order. A lost timer shows as a
 * wait that never ends. A heap of known shape first makes sure a removal
 * that must sift the moved timer up is tested, not left to chance. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define N 300
#define MAX_MS 120
#define ROUNDS 3

struct timed {
    lthread_t *lt;
    lthread_cond_t *cond; /* its own, for a cond wait */
    int use_cond;
    unsigned ms;
    /* The library's deadline is its clock reading at the call + ms, some
     * time between `deadline` (the test's reading just before the call +
     * ms) and `latest` (the next reading by whatever ran next on the
     * scheduler, which ran after the timer was armed, + ms): exact bounds,
     * however long the machine stalls in between. */
    double deadline;
    double latest;
    double woke;
    int seq; /* the order in which the waits ended, from 1 */
    int result;
    int ended_early; /* woken, signalled or destroyed on purpose */
    int destroyed;
};

static struct timed w[N];
static int seq;
static struct timed *armed_last; /* started last, its `latest` unknown */

/* Something runs on the scheduler at `now`: the wait started last has
 * armed its timer by then. */
static double mark(void)
{
    double now = check_now_ms();

    if (armed_last)
        armed_last->latest = now + armed_last->ms;
    armed_last = NULL;
    return now;
}

static void timed_wait(lthread_t *lt, void *arg)
{
    struct timed *t = arg;

    (void)lt;
    t->deadline = mark() + t->ms;
    t->latest = 1e300;
    armed_last = t;
    t->result =
        t->use_cond ? lthread_cond_wait(t->cond, t->ms) : lthread_sleep(t->ms);
    t->woke = mark();
    t->seq = ++seq;
}

static int by_seq(const void *a, const void *b)
{
    const struct timed *x = *(struct timed *const *)a;
    const struct timed *y = *(struct timed *const *)b;

    return x->seq - y->seq;
}

static void round_of_waits(unsigned seed)
{
    /* A margin for the rounding of the clock readings. */
    const double eps = 0.01;
    struct timed *ended[N];
    int n = 0, inversions = 0, early = 0;

    srand(seed);
    seq = 0;
    for (int i = 0; i < N; i++) {
        struct timed *t = &w[i];

        *t = (struct timed){.ms = 1 + (unsigned)rand() % MAX_MS,
                            .use_cond = rand() % 3 == 0};
        if (t->use_cond)
            CHECK_EQ(lthread_cond_create(&t->cond), 0);
        CHECK_EQ(lthread_create(&t->lt, timed_wait, t), 0);
    }
    /* End a third early, at random moments, while the rest expire. */
    for (int k = 0; k < N / 3; k++) {
        struct timed *t = &w[rand() % N];

        lthread_sleep((uint64_t)(rand() % 3));
        mark();
        if (t->ended_early || t->seq)
            continue;
        t->ended_early = 1;
        if (rand() % 4 == 0) {
            t->destroyed = 1;
            CHECK_EQ(lthread_destroy(t->lt), 0);
        } else if (t->use_cond) {
            CHECK_EQ(lthread_cond_signal(t->cond), 0);
        } else {
            CHECK_EQ(lthread_wakeup(t->lt), 0);
        }
    }
    for (int i = 0; i < N; i++) {
        struct timed *t = &w[i];

        if (!t->destroyed &&
            lthread_join(t->lt, NULL, 10 * MAX_MS * (uint64_t)check_slow())) {
            CHECK(!"a timed wait never ended: its timer was lost");
            CHECK_EQ(lthread_destroy(t->lt), 0);
            t->ended_early = 1;
        }
        if (!t->ended_early) {
            CHECK_EQ(t->result, t->use_cond ? -2 : 0);
            ended[n++] = t;
            if (t->woke + 0.01 < t->deadline)
                early++;
        }
        if (t->cond)
            CHECK_EQ(lthread_cond_destroy(t->cond), 0);
    }
    qsort(ended, (size_t)n, sizeof(ended[0]), by_seq);
    for (int i = 1; i < n; i++) {
        /* Out of order for sure: the one that ended first was due, at
         * the earliest, after the other was due at the latest. */
        if (ended[i - 1]->deadline <= ended[i]->latest + eps)
            continue;
        if (inversions++ < 5)
            fprintf(stderr,
                    "    round %u: a wait due at +%.2f ms or later ended "
                    "before one due at +%.2f ms or earlier\n",
                    seed, ended[i - 1]->deadline - ended[0]->deadline,
                    ended[i]->latest - ended[0]->deadline);
    }
    CHECK_EQ(inversions, 0);
    CHECK_EQ(early, 0);
    CHECK(n > N / 2);
}

/*
 * Waits that start in one round add their timers in creation order, so
 * these deadlines (in units) give the heap array exactly this shape:
 *
 *   [1, 20, 2, 21, 22, 3, 5, 23, 24, 25, 26, 6, 7, 8, 9]
 *
 * Ending the wait due at 21 early (by `how`) moves the last timer, 9, into
 * its slot, under 20: it must be sifted up. Left there, it fires only when
 * 20 does, after it.
 */
static void shaped_heap(int how)
{
    static const unsigned due[] = {1,  20, 2,  21, 22, 3, 5, 23,
                                   24, 25, 26, 6,  7,  8, 9};
    enum { M = sizeof(due) / sizeof(due[0]), REMOVED = 3 };
    const unsigned unit = 4 * (unsigned)check_slow();
    struct timed *ended[M];
    int n = 0, bad = 0;

    seq = 0;
    for (int i = 0; i < M; i++) {
        struct timed *t = &w[i];

        *t = (struct timed){.ms = due[i] * unit,
                            .use_cond = i == REMOVED && how == 2};
        if (t->use_cond)
            CHECK_EQ(lthread_cond_create(&t->cond), 0);
        CHECK_EQ(lthread_create(&t->lt, timed_wait, t), 0);
    }
    lthread_sleep(0); /* they all start, in order, before we go on */
    CHECK_EQ(seq, 0);
    if (how == 0)
        CHECK_EQ(lthread_wakeup(w[REMOVED].lt), 0);
    else if (how == 1)
        CHECK_EQ(lthread_destroy(w[REMOVED].lt), 0);
    else
        CHECK_EQ(lthread_cond_signal(w[REMOVED].cond), 0);
    for (int i = 0; i < M; i++) {
        if (i == REMOVED && how == 1)
            continue;
        CHECK_EQ(lthread_join(w[i].lt, NULL, 10000 * (uint64_t)check_slow()),
                 0);
        if (w[i].cond)
            CHECK_EQ(lthread_cond_destroy(w[i].cond), 0);
        if (i != REMOVED)
            ended[n++] = &w[i];
    }
    /* In the order they ended, the deadlines never go down (bounded as in
     * round_of_waits, so that a stall between two starts is no error). */
    qsort(ended, (size_t)n, sizeof(ended[0]), by_seq);
    for (int i = 1; i < n; i++) {
        if (ended[i - 1]->deadline <= ended[i]->latest + 0.01)
            continue;
        if (bad++ == 0)
            fprintf(stderr,
                    "    heap of known shape (removal %d): the wait due at "
                    "%u units ended before the one due at %u\n",
                    how, ended[i - 1]->ms / unit, ended[i]->ms / unit);
    }
    CHECK_EQ(bad, 0);
}

static void rounds(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int how = 0; how < 3; how++)
        shaped_heap(how);
    for (unsigned r = 1; r <= ROUNDS; r++)
        round_of_waits(r);
}

int main(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, rounds, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return check_summary("test_timer_order");
}
