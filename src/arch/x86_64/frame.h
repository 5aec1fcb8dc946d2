/* A new x86-64 switch frame's floating-point control state (see
 * ../switch.h, lthread__frame_fill). Included by ../switch.h. */
#ifndef LTHREAD_ARCH_X86_64_FRAME_H
#define LTHREAD_ARCH_X86_64_FRAME_H

/* The running context's SSE and x87 control words (rounding, exception masks,
 * precision), into f. */
static inline __attribute__((always_inline)) void
lthread__frame_control(struct lthread__switch_frame *f)
{
    __asm__ volatile("stmxcsr %0" : "=m"(f->mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(f->x87_cw));
}

#endif /* LTHREAD_ARCH_X86_64_FRAME_H */
