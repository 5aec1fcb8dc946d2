/*
 * The pool grows when sections arrive faster than idle workers take them:
 * with k idle workers, k + 3 sections started in one scheduler round all
 * run at once (the bound, LTHREAD_COMPUTE_MAX, is set high here), so a
 * round of 200 ms sections takes about 200 ms, not a multiple of it.
 */
#include <lthread.h>

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "threads_util.h"

enum { SECTION_MS = 200, ROUNDS = 5, EXTRA = 3 };

static void section(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    int rc_begin = lthread_compute_begin(); /* no CHECK inside */
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
    CHECK_EQ(lthread_create(&lt, section, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    for (int r = 0; r < ROUNDS; r++) {
        int idle, k;
        double t0, took;

        usleep(50000); /* the workers are back waiting */
        idle = nthreads() - base;
        k = idle + EXTRA;
        t0 = check_now_ms();
        for (int i = 0; i < k; i++)
            CHECK_EQ(lthread_create(&lt, section, NULL), 0);
        CHECK_EQ(lthread_run(), 0);
        took = check_now_ms() - t0;
        printf("round %d: %d idle workers, %d sections of %d ms: %.0f ms\n", r,
               idle, k, SECTION_MS, took);
        CHECK(idle >= 1);
        CHECK(took < SECTION_MS + 100.0 * check_slow());
    }
    return check_summary("test_compute_spawn");
}
