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

/* What of a new frame f no field of struct lthread__entry fills: the frame
 * pointer, 0 to end frame-pointer walks. (The pad beside the control words
 * is never read: the switch loads mxcsr and the x87 word alone. Three
 * instructions of a zeroing were two of every start.) */
static inline __attribute__((always_inline)) void
lthread__frame_clear(struct lthread__switch_frame *f)
{
    f->rbp = 0;
}

#endif /* LTHREAD_ARCH_X86_64_FRAME_H */
