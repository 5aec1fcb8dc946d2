/*
 * switch, libaco peer (built only with `make -C bench LIBACO=DIR`, DIR a
 * checkout of https://github.com/hnes/libaco outside this tree): two
 * coroutines hand control back and forth through libaco's main co, which
 * resumes them in turn; one hand-off is a yield to main plus a resume.
 *   aco.yield.padN.shared - both on one shared stack: every resume saves
 *                           the owner's used stack and restores the other's
 *   aco.yield.padN.sep    - a shared stack each: no copy
 * Usage: switch_aco [rounds [reps]] (rounds of player 0; 2 hand-offs each)
 */
#include <aco.h>

#define HANDOFF(me) aco_yield()

#include "switch_body.h"

static loop_fn cur;

static void player(void)
{
    int me = (int)(intptr_t)aco_get_arg();

    cur(me);
    aco_exit();
}

/* ns per one-way hand-off; `shared`: both on one shared stack. */
static double run(int shared, long rounds, aco_t *main_co)
{
    aco_share_stack_t *sstk[2];
    aco_t *co[2];

    switch_reset(rounds);
    sstk[0] = aco_share_stack_new(256 * 1024);
    sstk[1] = shared ? sstk[0] : aco_share_stack_new(256 * 1024);
    co[0] = aco_create(main_co, sstk[0], 0, player, (void *)0);
    co[1] = aco_create(main_co, sstk[1], 0, player, (void *)1);
    while (!co[0]->is_end || !co[1]->is_end)
        for (int i = 0; i < 2; i++)
            if (!co[i]->is_end)
                aco_resume(co[i]);
    aco_destroy(co[0]);
    aco_destroy(co[1]);
    aco_share_stack_destroy(sstk[0]);
    if (!shared)
        aco_share_stack_destroy(sstk[1]);
    return switch_ns_per_handoff();
}

int main(int argc, char **argv)
{
    long rounds = bench_arg(argc, argv, 1, 2000000);
    int reps = switch_reps(argc, argv, 2);
    aco_t *main_co;

    aco_thread_init(NULL);
    main_co = aco_create(NULL, NULL, 0, NULL, NULL);
    fprintf(stderr, "switch_aco: rounds %ld\n", rounds);
    for (int rep = 0; rep < reps; rep++)
        for (int shared = 0; shared < 2; shared++)
            for (int p = 0; p < NPADS; p++) {
                char variant[64];
                double ns;

                cur = PADS[p].fn;
                ns = run(shared, rounds, main_co);
                if (S.errors)
                    fprintf(stderr, "switch_aco pad %d: %llu errors\n",
                            PADS[p].pad, (unsigned long long)S.errors);
                snprintf(variant, sizeof variant, "aco.yield.pad%d.%s",
                         PADS[p].pad, shared ? "shared" : "sep");
                switch_record(shared * NPADS + p, variant, ns);
            }
    switch_report("switch_aco", "switch");
    aco_destroy(main_co);
    return 0;
}
