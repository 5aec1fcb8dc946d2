/*
 * create, State Threads peer: the main ST thread creates a joinable thread
 * with ST's default stack (64 KiB in this build) and joins it, N times.
 *   st.loop - ns per create + run + join
 * Usage: create_st [N]
 */
#include <st.h>

#include "bench.h"

static void *empty(void *arg)
{
    bench_sink++;
    return arg;
}

static void loop(long n)
{
    long i;
    for (i = 0; i < n; i++) {
        void *ret = NULL;
        st_thread_t t = st_thread_create(empty, (void *)(intptr_t)i, 1, 0);
        if (!t)
            BENCH_DIE("st_thread_create failed at %ld", i);
        if (st_thread_join(t, &ret) != 0 || ret != (void *)(intptr_t)i)
            BENCH_DIE("st_thread_join failed at %ld", i);
    }
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 1000000);
    uint64_t t0, t1;

    if (st_init() < 0)
        BENCH_DIE("st_init failed");
    loop(n / 100 + 1000); /* warm-up: stack cache, page faults */
    t0 = bench_now_ns();
    loop(n);
    t1 = bench_now_ns();
    bench_result("create", "st.loop", (double)(t1 - t0) / (double)n, "ns");
    return 0;
}
