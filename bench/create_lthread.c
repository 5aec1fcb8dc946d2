/*
 * create, lthread: create + run + join/free of an empty lthread.
 *   lthread.loop           - one lthread creates a child and joins it, N times
 *   lthread.batch          - main creates N joinable lthreads, then
 *                            lthread_run() runs them and frees them all
 *   lthread.batch_detached - the same with LTHREAD_ATTR_DETACHED (each is
 *                            freed as it exits)
 * All in ns per lthread.
 * Usage: create_lthread [N]
 */
#include <lthread.h>

#include "bench.h"

static long n_loop;
static uint64_t loop_ns;

static void empty(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    bench_sink++;
}

static void creator(lthread_t *lt, void *arg)
{
    long i, n = n_loop;
    uint64_t t0 = 0;
    long warm = n / 100 + 1000;
    (void)lt;
    (void)arg;
    for (i = -warm; i < n; i++) {
        lthread_t *c;
        if (i == 0)
            t0 = bench_now_ns();
        if (lthread_create(&c, empty, NULL) != 0)
            BENCH_DIE("lthread_create failed at %ld", i);
        if (lthread_join(c, NULL, 0) != 0)
            BENCH_DIE("lthread_join failed at %ld", i);
    }
    loop_ns = bench_now_ns() - t0;
}

static double batch(long n, const lthread_attr_t *attr)
{
    uint64_t t0 = bench_now_ns();
    long i;
    for (i = 0; i < n; i++) {
        lthread_t *c;
        if (lthread_create_ex(&c, empty, NULL, attr) != 0)
            BENCH_DIE("lthread_create failed at %ld", i);
    }
    if (lthread_run() != 0)
        BENCH_DIE("lthread_run failed");
    return (double)(bench_now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 1000000);
    lthread_attr_t det;
    lthread_t *lt;
    double ns;

    lthread_attr_init(&det);
    det.flags |= LTHREAD_ATTR_DETACHED;

    n_loop = n;
    if (lthread_create(&lt, creator, NULL) != 0 || lthread_run() != 0)
        BENCH_DIE("loop failed");
    bench_result("create", "lthread.loop", (double)loop_ns / (double)n, "ns");

    batch(n / 10 + 1000, NULL); /* warm-up: malloc arenas, page faults */
    ns = batch(n, NULL);
    bench_result("create", "lthread.batch", ns, "ns");
    batch(n / 10 + 1000, &det);
    ns = batch(n, &det);
    bench_result("create", "lthread.batch_detached", ns, "ns");
    return 0;
}
