/*
 * Cost of an empty lthread_compute_begin()/end() round trip, against the
 * raw cost of handing work to another pthread and back with a mutex and two
 * condition variables (the least any compute pool can do).
 *
 *   compute_roundtrip [N [handoff|lthread]]   (N round trips; default both)
 *
 * Prints "RESULT compute_roundtrip <variant> <ns per round trip> ns" for
 * the variants handoff and lthread. Not pinned: both need two CPUs.
 */
#include <lthread.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static long n_rounds;
static double lthread_ns;

/* ---- lthread: one lthread enters and leaves a section N times ---------- */

static void roundtrips(lthread_t *lt, void *arg)
{
    long warm = n_rounds / 10 + 100;
    uint64_t t0;

    (void)lt;
    (void)arg;
    for (long i = 0; i < warm; i++) {
        lthread_compute_begin();
        lthread_compute_end();
    }
    t0 = bench_now_ns();
    for (long i = 0; i < n_rounds; i++) {
        if (lthread_compute_begin() != 0) {
            fprintf(stderr, "lthread_compute_begin failed\n");
            exit(1);
        }
        lthread_compute_end();
    }
    lthread_ns = (double)(bench_now_ns() - t0) / (double)n_rounds;
}

/* ---- handoff: the same with a plain pthread, mutex and condvars -------- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    int pending; /* 1: work handed over, not yet done */
    int quit;
} h = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .go = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

static void *handoff_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&h.lock);
    for (;;) {
        while (!h.pending && !h.quit)
            pthread_cond_wait(&h.go, &h.lock);
        if (h.quit)
            break;
        h.pending = 0; /* the (empty) work */
        pthread_cond_signal(&h.done);
    }
    pthread_mutex_unlock(&h.lock);
    return NULL;
}

static void handoff_once(void)
{
    pthread_mutex_lock(&h.lock);
    h.pending = 1;
    pthread_cond_signal(&h.go);
    while (h.pending)
        pthread_cond_wait(&h.done, &h.lock);
    pthread_mutex_unlock(&h.lock);
}

static double handoff_bench(void)
{
    pthread_t th;
    long warm = n_rounds / 10 + 100;
    uint64_t t0;
    double ns;

    pthread_create(&th, NULL, handoff_worker, NULL);
    for (long i = 0; i < warm; i++)
        handoff_once();
    t0 = bench_now_ns();
    for (long i = 0; i < n_rounds; i++)
        handoff_once();
    ns = (double)(bench_now_ns() - t0) / (double)n_rounds;
    pthread_mutex_lock(&h.lock);
    h.quit = 1;
    pthread_cond_signal(&h.go);
    pthread_mutex_unlock(&h.lock);
    pthread_join(th, NULL);
    return ns;
}

int main(int argc, char **argv)
{
    const char *only = argc > 2 ? argv[2] : "";
    lthread_t *lt;

    n_rounds = bench_arg(argc, argv, 1, 100000);
    if (strcmp(only, "lthread") != 0)
        bench_result("compute_roundtrip", "handoff", handoff_bench(), "ns");
    if (strcmp(only, "handoff") != 0) {
        lthread_create(&lt, roundtrips, NULL);
        lthread_run();
        bench_result("compute_roundtrip", "lthread", lthread_ns, "ns");
    }
    return 0;
}
