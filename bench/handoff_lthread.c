/*
 * handoff, lthread: two lthreads of ONE scheduler hand control back and
 * forth (bench/switch_body.h: the loop, the live-stack pads, the timing)
 * through each synchronisation object, side by side in one process:
 *
 *   lthread.cond.padN.<regions>   lthread_cond_signal + lthread_cond_wait
 *                                 with a turn variable (switch_lthread.c's
 *                                 cond hand-off, the reference)
 *   lthread.chan0.padN.<regions>  a channel of capacity 0 per player: send
 *                                 the token to the other's, receive from
 *                                 one's own
 *   lthread.chan1.padN.<regions>  the same with capacity 1
 *   lthread.mutex.padN.<regions>  one mutex, held by the player whose turn
 *                                 it is: unlock (the mutex goes to the other,
 *                                 its waiter), then lock (wait until the
 *                                 other unlocks)
 *
 * The token is the round number: the channel receiver checks it; a turn
 * variable checks that the mutex alternates. <regions> as in
 * switch_lthread.c: "sep" (default) or "shared" (LTHREAD_REGIONS=1), read
 * from the frame addresses.
 * Usage: [LTHREAD_REGIONS=1] handoff_lthread [rounds [mechanism [reps]]]
 *   mechanism: cond, chan0, chan1 or mutex: only that one (to profile it);
 *              all: every one (the default)
 *   reps:      measurements of each variant in the process, interleaved;
 *              the median is reported (switch_body.h; default 3)
 */
#include <errno.h>
#include <lthread.h>

enum { COND, CHAN0, CHAN1, MUTEX, NMODES };
static const char *const modes[NMODES] = {"cond", "chan0", "chan1", "mutex"};

static int mode;
static lthread_cond_t *conds[2];
static lthread_chan_t *chans[2];
static lthread_mutex_t *mutex;
static long tokens[2]; /* what each player sent last */

/* Defined after switch_body.h, which declares S; inlined into the loops
 * as the cond and mutex hand-offs are (a call of its own was 37
 * instructions a hand-off, callgrind). */
static inline __attribute__((always_inline)) void chan_handoff(int me);

#define HANDOFF(me)                                                            \
    do {                                                                       \
        switch (mode) {                                                        \
        case COND:                                                             \
            S.turn = 1 - (me);                                                 \
            lthread_cond_signal(conds[1 - (me)]);                              \
            while (S.turn != (me))                                             \
                lthread_cond_wait(conds[me], 0);                               \
            break;                                                             \
        case CHAN0:                                                            \
        case CHAN1:                                                            \
            chan_handoff(me);                                                  \
            break;                                                             \
        case MUTEX:                                                            \
            S.turn = 1 - (me);                                                 \
            if (lthread_mutex_unlock(mutex) || lthread_mutex_lock(mutex) ||    \
                S.turn != (me))                                                \
                S.errors++;                                                    \
            break;                                                             \
        }                                                                      \
    } while (0)

#include "switch_body.h"

static inline __attribute__((always_inline)) void chan_handoff(int me)
{
    long v;
    tokens[me]++;
    if (lthread_chan_send(chans[1 - me], &tokens[me], 0) != 0 ||
        lthread_chan_recv(chans[me], &v, 0) != 0)
        S.errors++;
    /* player 0 sends n and gets n back; player 1 gets n + 1 next */
    else if (v != tokens[me] + (me == 1))
        S.errors++;
}

static loop_fn cur;

static void player(lthread_t *lt, void *arg)
{
    int me = (int)(intptr_t)arg;
    long v;

    (void)lt;
    switch (mode) {
    case COND:
        cur(me);
        S.turn = 1 - me; /* release the other player from its last wait */
        lthread_cond_signal(conds[1 - me]);
        break;
    case CHAN0:
    case CHAN1:
        /* Player 1 waits for the first token; player 0 sends one more
         * after its last round, for player 1's last receive. */
        if (me == 1 && lthread_chan_recv(chans[1], &v, 0) != 0)
            S.errors++;
        cur(me);
        if (me == 0) {
            tokens[0]++;
            if (lthread_chan_send(chans[1], &tokens[0], 0) != 0)
                S.errors++;
        }
        break;
    case MUTEX:
        /* Player 0 starts holding the mutex and yields, so that player 1
         * is waiting for it before the first hand-off. */
        if (me == 0) {
            if (lthread_mutex_lock(mutex) != 0)
                S.errors++;
            S.turn = 0;
            lthread_sleep(0);
        } else if (lthread_mutex_lock(mutex) != 0 || S.turn != 1) {
            S.errors++;
        }
        cur(me);
        S.turn = 1 - me;
        if (lthread_mutex_unlock(mutex) != 0)
            S.errors++;
        break;
    }
}

int main(int argc, char **argv)
{
    long rounds = bench_arg(argc, argv, 1, 2000000);
    const char *env = getenv("LTHREAD_REGIONS");
    int reps = switch_reps(argc, argv, 3), m, p;

    fprintf(stderr,
            "handoff_lthread: lthread %s, LTHREAD_REGIONS=%s, rounds %ld\n",
            lthread_version(), env ? env : "(unset)", rounds);
    for (int rep = 0; rep < reps; rep++)
        for (m = 0; m < NMODES; m++)
            for (p = 0; p < NPADS; p++) {
                if (argc > 2 && strcmp(argv[2], "all") != 0 &&
                    strcmp(argv[2], modes[m]) != 0)
                    continue;
                lthread_t *t0, *t1;
                char variant[64];
                mode = m;
                cur = PADS[p].fn;
                switch_reset(rounds);
                tokens[0] = tokens[1] = 0;
                if (lthread_cond_create(&conds[0]) ||
                    lthread_cond_create(&conds[1]) ||
                    lthread_chan_create(&chans[0], sizeof(long), m == CHAN1) ||
                    lthread_chan_create(&chans[1], sizeof(long), m == CHAN1) ||
                    lthread_mutex_create(&mutex))
                    BENCH_DIE("handoff_lthread: create failed: %s",
                              strerror(errno));
                if (lthread_create(&t0, player, (void *)0) ||
                    lthread_create(&t1, player, (void *)1))
                    BENCH_DIE("lthread_create failed");
                if (lthread_run() != 0)
                    BENCH_DIE("lthread_run failed");
                if (lthread_cond_destroy(conds[0]) ||
                    lthread_cond_destroy(conds[1]) ||
                    lthread_chan_destroy(chans[0]) ||
                    lthread_chan_destroy(chans[1]) ||
                    lthread_mutex_destroy(mutex))
                    S.errors++;
                if (S.errors)
                    fprintf(stderr, "handoff_lthread %s pad %d: %llu errors\n",
                            modes[m], PADS[p].pad,
                            (unsigned long long)S.errors);
                snprintf(variant, sizeof variant, "lthread.%s.pad%d.%s",
                         modes[m], PADS[p].pad, switch_regions());
                switch_record(m * NPADS + p, variant, switch_ns_per_handoff());
            }
    switch_report("handoff_lthread", "handoff");
    return 0;
}
