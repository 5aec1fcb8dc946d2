/*
 * create, Boost.Context peer: make_fcontext on a preallocated stack, jump
 * to it, the entry function runs to its end and jumps back, N times.
 *   fcontext.make_jump - ns per make + run to completion
 * Usage: create_fcontext [N]
 */
#include <boost/context/detail/fcontext.hpp>
#include <sys/mman.h>

#include "bench.h"

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

static void entry(transfer_t t)
{
    bench_sink++;
    /* "return": hand the argument back; this context is never resumed */
    jump_fcontext(t.fctx, t.data);
    __builtin_unreachable();
}

static void loop(char *stack, size_t size, long n)
{
    for (long i = 0; i < n; i++) {
        fcontext_t c = make_fcontext(stack + size, size, entry);
        transfer_t t = jump_fcontext(c, (void *)(intptr_t)i);
        if (t.data != (void *)(intptr_t)i)
            BENCH_DIE("bad return at %ld", i);
    }
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 1000000);
    const size_t size = 64 * 1024;
    char *stack = (char *)mmap(nullptr, size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED)
        BENCH_DIE("mmap failed");
    loop(stack, size, n / 100 + 1000);
    uint64_t t0 = bench_now_ns();
    loop(stack, size, n);
    uint64_t t1 = bench_now_ns();
    bench_result("create", "fcontext.make_jump", (double)(t1 - t0) / (double)n,
                 "ns");
    return 0;
}
