/*
 * Compute sections and shared stack regions. An lthread in a section keeps
 * its region: a region-mate that must run meanwhile waits for it (the known
 * limit of the design, reported here, not checked). Checked: lthreads on
 * other regions keep running (the section lasts until they have ticked a
 * number of times, which they could not do if it held them up); the
 * computing lthread's frames are never evicted while it is away; and
 * learning: once an lthread of function f has computed, later lthreads of
 * f get private stacks, so they hold up nobody. Reads the library's
 * internal state (tests link the static lib).
 */
#include <lthread.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lthread_int.h"

/* A section gives up waiting for the tickers after HOLD_MAX_MS: only a
 * broken library gets there (check.h, rule 2). */
#define HOLD_MAX_MS (10000.0 * check_slow())

enum {
    TICK_MS = 10,
    TICKS_PER_SECTION = 10, /* each watched ticker, during each section */
    MIN_SECTION_MS = 100,   /* and at least this long */
    NTICKERS = 7
};

struct ticker {
    struct lthread__region *region;
    double max_late_ms;
    atomic_int ticks; /* read by the compute pthreads */
};

static volatile int stop;

static void ticker_fn(lthread_t *lt, void *arg)
{
    struct ticker *t = arg;
    char junk[2048]; /* a frame worth copying */

    t->region = lt->region;
    while (!stop) {
        double t0 = check_now_ms(), late;

        memset(junk, atomic_load(&t->ticks) & 0xff, sizeof(junk));
        lthread_sleep(TICK_MS);
        late = check_now_ms() - t0 - TICK_MS;
        if (late > t->max_late_ms)
            t->max_late_ms = late;
        atomic_fetch_add(&t->ticks, 1);
    }
    __asm__ volatile("" : : "r"(junk) : "memory");
}

struct computer {
    struct lthread__region *region;
    int rc_begin, rc_end;
    int locals_ok;
    int was_private;
    int hold_missed; /* the watched tickers did not tick in HOLD_MAX_MS */
    /* The tickers that must keep ticking while it computes. */
    struct ticker *watch[NTICKERS];
    int nwatch;
};

/* Whether every watched ticker ticked TICKS_PER_SECTION times since
 * `from` (their counts when the section began). */
static int ticked_enough(const struct computer *c, const int *from)
{
    for (int i = 0; i < c->nwatch; i++)
        if (atomic_load(&c->watch[i]->ticks) < from[i] + TICKS_PER_SECTION)
            return 0;
    return 1;
}

/* Computes (sleeps 1 ms at a time) until the watched tickers ticked
 * enough and MIN_SECTION_MS passed, checking its locals every step: a
 * mate restored over them would show. */
static void computer_body(struct computer *c)
{
    char buf[1024];
    int from[NTICKERS];
    int ok = 1, missed = 0;
    double t0;

    memset(buf, 0x5a, sizeof(buf));
    c->rc_begin = lthread_compute_begin();
    t0 = check_now_ms();
    for (int i = 0; i < c->nwatch; i++)
        from[i] = atomic_load(&c->watch[i]->ticks);
    while (!ticked_enough(c, from) || check_now_ms() - t0 < MIN_SECTION_MS) {
        if (check_now_ms() - t0 > HOLD_MAX_MS) {
            missed = 1;
            break;
        }
        usleep(1000);
        for (size_t j = 0; j < sizeof(buf); j++)
            ok &= buf[j] == 0x5a;
    }
    c->rc_end = lthread_compute_end();
    for (size_t j = 0; j < sizeof(buf); j++)
        ok &= buf[j] == 0x5a;
    c->locals_ok = ok;
    c->hold_missed = missed;
}

/* Watches the tickers that are not on the computer's region. */
static void watch_others(struct computer *c, struct ticker *t, int n)
{
    c->nwatch = 0;
    for (int i = 0; i < n; i++)
        if (t[i].region != c->region)
            c->watch[c->nwatch++] = &t[i];
}

static struct ticker tickers[NTICKERS];

static void mate_computer(lthread_t *lt, void *arg)
{
    struct computer *c = arg;

    c->region = lt->region;
    c->was_private = !!(lt->flags & LTHREAD__F_PRIVATE);
    lthread_sleep(35); /* everyone binds first; then off-beat with ticks */
    watch_others(c, tickers, NTICKERS);
    computer_body(c);
    stop = 1;
}

static void check_computer(const struct computer *c)
{
    CHECK_EQ(c->rc_begin, 0);
    CHECK_EQ(c->rc_end, 0);
    CHECK(c->locals_ok);
    /* The lthreads it watched kept ticking while it computed. */
    CHECK_EQ(c->hold_missed, 0);
}

/* ---- mates wait, others do not ------------------------------------------ */

static void test_mates(void)
{
    struct ticker *t = tickers;
    struct computer c;
    lthread_t *lt;
    int nmates = 0, nothers = 0;
    double mate_worst = 0, other_worst = 0;

    memset(tickers, 0, sizeof(tickers));
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
        }
    }
    printf("LTHREAD_REGIONS=2, one lthread computes until the %d others "
           "ticked %d times: %d region-mates delayed up to %.1f ms (the "
           "known limit); the others up to %.2f ms late\n",
           nothers, TICKS_PER_SECTION, nmates, mate_worst, other_worst);
    CHECK(nmates >= 1);
    CHECK(nothers >= 1);
    CHECK_EQ(c.nwatch, nothers);
}

/* ---- learning: later lthreads of a computing function get own stacks ---- */

static int learner_ntickers; /* the tickers running: 0 or 1 */

static void learner(lthread_t *lt, void *arg)
{
    struct computer *c = arg;

    c->region = lt->region;
    c->was_private = !!(lt->flags & LTHREAD__F_PRIVATE);
    lthread_sleep(35);
    watch_others(c, tickers, learner_ntickers);
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

static void nothing(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
}

/* A learner started where a new lthread's start is inline: a region that
 * no lthread is bound to, just emptied by the exit of `nothing` (main is
 * on the other one). Learned, it must still look fn up there. */
static void learned_on_free_region(lthread_t *lt, void *arg)
{
    lthread_t *kid;

    (void)lt;
    CHECK_EQ(lthread_create(&kid, nothing, NULL), 0);
    CHECK_EQ(lthread_join(kid, NULL, 0), 0);
    CHECK_EQ(lthread_create(&kid, learner, arg), 0);
    CHECK_EQ(lthread_join(kid, NULL, 0), 0);
}

static void test_learning(void)
{
    struct computer first, later[3];
    struct ticker *t = &tickers[0];
    lthread_t *lt;

    memset(&first, 0, sizeof(first));
    memset(later, 0, sizeof(later));
    memset(tickers, 0, sizeof(tickers));
    /* One region: every lthread that is not private shares it. */
    setenv("LTHREAD_REGIONS", "1", 1);

    /* The first lthread of `learner` shares the region and computes (no
     * ticker runs: it watches none). */
    learner_ntickers = 0;
    CHECK(!lthread__compute_learned(learner));
    CHECK_EQ(lthread_create(&lt, learner, &first), 0);
    CHECK_EQ(lthread_run(), 0);
    check_computer(&first);
    CHECK(!first.was_private);
    CHECK(lthread__compute_learned(learner));

    /* The next ones get stacks of their own: the ticker, on the one
     * shared region, never waits for them (each computes until it ticked
     * TICKS_PER_SECTION times). */
    stop = 0;
    learner_ntickers = 1;
    CHECK_EQ(lthread_create(&lt, ticker_fn, t), 0);
    CHECK_EQ(lthread_create(&lt, learned_main, later), 0);
    CHECK_EQ(lthread_run(), 0);
    unsetenv("LTHREAD_REGIONS");
    for (int i = 0; i < 3; i++) {
        check_computer(&later[i]);
        CHECK(later[i].was_private);
        CHECK(later[i].region != t->region);
        CHECK_EQ(later[i].nwatch, 1);
    }
    CHECK(atomic_load(&t->ticks) >= TICKS_PER_SECTION);

    /* Two regions, one of them free when the learner starts. */
    {
        struct computer solo;

        memset(&solo, 0, sizeof(solo));
        learner_ntickers = 0;
        setenv("LTHREAD_REGIONS", "2", 1);
        CHECK_EQ(lthread_create(&lt, learned_on_free_region, &solo), 0);
        CHECK_EQ(lthread_run(), 0);
        unsetenv("LTHREAD_REGIONS");
        check_computer(&solo);
        CHECK(solo.was_private);
    }
    printf("learned: 3 later lthreads of a computing function on private "
           "stacks; the ticker on the shared region ticked %d times, at "
           "most %.2f ms late\n",
           atomic_load(&t->ticks), t->max_late_ms);
}

int main(void)
{
    test_mates();
    test_learning();
    return check_summary("test_compute_regions");
}
