/* The unwinder's walk of the running stack (the CFI: what backtrace(),
 * perf's DWARF call graphs and exceptions read), for tests of the context
 * switch (test_switch) and of the library (test_unwind, linked statically:
 * lthread__trampoline is hidden from other modules). */
#ifndef UNWIND_UTIL_H
#define UNWIND_UTIL_H

#include <stdint.h>
#include <unwind.h>

#include "check.h"

/* The library's entry: every context's first code (src/arch/switch.h). */
void lthread__trampoline(void);

struct unwound {
    int depth;
    uintptr_t last_ip; /* the outermost frame's */
};

/* (libgcc's walk reports, after the outermost frame, one whose return
 * address is undefined: ip 0.) */
static _Unwind_Reason_Code unwind_step(struct _Unwind_Context *uc, void *arg)
{
    struct unwound *u = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(uc);

    if (ip)
        u->last_ip = ip;
    return ++u->depth < 64 ? _URC_NO_REASON : _URC_NORMAL_STOP;
}

/* Walks the stack from here: the walk must end cleanly (the trampoline's
 * CFI says it is the outermost frame) in the trampoline's call of the
 * body, after at least this function and the trampoline and at most
 * max_depth frames. */
static __attribute__((noinline)) void check_unwinds_to_trampoline(int max_depth)
{
    struct unwound u = {0, 0};

    CHECK_EQ(_Unwind_Backtrace(unwind_step, &u), _URC_END_OF_STACK);
    CHECK(u.depth >= 2 && u.depth <= max_depth);
    CHECK(u.last_ip > (uintptr_t)lthread__trampoline &&
          u.last_ip < (uintptr_t)lthread__trampoline + 64);
}

#endif /* UNWIND_UTIL_H */
