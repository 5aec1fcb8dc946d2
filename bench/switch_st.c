/*
 * switch, State Threads peer: two ST threads hand control back and forth.
 *   st.cond   - st_cond_wait / st_cond_signal with a turn variable
 *   st.usleep0 - st_usleep(0) (ST 1.9 has no st_yield; a sleeping thread is
 *               woken by ST's idle thread, which first polls the fds with a
 *               zero timeout: every second hand-off includes that syscall)
 * Usage: switch_st [rounds [reps]] (rounds of player 0; 2 hand-offs each)
 */
#include <st.h>

static int mode; /* 0 cond, 1 usleep0 */
static st_cond_t conds[2];

#define HANDOFF(me)                                                            \
    do {                                                                       \
        if (mode == 0) {                                                       \
            S.turn = 1 - (me);                                                 \
            st_cond_signal(conds[1 - (me)]);                                   \
            while (S.turn != (me))                                             \
                st_cond_wait(conds[me]);                                       \
        } else {                                                               \
            S.turn = 1 - (me);                                                 \
            st_usleep(0);                                                      \
            if (S.turn != (me))                                                \
                S.errors++;                                                    \
        }                                                                      \
    } while (0)

#include "switch_body.h"

static loop_fn cur;

static void *player(void *arg)
{
    int me = (int)(intptr_t)arg;
    cur(me);
    /* release the other player from its last wait */
    S.turn = 1 - me;
    if (mode == 0)
        st_cond_signal(conds[1 - me]);
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *modes[] = {"cond", "usleep0"};
    long rounds = bench_arg(argc, argv, 1, 2000000);
    int reps = switch_reps(argc, argv, 2), m, p;

    if (st_init() < 0)
        BENCH_DIE("st_init failed");
    fprintf(stderr, "switch_st: eventsys %s, rounds %ld\n",
            st_get_eventsys_name(), rounds);
    for (int rep = 0; rep < reps; rep++)
        for (m = 0; m < 2; m++)
            for (p = 0; p < NPADS; p++) {
                st_thread_t t0, t1;
                char variant[64];
                mode = m;
                cur = PADS[p].fn;
                switch_reset(rounds);
                conds[0] = st_cond_new();
                conds[1] = st_cond_new();
                t0 = st_thread_create(player, (void *)0, 1, 0);
                t1 = st_thread_create(player, (void *)1, 1, 0);
                if (!t0 || !t1)
                    BENCH_DIE("st_thread_create failed");
                st_thread_join(t0, NULL);
                st_thread_join(t1, NULL);
                st_cond_destroy(conds[0]);
                st_cond_destroy(conds[1]);
                if (S.errors)
                    fprintf(stderr, "switch_st %s pad %d: %llu errors\n",
                            modes[m], PADS[p].pad,
                            (unsigned long long)S.errors);
                snprintf(variant, sizeof variant, "st.%s.pad%d", modes[m],
                         PADS[p].pad);
                switch_record(m * NPADS + p, variant, switch_ns_per_handoff());
            }
    switch_report("switch_st", "switch");
    return 0;
}
