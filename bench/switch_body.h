/*
 * The ping-pong loop shared by switch_lthread.c, switch_st.c and
 * switch_fcontext.cc. The includer defines HANDOFF(me) first: give control
 * to the other player and return when it gives control back.
 *
 * Each player runs loop_<N>(me), a non-inlined function with
 * `volatile char pad[N]` live across every hand-off: the pad is filled
 * before the loop, one byte of it is read after each hand-off, and every
 * byte is checked after the loop (so a library that copies stacks must
 * copy it back intact; S.errors counts the bytes that came back wrong).
 *
 * Timing is taken by player 0 only: one HANDOFF of player 0 is a round
 * trip (0 -> 1 -> 0), i.e. two one-way hand-offs.
 *
 * Each program measures every variant `reps` times in one process (an
 * argument, default 3), the variants interleaved (all of them, then
 * all again), and reports each variant's median (switch_record,
 * switch_report), the spread on stderr. Why: a variant measured once is
 * exposed to whatever the machine does in its few milliseconds, and the
 * first variant of a process to whatever follows the process's start; on
 * the AMD EPYC guest of BENCHMARKS.md ("Repetitions inside one process")
 * lthread's hand-off ran at twice its cost in phases of tens of ms, most
 * often in the first measurement of a process, and pad 0 is the first.
 */
#ifndef SWITCH_BODY_H
#define SWITCH_BODY_H

#include "bench.h"

struct switch_state {
    long rounds[2];     /* HANDOFFs each player makes */
    long warm;          /* player 0's rounds before t0 */
    uint64_t t0, t1;    /* player 0's clock */
    volatile int turn;  /* whose turn it is (the cond variant waits on it) */
    uint64_t errors;    /* pad bytes that changed, alternation misses */
    uintptr_t frame[2]; /* each player's frame address, to see regions */
};
static struct switch_state S;

#define PAD_BYTE(i, me) ((char)((i)*7u + 13u * (unsigned)(me) + 1u))

#define DEFINE_LOOP(N)                                                         \
    static __attribute__((noinline)) void loop_##N(int me)                     \
    {                                                                          \
        volatile char pad[N];                                                  \
        uint64_t acc = 0;                                                      \
        long r, rounds = S.rounds[me];                                         \
        size_t i;                                                              \
        for (i = 0; i < (size_t)(N); i++)                                      \
            pad[i] = PAD_BYTE(i, me);                                          \
        S.frame[me] = (uintptr_t)__builtin_frame_address(0);                   \
        for (r = 0; r < rounds; r++) {                                         \
            if (me == 0 && r == S.warm)                                        \
                S.t0 = bench_now_ns();                                         \
            HANDOFF(me);                                                       \
            if ((N) > 0)                                                       \
                acc += (unsigned char)pad[(size_t)r % ((N) > 0 ? (N) : 1)];    \
        }                                                                      \
        if (me == 0)                                                           \
            S.t1 = bench_now_ns();                                             \
        for (i = 0; i < (size_t)(N); i++)                                      \
            if (pad[i] != PAD_BYTE(i, me))                                     \
                S.errors++;                                                    \
        bench_sink += acc;                                                     \
    }

DEFINE_LOOP(0)
DEFINE_LOOP(200)
DEFINE_LOOP(1024)
DEFINE_LOOP(4096)

typedef void (*loop_fn)(int me);
static const struct {
    int pad;
    loop_fn fn;
} PADS[] = {{0, loop_0}, {200, loop_200}, {1024, loop_1024}, {4096, loop_4096}};
#define NPADS ((int)(sizeof PADS / sizeof PADS[0]))

/* ns per one-way hand-off, from player 0's clock. */
static inline double switch_ns_per_handoff(void)
{
    long timed = S.rounds[0] - S.warm;
    return (double)(S.t1 - S.t0) / (2.0 * (double)timed);
}

/* "shared" when the two players' frames sat in one stack region (same
 * function, same depth: same region <=> same address), else "sep"; warns
 * when LTHREAD_REGIONS=1 asked for one region and they were not in it. */
static inline const char *switch_regions(void)
{
    const char *env = getenv("LTHREAD_REGIONS");
    uintptr_t d = S.frame[0] > S.frame[1] ? S.frame[0] - S.frame[1]
                                          : S.frame[1] - S.frame[0];

    if (d < 16384)
        return "shared";
    if (env && atoi(env) == 1)
        fprintf(stderr,
                "WARNING: LTHREAD_REGIONS=1 but the players ran on "
                "different regions (%#lx, %#lx)\n",
                (unsigned long)S.frame[0], (unsigned long)S.frame[1]);
    return "sep";
}

#define SWITCH_MAX_VARIANTS 16
#define SWITCH_MAX_REPS 15
static struct {
    char name[64];
    double ns[SWITCH_MAX_REPS];
    int n;
} switch_rec[SWITCH_MAX_VARIANTS] __attribute__((unused));
static int switch_nvariants __attribute__((unused));

/* The number of repetitions: argv[i] (1 to SWITCH_MAX_REPS), else 3. */
static inline int switch_reps(int argc, char **argv, int i)
{
    long r = bench_arg(argc, argv, i, 3);
    return r > SWITCH_MAX_REPS ? SWITCH_MAX_REPS : (int)r;
}

/* Records one measurement of variant number v (0, 1, ... in the order of
 * the first repetition), named `variant`. */
static inline void switch_record(int v, const char *variant, double ns)
{
    if (v < 0 || v >= SWITCH_MAX_VARIANTS)
        BENCH_DIE("switch_record: variant %d out of range", v);
    if (v >= switch_nvariants) {
        snprintf(switch_rec[v].name, sizeof switch_rec[v].name, "%s", variant);
        switch_nvariants = v + 1;
    }
    if (switch_rec[v].n < SWITCH_MAX_REPS)
        switch_rec[v].ns[switch_rec[v].n++] = ns;
}

/* Prints every variant's median as its RESULT `name` (stdout), and all of
 * its measurements in the order taken (stderr, after `prog`). */
static inline void switch_report(const char *prog, const char *name)
{
    for (int v = 0; v < switch_nvariants; v++) {
        double a[SWITCH_MAX_REPS], t, med;
        int n = switch_rec[v].n, i, j;

        if (n == 0)
            continue;
        fprintf(stderr, "%s %s:", prog, switch_rec[v].name);
        for (i = 0; i < n; i++) {
            a[i] = switch_rec[v].ns[i];
            fprintf(stderr, " %.2f", a[i]);
        }
        fputc('\n', stderr);
        for (i = 1; i < n; i++) { /* insertion sort */
            t = a[i];
            for (j = i - 1; j >= 0 && a[j] > t; j--)
                a[j + 1] = a[j];
            a[j + 1] = t;
        }
        med = n % 2 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
        bench_result(name, switch_rec[v].name, med, "ns");
    }
}

static inline void switch_reset(long rounds)
{
    memset(&S, 0, sizeof S);
    S.rounds[0] = S.rounds[1] = rounds;
    S.warm = rounds / 10;
}

#endif
