/*
 * xsched, lthread: channels between schedulers (bench/xsched.h describes
 * the shapes and the timing). Producers are lthreads of the "A" schedulers,
 * consumers lthreads of the "B" schedulers; each scheduler is a pthread
 * running lthread_run(). Channels are made by main() before the pthreads
 * start.
 *
 *   lthread.1x1    1 producer on A, 1 consumer on B: 2 schedulers
 *   lthread.4x4    4 producers on one A, 4 consumers on one B: 2 schedulers
 *                  (the shape of Go with GOMAXPROCS=2 and of Boost.Fiber on
 *                  two threads)
 *   lthread.4x4.8sched  4 A schedulers with one producer each, 4 B with one
 *                  consumer each: 8 schedulers
 *   lthread.1x1.1thread, lthread.4x4.1thread  for comparison, NOT between
 *                  schedulers: producers and consumers on one scheduler
 *                  (one pthread), the same code otherwise (Go's
 *                  GOMAXPROCS=1 and Boost.Fiber's one-thread variants)
 *
 * Usage: xsched_lthread [duration_ms [filter]]
 *   duration_ms  timed per variant (default 1000)
 *   filter       run only the variants whose "<pingpong|stream>.<shape>"
 *                contains this string (e.g. stream.1x1, to profile one)
 * Environment:
 *   XS_PIN=1     each scheduler pthread pins itself to one CPU of the
 *                process's set, A schedulers from the first CPU up, B
 *                schedulers from the last down (a server with one scheduler
 *                per core pins them so); reported as "lthread-pinned"
 *   LTHREAD_CHAN_SPIN_US=0  polled channel waits off: "lthread-nopoll"
 */
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_* */
#include <errno.h>
#include <lthread.h>
#include <pthread.h>
#include <sched.h>

#include "xsched.h"

static int pingpong;             /* else stream */
static int nprod, ncons, nsched; /* nsched: schedulers per side */
static lthread_chan_t *ping[XS_MAXW], *pong[XS_MAXW], *stream;

static void fail(const char *what)
{
    fprintf(stderr, "xsched_lthread: %s: %s\n", what, strerror(errno));
    atomic_fetch_add(&xs_errors, 1);
}

static void pp_producer(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;
    long n = 0;
    uint64_t v;

    (void)lt;
    while (!xs_stopped()) {
        uint64_t out = ((uint64_t)i << 48) | (uint64_t)n;
        if (lthread_chan_send(ping[i], &out, 0) != 0) {
            fail("send ping");
            break;
        }
        if (lthread_chan_recv(pong[i], &v, 0) != 0) {
            fail("recv pong");
            break;
        }
        if (v != out)
            atomic_fetch_add(&xs_errors, 1);
        xs_publish(i, ++n);
    }
    lthread_chan_close(ping[i]);
}

static void pp_consumer(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;
    uint64_t v;

    (void)lt;
    while (lthread_chan_recv(ping[i], &v, 0) == 0)
        if (lthread_chan_send(pong[i], &v, 0) != 0) {
            fail("send pong");
            return;
        }
    if (errno != EPIPE)
        fail("recv ping");
}

static void st_producer(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;
    uint64_t seq = 0;

    (void)lt;
    while (!xs_stopped()) {
        uint64_t out = ((uint64_t)i << 48) | seq++;
        if (lthread_chan_send(stream, &out, 0) != 0) {
            fail("send");
            break;
        }
    }
    if (atomic_fetch_sub(&xs_live, 1) == 1)
        lthread_chan_close(stream);
}

static void st_consumer(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;
    struct xs_check check = {{0}};
    long n = 0;
    uint64_t v;

    (void)lt;
    while (lthread_chan_recv(stream, &v, 0) == 0) {
        xs_check_value(&check, v);
        xs_publish(i, ++n);
    }
    if (errno != EPIPE)
        fail("recv");
}

struct side {
    int b; /* 0: producers (A), 1: consumers (B), 2: both (one scheduler) */
    int k; /* which scheduler of the side */
    pthread_t tid;
};

static void create_side(int b, int k)
{
    int n = b ? ncons : nprod;
    lthread_func fn = pingpong ? (b ? pp_consumer : pp_producer)
                               : (b ? st_consumer : st_producer);

    for (int i = k; i < n; i += nsched) {
        lthread_t *lt;
        if (lthread_create(&lt, fn, (void *)(intptr_t)i) != 0)
            BENCH_DIE("xsched_lthread: lthread_create failed");
    }
}

static int pin;        /* XS_PIN */
static cpu_set_t cpus; /* the process's CPUs, when pinning */

/* The n-th CPU of the set, counting from the first (up) or the last. */
static int nth_cpu(int n, int up)
{
    int count = CPU_COUNT(&cpus), seen = 0;

    n %= count;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        int cpu = up ? c : CPU_SETSIZE - 1 - c;
        if (CPU_ISSET(cpu, &cpus) && seen++ == n)
            return cpu;
    }
    return 0;
}

static void pin_side(const struct side *s)
{
    cpu_set_t one;

    CPU_ZERO(&one);
    CPU_SET(nth_cpu(s->k, s->b != 1), &one);
    if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0)
        BENCH_DIE("xsched_lthread: pthread_setaffinity_np failed");
}

static void *sched_main(void *arg)
{
    struct side *s = arg;

    if (pin)
        pin_side(s);

    if (s->b == 2) {
        create_side(0, 0);
        create_side(1, 0);
    } else {
        create_side(s->b, s->k);
    }
    if (lthread_run() != 0)
        fail("lthread_run");
    return NULL;
}

static const char *filter;
static const char *impl = "lthread"; /* the name in RESULT lines */

/* s schedulers per side; s == 0: producers and consumers on one. */
static void run(const char *shape, int pp, int p, int c, int s, long dur)
{
    struct side sides[2 * XS_MAXW];
    struct xs_window w;
    char name[64];
    int ns = 0;

    snprintf(name, sizeof name, "%s.%s", pp ? "pingpong" : "stream", shape);
    if (filter && !strstr(name, filter))
        return;
    pingpong = pp, nprod = p, ncons = c, nsched = s ? s : 1;
    xs_reset(p);
    for (int i = 0; i < (pp ? p : 0); i++)
        if (lthread_chan_create(&ping[i], sizeof(uint64_t), XS_PING_CAP) ||
            lthread_chan_create(&pong[i], sizeof(uint64_t), XS_PING_CAP))
            BENCH_DIE("xsched_lthread: lthread_chan_create failed");
    if (!pp && lthread_chan_create(&stream, sizeof(uint64_t), XS_STREAM_CAP))
        BENCH_DIE("xsched_lthread: lthread_chan_create failed");
    if (s == 0) {
        sides[0] = (struct side){.b = 2, .k = 0};
        if (pthread_create(&sides[0].tid, NULL, sched_main, &sides[0]))
            BENCH_DIE("xsched_lthread: pthread_create failed");
        ns = 1;
    }
    for (int b = 0; b < (s ? 2 : 0); b++)
        for (int k = 0; k < s; k++) {
            sides[ns] = (struct side){.b = b, .k = k};
            if (pthread_create(&sides[ns].tid, NULL, sched_main, &sides[ns]))
                BENCH_DIE("xsched_lthread: pthread_create failed");
            ns++;
        }
    w = xs_time(dur);
    for (int i = 0; i < ns; i++)
        pthread_join(sides[i].tid, NULL);
    for (int i = 0; i < (pp ? p : 0); i++) {
        lthread_chan_destroy(ping[i]);
        lthread_chan_destroy(pong[i]);
    }
    if (!pp)
        lthread_chan_destroy(stream);
    xs_report(impl, shape, pp, p, w);
}

int main(int argc, char **argv)
{
    long dur = bench_arg(argc, argv, 1, 1000);
    const char *poll = getenv("LTHREAD_CHAN_SPIN_US");

    /* Polled channel waits off: reported apart, for a same-run A/B. */
    if (poll && strcmp(poll, "0") == 0)
        impl = "lthread-nopoll";
    if (getenv("XS_PIN") && strcmp(getenv("XS_PIN"), "1") == 0) {
        if (sched_getaffinity(0, sizeof cpus, &cpus) != 0)
            BENCH_DIE("xsched_lthread: sched_getaffinity failed");
        pin = 1;
        impl = strcmp(impl, "lthread") == 0 ? "lthread-pinned"
                                            : "lthread-nopoll-pinned";
    }

    filter = argc > 2 ? argv[2] : NULL;
    fprintf(stderr, "xsched_lthread: lthread %s, %ld ms per variant\n",
            lthread_version(), dur);
    run("1x1", 1, 1, 1, 1, dur);
    run("4x4", 1, 4, 4, 1, dur);
    run("4x4.8sched", 1, 4, 4, 4, dur);
    run("1x1.1thread", 1, 1, 1, 0, dur);
    run("4x4.1thread", 1, 4, 4, 0, dur);
    run("1x1", 0, 1, 1, 1, dur);
    run("4x4", 0, 4, 4, 1, dur);
    run("4x4.8sched", 0, 4, 4, 4, dur);
    run("1x1.1thread", 0, 1, 1, 0, dur);
    run("4x4.1thread", 0, 4, 4, 0, dur);
    return xs_total_errors ? 1 : 0;
}
