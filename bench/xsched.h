/*
 * What the C cross-thread channel benchmarks share (xsched_lthread.c,
 * xsched_pthread.c; xsched_go/main.go and xsched_fiber.cc do the same
 * in their languages):
 *
 *   pingpong PxP  P pairs; producer i sends a counter on its own "ping"
 *                 channel (capacity 1), consumer i sends it back on "pong"
 *                 (capacity 1); the producer checks it and sends the next.
 *                 Figure: ns per round trip, per pair (RESULT xrtt).
 *   stream PxC    P producers send as fast as they can into ONE channel of
 *                 capacity XS_STREAM_CAP, C consumers take from it.
 *                 Figure: millions of messages received per second, all
 *                 consumers together (RESULT xtput).
 *
 * Producers and consumers always sit on different threads (schedulers).
 * Values are 8 bytes: (producer << 48) | sequence number; each consumer
 * checks that every producer's sequence grows (FIFO per producer).
 *
 * Timing is done by the main thread, which takes no part: it sleeps
 * XS_WARM of the duration (not timed), reads the workers' counters and the
 * clock, sleeps the duration, reads them again and sets `xs_stop`. Each
 * worker keeps its count in a local and publishes it every XS_EVERY
 * events to its own cache line (relaxed store), so the counters cost next
 * to nothing and the figure is off by at most XS_EVERY events per worker.
 * Producers look at `xs_stop` before every send; on stop the pingpong
 * producers close their ping channel (the consumer's recv fails: it ends),
 * the last stream producer closes the channel (the consumers drain it and
 * end).
 *
 * Also reported: voluntary context switches of the whole process per event
 * in the timed window (RESULT xcsw, getrusage): how often a thread went to
 * sleep in the kernel.
 */
#ifndef XSCHED_H
#define XSCHED_H

#include <sys/resource.h>
#ifdef __cplusplus /* xsched_fiber.cc: C11 atomics are C++23 */
#include <atomic>
typedef std::atomic<int> atomic_int;
typedef std::atomic<long> atomic_long;
using std::atomic_fetch_add;
using std::atomic_fetch_sub;
using std::atomic_load;
using std::atomic_load_explicit;
using std::atomic_store;
using std::atomic_store_explicit;
using std::memory_order_relaxed;
#else
#include <stdatomic.h>
#endif

#include "bench.h"

#define XS_MAXW 16
#define XS_EVERY 16
#define XS_PING_CAP 1
#define XS_STREAM_CAP 1024
#define XS_SEQ_MASK ((1ull << 48) - 1)

struct xs_counter {
    atomic_long n;
    char pad[64 - sizeof(long)];
} __attribute__((aligned(64)));

static struct xs_counter xs_count[XS_MAXW];
static atomic_int xs_stop;
static atomic_int xs_live;    /* stream producers still sending */
static atomic_long xs_errors; /* wrong values, failed calls */
static long xs_total_errors;  /* over all variants: the exit status */

static inline int xs_stopped(void)
{
    return atomic_load_explicit(&xs_stop, memory_order_relaxed);
}

static inline void xs_publish(int w, long n)
{
    if ((n & (XS_EVERY - 1)) == 0)
        atomic_store_explicit(&xs_count[w].n, n, memory_order_relaxed);
}

static inline void xs_reset(int nproducers)
{
    for (int i = 0; i < XS_MAXW; i++)
        atomic_store(&xs_count[i].n, 0);
    atomic_store(&xs_stop, 0);
    atomic_store(&xs_live, nproducers);
    atomic_store(&xs_errors, 0);
}

static inline long xs_sum(void)
{
    long s = 0;
    for (int i = 0; i < XS_MAXW; i++)
        s += atomic_load_explicit(&xs_count[i].n, memory_order_relaxed);
    return s;
}

static inline void xs_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static inline long xs_nvcsw(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw;
}

/* Per-consumer check of the stream values: each producer's sequence grows. */
struct xs_check {
    uint64_t next[XS_MAXW];
};

static inline void xs_check_value(struct xs_check *c, uint64_t v)
{
    unsigned p = (unsigned)(v >> 48);
    uint64_t s = v & XS_SEQ_MASK;
    if (p >= XS_MAXW || s < c->next[p])
        atomic_fetch_add(&xs_errors, 1);
    else
        c->next[p] = s + 1;
}

struct xs_window {
    long events;
    uint64_t ns;
    long csw;
};

/* The timekeeper: run by the main thread once the workers are started. */
static inline struct xs_window xs_time(long dur_ms)
{
    struct xs_window w;
    long n0, c0;
    uint64_t t0;

    xs_sleep_ms(dur_ms / 10 > 0 ? dur_ms / 10 : 1);
    n0 = xs_sum();
    c0 = xs_nvcsw();
    t0 = bench_now_ns();
    xs_sleep_ms(dur_ms);
    w.events = xs_sum() - n0;
    w.ns = bench_now_ns() - t0;
    w.csw = xs_nvcsw() - c0;
    atomic_store(&xs_stop, 1);
    return w;
}

/* Prints the RESULT lines of one variant. */
static inline void xs_report(const char *impl, const char *shape, int pingpong,
                             int pairs, struct xs_window w)
{
    char variant[96];
    snprintf(variant, sizeof variant, "%s.%s", impl, shape);
    if (w.events <= 0) {
        fprintf(stderr, "xsched %s %s: no events in the timed window\n",
                pingpong ? "pingpong" : "stream", variant);
        return;
    }
    if (pingpong)
        bench_result("xrtt", variant, (double)w.ns * pairs / (double)w.events,
                     "ns");
    else
        bench_result("xtput", variant, (double)w.events * 1e3 / (double)w.ns,
                     "Mmsg/s");
    snprintf(variant, sizeof variant, "%s.%s.%s", impl,
             pingpong ? "pingpong" : "stream", shape);
    bench_result("xcsw", variant, (double)w.csw / (double)w.events,
                 pingpong ? "csw/rtt" : "csw/msg");
    if (atomic_load(&xs_errors))
        fprintf(stderr, "xsched %s: %ld errors\n", variant,
                atomic_load(&xs_errors));
    xs_total_errors += atomic_load(&xs_errors);
}

#endif /* XSCHED_H */
