/*
 * The pool grows when sections arrive faster than idle workers take them:
 * with k idle workers, k + 3 sections started in one scheduler round all
 * run at once (the bound, LTHREAD_COMPUTE_MAX, is set high here). Each
 * section waits until all k + 3 are in (a pool that did not grow would
 * leave some queued behind the waiting ones: they would wait until
 * HOLD_MAX_MS), then takes SECTION_MS: a round takes about SECTION_MS.
 */
#include <lthread.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "threads_util.h"

/* Only a broken pool makes a section wait this long (check.h, rule 2). */
#define HOLD_MAX_MS (10000.0 * check_slow())

enum { SECTION_MS = 200, ROUNDS = 5, EXTRA = 3 };

static atomic_int arrived;     /* sections of this round that started */
static atomic_int hold_missed; /* sections that ran into HOLD_MAX_MS */
static int round_size;

static void section(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    int rc_begin = lthread_compute_begin(); /* no CHECK inside */
    double until = check_now_ms() + HOLD_MAX_MS;

    atomic_fetch_add(&arrived, 1);
    while (atomic_load(&arrived) < round_size) {
        if (check_now_ms() > until || atomic_load(&hold_missed)) {
            atomic_fetch_add(&hold_missed, 1);
            break;
        }
        usleep(1000);
    }
    usleep(SECTION_MS * 1000);
    int rc_end = lthread_compute_end();
    CHECK_EQ(rc_begin, 0);
    CHECK_EQ(rc_end, 0);
}

int main(void)
{
    lthread_t *lt;
    int base;

    setenv("LTHREAD_COMPUTE_MAX", "64", 1);
    base = base_threads();
    if (base < 0 && platform_skip("idle workers (thread counts)"))
        return check_summary("test_compute_spawn");
    /* One worker, idle afterwards. */
    round_size = 1;
    CHECK_EQ(lthread_create(&lt, section, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    for (int r = 0; r < ROUNDS; r++) {
        int idle, k;
        double t0, took;

        usleep(50000); /* the workers are back waiting */
        idle = nthreads() - base;
        k = idle + EXTRA;
        atomic_store(&arrived, 0);
        round_size = k;
        t0 = check_now_ms();
        for (int i = 0; i < k; i++)
            CHECK_EQ(lthread_create(&lt, section, NULL), 0);
        CHECK_EQ(lthread_run(), 0);
        took = check_now_ms() - t0;
        printf("round %d: %d idle workers, %d sections of %d ms: %.0f ms\n", r,
               idle, k, SECTION_MS, took);
        CHECK(idle >= 1);
        /* All k were in their sections at once. */
        CHECK_EQ(atomic_load(&hold_missed), 0);
        CHECK(took >= SECTION_MS);
        CHECK_TIME(took < SECTION_MS + 100.0 * check_slow());
    }
    return check_summary("test_compute_spawn");
}
