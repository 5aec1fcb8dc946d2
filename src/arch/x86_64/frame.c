/* Builds the first switch frame of a new x86-64 context. */
#include "../switch.h"

/* Nothing from libc (__builtin_memset): this file compiles freestanding,
 * which make check-targets uses to check it for FreeBSD and macOS. */

void *lthread__frame_init(void *stack_top, const struct lthread__entry *e)
{
    struct lthread__switch_frame *f =
        (struct lthread__switch_frame *)stack_top - 1;
    uint32_t mxcsr;
    uint16_t cw;

    /* A new context starts with the creator's rounding modes and masks,
     * as a new pthread does. */
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    __builtin_memset(f, 0, sizeof(*f));
    f->mxcsr = mxcsr;
    f->x87_cw = cw;
    f->LTHREAD__FRAME_CTX = (uint64_t)(uintptr_t)e->ctx;
    f->LTHREAD__FRAME_PROLOGUE = (uint64_t)(uintptr_t)e->prologue;
    f->LTHREAD__FRAME_BODY = (uint64_t)(uintptr_t)e->body;
    f->LTHREAD__FRAME_ARG = (uint64_t)(uintptr_t)e->arg;
    f->LTHREAD__FRAME_EPILOGUE = (uint64_t)(uintptr_t)e->epilogue;
    f->ret = (uint64_t)(uintptr_t)lthread__trampoline;
    return f;
}
