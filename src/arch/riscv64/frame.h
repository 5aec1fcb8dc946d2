/* A new RISC-V 64 switch frame's floating-point control state (see
 * ../switch.h, lthread__frame_fill). Included by ../switch.h. */
#ifndef LTHREAD_ARCH_RISCV64_FRAME_H
#define LTHREAD_ARCH_RISCV64_FRAME_H

/* The running context's rounding mode, into f. */
static inline __attribute__((always_inline)) void
lthread__frame_control(struct lthread__switch_frame *f)
{
    uint64_t frm;

    __asm__ volatile("frrm %0" : "=r"(frm));
    f->frm = frm;
}

/* What of a new frame f no field of struct lthread__entry fills: all of
 * it is zeroed (the pad, and a frame pointer of 0 that ends frame-pointer
 * walks). */
static inline __attribute__((always_inline)) void
lthread__frame_clear(struct lthread__switch_frame *f)
{
    __builtin_memset(f, 0, sizeof(*f));
}

#endif /* LTHREAD_ARCH_RISCV64_FRAME_H */
