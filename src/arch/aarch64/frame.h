/* A new AArch64 switch frame's floating-point control state (see
 * ../switch.h, lthread__frame_fill). Included by ../switch.h. */
#ifndef LTHREAD_ARCH_AARCH64_FRAME_H
#define LTHREAD_ARCH_AARCH64_FRAME_H

/* The running context's FPCR (rounding mode, flush-to-zero), into f. */
static inline __attribute__((always_inline)) void
lthread__frame_control(struct lthread__switch_frame *f)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    f->fpcr = fpcr;
}

/* What of a new frame f no field of struct lthread__entry fills: all of
 * it is zeroed (the pad, and a frame pointer of 0 that ends frame-pointer
 * walks). */
static inline __attribute__((always_inline)) void
lthread__frame_clear(struct lthread__switch_frame *f)
{
    __builtin_memset(f, 0, sizeof(*f));
}

#endif /* LTHREAD_ARCH_AARCH64_FRAME_H */
