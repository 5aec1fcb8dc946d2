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

#endif /* LTHREAD_ARCH_AARCH64_FRAME_H */
