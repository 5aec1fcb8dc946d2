/*
 * switch, Boost.Context peer: the floor. main and one coroutine hand
 * control back and forth with bare jump_fcontext (no scheduler, no queue).
 *   fcontext.jump.padN
 * Usage: switch_fcontext [rounds [reps]] (rounds of player 0; 2 jumps each)
 */
#include <boost/context/detail/fcontext.hpp>
#include <sys/mman.h>

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

static fcontext_t peer; /* the context to jump to; only one side runs */

#define HANDOFF(me)                                                            \
    do {                                                                       \
        transfer_t t_ = jump_fcontext(peer, nullptr);                          \
        peer = t_.fctx;                                                        \
    } while (0)

#include "switch_body.h"

static loop_fn cur;

static void coro(transfer_t t)
{
    peer = t.fctx;
    cur(1);
    for (;;) { /* never return from an fcontext entry: hand back for good */
        transfer_t t2 = jump_fcontext(peer, nullptr);
        peer = t2.fctx;
    }
}

int main(int argc, char **argv)
{
    long rounds = bench_arg(argc, argv, 1, 20000000);
    int reps = switch_reps(argc, argv, 2);
    const size_t stack_size = 256 * 1024;
    char *stack = (char *)mmap(nullptr, stack_size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED)
        BENCH_DIE("mmap failed");
    fprintf(stderr, "switch_fcontext: rounds %ld\n", rounds);
    for (int rep = 0; rep < reps; rep++)
    for (int p = 0; p < NPADS; p++) {
        char variant[64];
        cur = PADS[p].fn;
        switch_reset(rounds);
        /* the coroutine's first HANDOFF answers main's first jump (which
         * started it), so it makes one fewer; its last return from HANDOFF
         * is main's last jump, after which it jumps back from coro(). */
        S.rounds[1] = rounds - 1;
        peer = make_fcontext(stack + stack_size, stack_size, coro);
        cur(0);
        if (S.errors)
            fprintf(stderr, "switch_fcontext pad %d: %llu errors\n",
                    PADS[p].pad, (unsigned long long)S.errors);
        snprintf(variant, sizeof variant, "fcontext.jump.pad%d", PADS[p].pad);
        switch_record(p, variant, switch_ns_per_handoff());
    }
    switch_report("switch_fcontext", "switch");
    return 0;
}
