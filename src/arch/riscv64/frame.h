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

#endif /* LTHREAD_ARCH_RISCV64_FRAME_H */
