/*
 * What slows on a contended core: an lthread hand-off beside kernels that
 * each lean on one resource, measured round after round in one process.
 *
 *   core_probe [ROUNDS]   ROUNDS rounds (default 400) of every kernel;
 *                         prints a table on stderr: each kernel's median
 *                         in the rounds where the core was ours and in
 *                         those where it was not (below), and RESULT
 *                         lines of the quiet medians
 *   core_probe alu        one reading of the ALU throughput we get (~2
 *                         ms), as "PROBE adds_per_cycle N" (bench/quick.sh
 *                         takes one between its jobs)
 *
 * Kernels (ns per iteration):
 *   alu    six independent chains of 30 adds: bound by the core's ALU
 *          throughput, not by latency (the chains are 30 deep, the 180
 *          adds need 45 cycles on four ALUs)
 *   chain  one chain of 180 dependent adds: bound by latency alone
 *   mem    16 loads and 16 stores to 16 distinct cache lines (L1-hot)
 *   calls  a chain of 8 nested calls and returns
 *   cond   lthread cond hand-off between two lthreads (one way)
 *   yield  lthread_sleep(0) hand-off (one way)
 *
 * The clock is the chain's: 180 dependent adds take 180 cycles whatever
 * else the core runs. The ALU kernel's 180 independent adds, against it,
 * give the adds per cycle we got: about 4 on a core with four integer
 * ALUs to ourselves (AMD Zen 3/4/5, Intel up to Ice Lake: 4; Intel
 * Golden Cove: 5), fewer when a hyperthread on the same physical core
 * (another tenant's, on a cloud guest) takes its share. A round is
 * "contended" when it got less than 0.87 of the run's best: same code,
 * same clock, less of the core. On the AMD EPYC guests this project is
 * measured on that comes in bursts of tens to hundreds of ms
 * (BENCHMARKS.md, "What the slow phases are").
 */
#include <lthread.h>
#include <stdint.h>
#include <string.h>

#include "bench.h"

/* x += 1, kept: the empty asm hides x from the optimiser each time. */
#define ADD1(x)                                                                \
    ({                                                                         \
        __asm__ volatile("" : "+r"(x));                                        \
        (x) += 1;                                                              \
    })
/* e, 30 times over. */
#define REP2(e) (e, e)
#define REP4(e) (REP2(e), REP2(e))
#define REP8(e) (REP4(e), REP4(e))
#define REP30(e) (REP8(e), REP8(e), REP8(e), REP4(e), REP2(e))
/* One add on each of six independent chains; six on one chain. */
#define ADD6 (ADD1(a), ADD1(b), ADD1(c), ADD1(d), ADD1(e), ADD1(f))
#define CHAIN6(x) (ADD1(x), ADD1(x), ADD1(x), ADD1(x), ADD1(x), ADD1(x))

static __attribute__((noinline)) double k_alu(long n)
{
    uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, t = bench_now_ns();

    for (long i = 0; i < n; i++) {
        REP30(ADD6);
    }
    bench_sink += a + b + c + d + e + f;
    return (double)(bench_now_ns() - t) / (double)n;
}

static __attribute__((noinline)) double k_chain(long n)
{
    uint64_t x = 1, t = bench_now_ns();

    for (long i = 0; i < n; i++) {
        REP30(CHAIN6(x));
    }
    bench_sink += x;
    return (double)(bench_now_ns() - t) / (double)n;
}

static char *lines;
#define LINE_STRIDE (64 * 65) /* distinct lines, spread over the sets */

static __attribute__((noinline)) double k_mem(long n)
{
    uint64_t t = bench_now_ns();

    for (long i = 0; i < n; i++)
        for (int k = 0; k < 16; k++) {
            volatile uint64_t *p =
                (uint64_t *)(void *)(lines + k * LINE_STRIDE);
            *p = *p + 1;
        }
    return (double)(bench_now_ns() - t) / (double)n;
}

#define NEST(name, inner)                                                      \
    static __attribute__((noinline)) long name(long v)                         \
    {                                                                          \
        __asm__ volatile("");                                                  \
        return inner(v) + 1;                                                   \
    }
static __attribute__((noinline)) long nest0(long v)
{
    __asm__ volatile("");
    return v;
}
NEST(nest1, nest0)
NEST(nest2, nest1)
NEST(nest3, nest2)
NEST(nest4, nest3)
NEST(nest5, nest4)
NEST(nest6, nest5)
NEST(nest7, nest6)
NEST(nest8, nest7)

static __attribute__((noinline)) double k_calls(long n)
{
    uint64_t t = bench_now_ns();
    long s = 0;

    for (long i = 0; i < n; i++)
        s += nest8(i);
    bench_sink += (uint64_t)s;
    return (double)(bench_now_ns() - t) / (double)n;
}

static lthread_cond_t *conds[2];
static volatile int turn;
static long rounds;

static void cond_player(lthread_t *lt, void *arg)
{
    int me = (int)(intptr_t)arg;

    (void)lt;
    for (long i = 0; i < rounds; i++) {
        turn = 1 - me;
        lthread_cond_signal(conds[1 - me]);
        while (turn != me)
            lthread_cond_wait(conds[me], 0);
    }
    turn = 1 - me;
    lthread_cond_signal(conds[1 - me]);
}

static void yield_player(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (long i = 0; i < rounds; i++)
        lthread_sleep(0);
}

static double k_lthread(lthread_func fn, long n)
{
    lthread_t *t0, *t1;
    uint64_t t = bench_now_ns();

    rounds = n;
    if (lthread_create(&t0, fn, (void *)0) ||
        lthread_create(&t1, fn, (void *)1) || lthread_run())
        BENCH_DIE("core_probe: lthread failed");
    return (double)(bench_now_ns() - t) / (2.0 * (double)n);
}

enum { ALU, CHAIN, MEM, CALLS, COND, YIELD, NK };
static const char *const names[NK] = {"alu",   "chain", "mem",
                                      "calls", "cond",  "yield"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int n, nq = 0, nc = 0;
    double(*v)[NK], *q, *c, *apc, best = 0;

    if (argc > 1 && strcmp(argv[1], "alu") == 0) {
        double ch, al;

        k_alu(2000); /* warm */
        ch = k_chain(10000);
        al = k_alu(40000);
        printf("PROBE adds_per_cycle %.2f (chain %.2f alu %.2f)\n", ch / al, ch,
               al);
        return 0;
    }
    n = (int)bench_arg(argc, argv, 1, 400);
    v = calloc((size_t)n, sizeof *v);
    q = calloc((size_t)n, sizeof *q);
    c = calloc((size_t)n, sizeof *c);
    apc = calloc((size_t)n, sizeof *apc);
    lines = aligned_alloc(4096, 16 * LINE_STRIDE + 4096);
    if (!v || !q || !c || !apc || !lines)
        BENCH_DIE("core_probe: out of memory");
    memset(lines, 0, 16 * LINE_STRIDE + 4096);
    if (lthread_cond_create(&conds[0]) || lthread_cond_create(&conds[1]))
        BENCH_DIE("core_probe: lthread_cond_create failed");
    for (int r = 0; r < n; r++) {
        v[r][ALU] = k_alu(20000);
        v[r][CHAIN] = k_chain(20000);
        v[r][MEM] = k_mem(50000);
        v[r][CALLS] = k_calls(100000);
        v[r][COND] = k_lthread(cond_player, 50000);
        v[r][YIELD] = k_lthread(yield_player, 50000);
        apc[r] = v[r][CHAIN] / v[r][ALU]; /* adds per cycle */
    }
    /* The run's best: its 90th percentile (a round whose chain was
     * preempted reads absurdly high). */
    memcpy(q, apc, (size_t)n * sizeof *q);
    qsort(q, (size_t)n, sizeof *q, cmp_double);
    best = q[(n - 1) * 9 / 10];
    for (int r = 0; r < n; r++) {
        if (apc[r] < 0.87 * best)
            nc++;
        else
            nq++;
    }
    fprintf(stderr,
            "core_probe: %d rounds; ALU adds per cycle: best (90th percentile) "
            "%.2f, median "
            "%.2f; %d rounds quiet (>= 0.87 x best), %d contended\n",
            n, best, median(memcpy(q, apc, (size_t)n * sizeof *q), n), nq, nc);
    fprintf(stderr, "%-6s %10s %10s %8s\n", "kernel", "quiet ns", "contended",
            "ratio");
    for (int k = 0; k < NK; k++) {
        int iq = 0, ic = 0;
        double mq, mc;

        for (int r = 0; r < n; r++) {
            if (apc[r] < 0.87 * best)
                c[ic++] = v[r][k];
            else
                q[iq++] = v[r][k];
        }
        mq = median(q, iq);
        mc = median(c, ic);
        fprintf(stderr, "%-6s %10.2f %10.2f %8.2f\n", names[k], mq, mc,
                ic && mq > 0 ? mc / mq : 0.0);
        if (mq > 0)
            bench_result("core_probe", names[k], mq, "ns");
    }
    return 0;
}
