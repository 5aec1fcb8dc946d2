/* The first switch frame of a new AArch64 context (see ../switch.h),
 * inline: lthread__frame_init() is this in a function of its own; the
 * start of an lthread (region.c) builds its frame in place, without a
 * call or a struct lthread__entry in memory. Included by ../switch.h. */
#ifndef LTHREAD_ARCH_AARCH64_FRAME_H
#define LTHREAD_ARCH_AARCH64_FRAME_H

/* Nothing from libc (__builtin_memset): this file compiles freestanding,
 * which make check-targets uses to check it for FreeBSD and macOS. */

static inline __attribute__((always_inline)) void *
lthread__frame_fill(void *stack_top, const struct lthread__entry *e)
{
    struct lthread__switch_frame *f =
        (struct lthread__switch_frame *)stack_top - 1;
    uint64_t fpcr;

    /* A new context starts with the creator's rounding mode and
     * flush-to-zero setting, as a new pthread does. */
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __builtin_memset(f, 0, sizeof(*f)); /* fp = 0 ends frame-pointer walks */
    f->fpcr = fpcr;
    f->LTHREAD__FRAME_CTX = (uint64_t)(uintptr_t)e->ctx;
    f->LTHREAD__FRAME_PROLOGUE = (uint64_t)(uintptr_t)e->prologue;
    f->LTHREAD__FRAME_BODY = (uint64_t)(uintptr_t)e->body;
    f->LTHREAD__FRAME_ARG = (uint64_t)(uintptr_t)e->arg;
    f->LTHREAD__FRAME_EPILOGUE = (uint64_t)(uintptr_t)e->epilogue;
    f->lr = (uint64_t)(uintptr_t)lthread__trampoline;
    return f;
}

#endif /* LTHREAD_ARCH_AARCH64_FRAME_H */
