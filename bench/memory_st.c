/*
 * memory, State Threads peer: N ST threads (default stack size, 64 KiB in
 * this build) suspended at once; same measurements as memory_lthread.c:
 *   memory  st.<cond|sleep>.<N>  bytes of peak RSS per suspended thread
 *   memwall st.<cond|sleep>.<N>  ms to create, suspend, wake and finish all
 * cond:  st_cond_wait() on one cond, woken by st_cond_broadcast().
 * sleep: st_usleep(1 hour), woken by st_thread_interrupt().
 * The main ST thread is the controller.
 * Usage: memory_st N cond|sleep
 */
#include <st.h>

#include "bench.h"

static long n;
static int sleep_mode;
static st_thread_t *sts;
static st_cond_t cv, ctl;
static long suspended, finished;

static void *child(void *arg)
{
    (void)arg;
    if (++suspended == n)
        st_cond_signal(ctl);
    if (sleep_mode)
        st_usleep(3600ull * 1000000ull);
    else
        st_cond_wait(cv);
    if (++finished == n)
        st_cond_signal(ctl);
    return NULL;
}

int main(int argc, char **argv)
{
    long long hwm0, hwm1;
    uint64_t t0, t_created, t_suspended, t1;
    char variant[64];
    long i;

    n = bench_arg(argc, argv, 1, 1000000);
    sleep_mode = argc > 2 && strcmp(argv[2], "sleep") == 0;
    if (st_init() < 0)
        BENCH_DIE("st_init failed");
    if (sleep_mode) {
        sts = malloc(sizeof *sts * (size_t)n);
        if (!sts)
            BENCH_DIE("malloc failed");
        memset(sts, 0, sizeof *sts * (size_t)n);
    }
    cv = st_cond_new();
    ctl = st_cond_new();

    hwm0 = bench_vmhwm();
    t0 = bench_now_ns();
    for (i = 0; i < n; i++) {
        st_thread_t t = st_thread_create(child, NULL, 0, 0);
        if (!t)
            BENCH_DIE("st_thread_create failed at %ld (VMA limit? "
                      "vm.max_map_count)",
                      i);
        if (sts)
            sts[i] = t;
    }
    t_created = bench_now_ns();
    while (suspended < n)
        st_cond_wait(ctl);
    t_suspended = bench_now_ns();
    hwm1 = bench_vmhwm();
    if (sleep_mode)
        for (i = 0; i < n; i++)
            st_thread_interrupt(sts[i]);
    else
        st_cond_broadcast(cv);
    while (finished < n)
        st_cond_wait(ctl);
    t1 = bench_now_ns();

    fprintf(stderr,
            "memory_st %s N=%ld: VmHWM %lld -> %lld KiB; create %.0f ms, "
            "suspend %.0f ms, wake+finish %.0f ms\n",
            sleep_mode ? "sleep" : "cond", n, hwm0 / 1024, hwm1 / 1024,
            (t_created - t0) / 1e6, (t_suspended - t_created) / 1e6,
            (t1 - t_suspended) / 1e6);
    snprintf(variant, sizeof variant, "st.%s.%s", sleep_mode ? "sleep" : "cond",
             bench_count_label(n));
    bench_result("memory", variant, (double)(hwm1 - hwm0) / (double)n, "B");
    bench_result("memwall", variant, (t1 - t0) / 1e6, "ms");
    return 0;
}
