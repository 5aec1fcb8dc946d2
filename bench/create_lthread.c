/*
 * create, lthread: create + run + join/free of an empty lthread.
 *   lthread.loop           - one lthread creates a child and joins it, N times
 *   lthread.batch          - main creates N joinable lthreads, then
 *                            lthread_run() runs them and frees them all
 *   lthread.batch_detached - the same with LTHREAD_ATTR_DETACHED (each is
 *                            freed as it exits)
 *   lthread.loop.2sched    - the loop on two schedulers (pthreads) at once:
 *                            what creates on several cores share
 * All in ns per lthread (2sched: the mean of the two schedulers').
 * Usage: create_lthread [N]
 */
#include <lthread.h>
#include <pthread.h>

#include "bench.h"

struct loop {
    long n;
    uint64_t ns;
};

static void empty(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    bench_sink++;
}

static void creator(lthread_t *lt, void *arg)
{
    struct loop *l = arg;
    long i, n = l->n;
    uint64_t t0 = 0;
    long warm = n / 100 + 1000;
    (void)lt;
    for (i = -warm; i < n; i++) {
        lthread_t *c;
        if (i == 0)
            t0 = bench_now_ns();
        if (lthread_create(&c, empty, NULL) != 0)
            BENCH_DIE("lthread_create failed at %ld", i);
        if (lthread_join(c, NULL, 0) != 0)
            BENCH_DIE("lthread_join failed at %ld", i);
    }
    l->ns = bench_now_ns() - t0;
}

/* The loop on the calling pthread's scheduler. */
static void *loop_run(void *arg)
{
    lthread_t *lt;

    if (lthread_create(&lt, creator, arg) != 0 || lthread_run() != 0)
        BENCH_DIE("loop failed");
    return NULL;
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
    double ns;

    lthread_attr_init(&det);
    det.flags |= LTHREAD_ATTR_DETACHED;

    struct loop one = {n, 0}, two[2] = {{n, 0}, {n, 0}};
    pthread_t th[2];

    loop_run(&one);
    bench_result("create", "lthread.loop", (double)one.ns / (double)n, "ns");
    for (int k = 0; k < 2; k++)
        if (pthread_create(&th[k], NULL, loop_run, &two[k]) != 0)
            BENCH_DIE("pthread_create failed");
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    bench_result("create", "lthread.loop.2sched",
                 (double)(two[0].ns + two[1].ns) / 2.0 / (double)n, "ns");

    batch(n / 10 + 1000, NULL); /* warm-up: malloc arenas, page faults */
    ns = batch(n, NULL);
    bench_result("create", "lthread.batch", ns, "ns");
    batch(n / 10 + 1000, &det);
    ns = batch(n, &det);
    bench_result("create", "lthread.batch_detached", ns, "ns");
    return 0;
}
