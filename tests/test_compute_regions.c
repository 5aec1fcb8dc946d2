/*
 * Compute sections and shared stack regions. An lthread in a section keeps
 * its region: a region-mate that must run meanwhile waits for it (the known
 * limit of the design, reported here, not checked). Checked: lthreads on
 * other regions are never delayed; the computing lthread's frames are never
 * evicted while it is away; and learning: once an lthread of function f
 * has computed, later lthreads of f get private stacks, so they delay
 * nobody. Reads the library's internal state (tests link the static lib).
 */
#include <lthread.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/*
 * Lateness limits. A lthread held up by a compute section would be late by
 * the section's length (hundreds of ms); anything under WORST_LATE_MS is the
 * kernel sharing a few CPUs with the busy loops and other processes.
 */
#define WORST_LATE_MS (20.0 * check_slow())
#define MEAN_LATE_MS (2.0 * check_slow())
#include "lthread_int.h"

enum { TICK_MS = 10, COMPUTE_MS = 300, NTICKERS = 7 };

struct ticker {
    struct lthread__region *region;
    double max_late_ms;
    int ticks;
};

static volatile int stop;

static void ticker_fn(lthread_t *lt, void *arg)
{
    struct ticker *t = arg;
    char junk[2048]; /* a frame worth copying */

    t->region = lt->region;
    while (!stop) {
        double t0 = check_now_ms(), late;

        memset(junk, t->ticks & 0xff, sizeof(junk));
        lthread_sleep(TICK_MS);
        late = check_now_ms() - t0 - TICK_MS;
        if (late > t->max_late_ms)
            t->max_late_ms = late;
        t->ticks++;
    }
    __asm__ volatile("" : : "r"(junk) : "memory");
}

struct computer {
    struct lthread__region *region;
    int rc_begin, rc_end;
    int locals_ok;
    int was_private;
};

/* Checks its locals every ms of the section: a mate restored over them
 * would show. */
static void computer_body(struct computer *c)
{
    char buf[1024];
    int ok = 1;

    memset(buf, 0x5a, sizeof(buf));
    c->rc_begin = lthread_compute_begin();
    for (int i = 0; i < COMPUTE_MS; i++) {
        usleep(1000);
        for (size_t j = 0; j < sizeof(buf); j++)
            ok &= buf[j] == 0x5a;
    }
    c->rc_end = lthread_compute_end();
    for (size_t j = 0; j < sizeof(buf); j++)
        ok &= buf[j] == 0x5a;
    c->locals_ok = ok;
}

static void mate_computer(lthread_t *lt, void *arg)
{
    struct computer *c = arg;

    c->region = lt->region;
    c->was_private = !!(lt->flags & LTHREAD__F_PRIVATE);
    lthread_sleep(35); /* everyone binds first; then off-beat with ticks */
    computer_body(c);
    stop = 1;
}

static void check_computer(const struct computer *c)
{
    CHECK_EQ(c->rc_begin, 0);
    CHECK_EQ(c->rc_end, 0);
    CHECK(c->locals_ok);
}

/* ---- mates wait, others do not ------------------------------------------ */

static void test_mates(void)
{
    struct ticker t[NTICKERS];
    struct computer c;
    lthread_t *lt;
    int nmates = 0, nothers = 0;
    double mate_worst = 0, other_worst = 0;

    memset(t, 0, sizeof(t));
    memset(&c, 0, sizeof(c));
    stop = 0;
    /* Two regions: the lthreads share them, whatever the spreading. */
    setenv("LTHREAD_REGIONS", "2", 1);
    CHECK_EQ(lthread_create(&lt, mate_computer, &c), 0);
    for (int i = 0; i < NTICKERS; i++)
        CHECK_EQ(lthread_create(&lt, ticker_fn, &t[i]), 0);
    CHECK_EQ(lthread_run(), 0);
    unsetenv("LTHREAD_REGIONS");

    check_computer(&c);
    CHECK(!c.was_private);
    for (int i = 0; i < NTICKERS; i++) {
        if (t[i].region == c.region) {
            nmates++;
            if (t[i].max_late_ms > mate_worst)
                mate_worst = t[i].max_late_ms;
        } else {
            nothers++;
            if (t[i].max_late_ms > other_worst)
                other_worst = t[i].max_late_ms;
            CHECK(t[i].max_late_ms < WORST_LATE_MS);
        }
    }
    printf("LTHREAD_REGIONS=2, one lthread computes %d ms: %d region-mates "
           "delayed up to %.1f ms (the known limit); %d others up to "
           "%.2f ms late\n",
           COMPUTE_MS, nmates, mate_worst, nothers, other_worst);
    CHECK(nmates >= 1);
    CHECK(nothers >= 1);
}

/* ---- learning: later lthreads of a computing function get own stacks ---- */

static void learner(lthread_t *lt, void *arg)
{
    struct computer *c = arg;

    c->region = lt->region;
    c->was_private = !!(lt->flags & LTHREAD__F_PRIVATE);
    lthread_sleep(35);
    computer_body(c);
}

static void learned_main(lthread_t *lt, void *arg)
{
    struct computer *c = arg;
    lthread_t *kids[3];

    (void)lt;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lthread_create(&kids[i], learner, &c[i]), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lthread_join(kids[i], NULL, 0), 0);
    stop = 1;
}

static void test_learning(void)
{
    struct computer first, later[3];
    struct ticker t;
    lthread_t *lt;

    memset(&first, 0, sizeof(first));
    memset(later, 0, sizeof(later));
    memset(&t, 0, sizeof(t));
    /* One region: every lthread that is not private shares it. */
    setenv("LTHREAD_REGIONS", "1", 1);

    /* The first lthread of `learner` shares the region and computes. */
    CHECK(!lthread__compute_learned(learner));
    CHECK_EQ(lthread_create(&lt, learner, &first), 0);
    CHECK_EQ(lthread_run(), 0);
    check_computer(&first);
    CHECK(!first.was_private);
    CHECK(lthread__compute_learned(learner));

    /* The next ones get stacks of their own: the ticker, on the one
     * shared region, never waits for them. */
    stop = 0;
    CHECK_EQ(lthread_create(&lt, ticker_fn, &t), 0);
    CHECK_EQ(lthread_create(&lt, learned_main, later), 0);
    CHECK_EQ(lthread_run(), 0);
    unsetenv("LTHREAD_REGIONS");
    for (int i = 0; i < 3; i++) {
        check_computer(&later[i]);
        CHECK(later[i].was_private);
        CHECK(later[i].region != t.region);
    }
    CHECK(t.ticks >= 20);
    CHECK(t.max_late_ms < WORST_LATE_MS);
    printf("learned: 3 later lthreads of a computing function on private "
           "stacks; the ticker on the shared region at most %.2f ms late\n",
           t.max_late_ms);
}

int main(void)
{
    test_mates();
    test_learning();
    return check_summary("test_compute_regions");
}
