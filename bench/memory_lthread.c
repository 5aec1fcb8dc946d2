/*
 * memory, lthread: N lthreads suspended at once.
 *   memory  lthread.<cond|sleep>.<N> - peak RSS per suspended lthread, bytes:
 *           (VmHWM once all N are suspended - VmHWM before the first create) /
 * N memwall lthread.<cond|sleep>.<N> - ms from the first create until all N
 *           have been created, suspended, woken and have exited
 * cond:  each waits in lthread_cond_wait() on one shared cond; woken by
 *        lthread_cond_broadcast().
 * sleep: each waits in lthread_sleep(1 hour); woken by lthread_wakeup().
 * A controller lthread creates them (detached), waits until the last one
 * has suspended, reads /proc/self/status, wakes them all and waits until
 * the last one has exited.
 * Usage: memory_lthread N cond|sleep
 */
#include <lthread.h>

#include "bench.h"

static long n;
static int sleep_mode;
static lthread_t **lts; /* sleep mode: whom to wake */
static lthread_cond_t *cv, *ctl;
static long suspended, finished;
static long long hwm0, hwm1;
static uint64_t t0, t_created, t_suspended, t1;

static void child(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    if (++suspended == n)
        lthread_cond_signal(ctl);
    if (sleep_mode)
        lthread_sleep(3600 * 1000);
    else
        lthread_cond_wait(cv, 0);
    if (++finished == n)
        lthread_cond_signal(ctl);
}

static void controller(lthread_t *lt, void *arg)
{
    lthread_attr_t det;
    lthread_t *c;
    long i;
    (void)lt;
    (void)arg;
    lthread_attr_init(&det);
    det.flags |= LTHREAD_ATTR_DETACHED;

    hwm0 = bench_vmhwm();
    t0 = bench_now_ns();
    for (i = 0; i < n; i++) {
        if (lthread_create_ex(&c, child, NULL, &det) != 0)
            BENCH_DIE("lthread_create failed at %ld", i);
        if (lts)
            lts[i] = c;
    }
    t_created = bench_now_ns();
    while (suspended < n)
        lthread_cond_wait(ctl, 0);
    t_suspended = bench_now_ns();
    hwm1 = bench_vmhwm();
    if (sleep_mode)
        for (i = 0; i < n; i++)
            lthread_wakeup(lts[i]);
    else
        lthread_cond_broadcast(cv);
    while (finished < n)
        lthread_cond_wait(ctl, 0);
    t1 = bench_now_ns();
}

int main(int argc, char **argv)
{
    lthread_t *lt;
    char variant[64];

    n = bench_arg(argc, argv, 1, 1000000);
    sleep_mode = argc > 2 && strcmp(argv[2], "sleep") == 0;
    if (sleep_mode) {
        lts = malloc(sizeof *lts * (size_t)n);
        if (!lts)
            BENCH_DIE("malloc failed");
        memset(lts, 0, sizeof *lts * (size_t)n); /* in the baseline */
    }
    if (lthread_cond_create(&cv) || lthread_cond_create(&ctl))
        BENCH_DIE("lthread_cond_create failed");
    if (lthread_create(&lt, controller, NULL) != 0)
        BENCH_DIE("lthread_create failed");
    if (lthread_run() != 0)
        BENCH_DIE("lthread_run failed");
    if (finished != n)
        BENCH_DIE("only %ld of %ld finished", finished, n);

    fprintf(stderr,
            "memory_lthread %s N=%ld: VmHWM %lld -> %lld KiB; create %.0f ms, "
            "suspend %.0f ms, wake+finish %.0f ms\n",
            sleep_mode ? "sleep" : "cond", n, hwm0 / 1024, hwm1 / 1024,
            (t_created - t0) / 1e6, (t_suspended - t_created) / 1e6,
            (t1 - t_suspended) / 1e6);
    snprintf(variant, sizeof variant, "lthread.%s.%s",
             sleep_mode ? "sleep" : "cond", bench_count_label(n));
    bench_result("memory", variant, (double)(hwm1 - hwm0) / (double)n, "B");
    bench_result("memwall", variant, (t1 - t0) / 1e6, "ms");
    return 0;
}
