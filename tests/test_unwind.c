/* Unwinding from an lthread: the unwinder's walk of its stack (the CFI:
 * what backtrace(), perf's DWARF call graphs and exceptions read) ends in
 * the library's entry, on every architecture, whichever way it started
 * (without a first frame into a free region, from a frame as a
 * region-mate), and after it was switched out and back (copied out and
 * back as a mate). Internal: names the hidden entry, linked statically. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>
#include <unwind.h>

#include "check.h"

/* The library's entry (hidden from other modules). */
void lthread__trampoline(void);

struct walk {
    int depth;
    uintptr_t last_ip; /* the outermost frame's (libgcc reports one more
                        * after it, whose return address is undefined:
                        * ip 0) */
    _Unwind_Reason_Code end;
};

static _Unwind_Reason_Code walk_step(struct _Unwind_Context *uc, void *arg)
{
    struct walk *w = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(uc);

    if (ip)
        w->last_ip = ip;
    return ++w->depth < 64 ? _URC_NO_REASON : _URC_NORMAL_STOP;
}

static void check_walk(void)
{
    struct walk w = {0, 0, _URC_NO_REASON};

    w.end = _Unwind_Backtrace(walk_step, &w);
    CHECK_EQ(w.end, _URC_END_OF_STACK);
    CHECK(w.depth >= 2 && w.depth <= 12);
    CHECK(w.last_ip > (uintptr_t)lthread__trampoline &&
          w.last_ip < (uintptr_t)lthread__trampoline + 64);
}

static __attribute__((noinline)) void walk_deeper(int n)
{
    if (n)
        walk_deeper(n - 1);
    else
        check_walk();
    __asm__ volatile("" ::: "memory"); /* (no tail call) */
}

static int walked;

static void walker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    check_walk();
    lthread_sleep(0);
    walk_deeper(3);
    walked++;
}

static void walker_arg(void *arg)
{
    (void)arg;
    check_walk();
    lthread_sleep(0);
    walk_deeper(2);
    walked++;
}

static void test_unwind(void)
{
    lthread_t *lt;

    walked = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(lthread_create(&lt, walker, NULL), 0);
        CHECK_EQ(lthread_create_arg(&lt, walker_arg, NULL), 0);
    }
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(walked, 6);
}

int main(void)
{
    /* One region per scheduler (every switch between two lthreads copies),
     * two, and the default (each starts in a free one). */
    static const char *const regions[] = {"1", "2", NULL};

    for (int i = 0; i < 3; i++) {
        if (regions[i])
            setenv("LTHREAD_REGIONS", regions[i], 1);
        else
            unsetenv("LTHREAD_REGIONS");
        test_unwind();
    }
    return check_summary("test_unwind");
}
