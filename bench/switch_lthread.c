/*
 * switch, lthread: two lthreads hand control back and forth.
 *   lthread.cond.padN.<regions>   - lthread_cond_wait / lthread_cond_signal
 *                                   with a turn variable
 *   lthread.sleep0.padN.<regions> - lthread_sleep(0)
 *   lthread.sleep0sites.pad0.<regions> - lthread_sleep(0) called from a
 *                                   call site of each player's own, as two
 *                                   lthreads that yield in different places
 *                                   do (pad 0 only)
 * <regions> is "sep" when the two players' frames sit in different stack
 * regions (the default: two lthreads created in a row get different
 * regions) and "shared" when they sit in the same one (run with
 * LTHREAD_REGIONS=1, the library's cap on shared regions per scheduler).
 * It is read from the frame addresses, not assumed from the environment.
 * Both players run the same code: each checks the turn after its
 * sleep(0) (until 2026-12-02 only player 0 did, and gcc then split the
 * loop in two, one lthread_sleep() call site per player, so that every
 * hand-off returned to the call site the return stack buffer did not
 * predict: 14-19 ns instead of 7-11 on AMD Zen 4, BENCHMARKS.md).
 * Usage: [LTHREAD_REGIONS=1] switch_lthread [rounds [reps]]
 */
#include <lthread.h>

static int mode; /* 0 cond, 1 sleep0, 2 sleep0 from two call sites */
static lthread_cond_t *conds[2];

#define HANDOFF(me)                                                            \
    do {                                                                       \
        if (mode == 0) {                                                       \
            S.turn = 1 - (me);                                                 \
            lthread_cond_signal(conds[1 - (me)]);                              \
            while (S.turn != (me))                                             \
                lthread_cond_wait(conds[me], 0);                               \
        } else if (mode == 1) {                                                \
            S.turn = 1 - (me);                                                 \
            lthread_sleep(0);                                                  \
            if (S.turn != (me))                                                \
                S.errors++;                                                    \
        } else {                                                               \
            S.turn = 1 - (me);                                                 \
            /* (the asm statements differ: gcc cannot merge the calls) */      \
            if ((me) == 0) {                                                   \
                lthread_sleep(0);                                              \
                __asm__ volatile("" ::: "memory");                             \
            } else {                                                           \
                lthread_sleep(0);                                              \
                __asm__ volatile("nop" ::: "memory");                          \
            }                                                                  \
            if (S.turn != (me))                                                \
                S.errors++;                                                    \
        }                                                                      \
    } while (0)

#include "switch_body.h"

static loop_fn cur;

static void player(lthread_t *lt, void *arg)
{
    int me = (int)(intptr_t)arg;
    (void)lt;
    cur(me);
    S.turn = 1 - me; /* release the other player from its last wait */
    if (mode == 0)
        lthread_cond_signal(conds[1 - me]);
}

int main(int argc, char **argv)
{
    static const char *modes[] = {"cond", "sleep0", "sleep0sites"};
    long rounds = bench_arg(argc, argv, 1, 2000000);
    const char *env = getenv("LTHREAD_REGIONS");
    int reps = switch_reps(argc, argv, 2), m, p;

    fprintf(stderr,
            "switch_lthread: lthread %s, LTHREAD_REGIONS=%s, rounds %ld\n",
            lthread_version(), env ? env : "(unset)", rounds);
    for (int rep = 0; rep < reps; rep++)
        for (m = 0; m < 3; m++)
            for (p = 0; p < NPADS; p++) {
                lthread_t *t0, *t1;
                char variant[64];
                if (m == 2 && PADS[p].pad != 0)
                    continue;
                mode = m;
                cur = PADS[p].fn;
                switch_reset(rounds);
                if (lthread_cond_create(&conds[0]) ||
                    lthread_cond_create(&conds[1]))
                    BENCH_DIE("lthread_cond_create failed");
                if (lthread_create(&t0, player, (void *)0) ||
                    lthread_create(&t1, player, (void *)1))
                    BENCH_DIE("lthread_create failed");
                if (lthread_run() != 0)
                    BENCH_DIE("lthread_run failed");
                lthread_cond_destroy(conds[0]);
                lthread_cond_destroy(conds[1]);
                if (S.errors)
                    fprintf(stderr, "switch_lthread %s pad %d: %llu errors\n",
                            modes[m], PADS[p].pad,
                            (unsigned long long)S.errors);
                snprintf(variant, sizeof variant, "lthread.%s.pad%d.%s",
                         modes[m], PADS[p].pad, switch_regions());
                switch_record(m * NPADS + p, variant, switch_ns_per_handoff());
            }
    switch_report("switch_lthread", "switch");
    return 0;
}
