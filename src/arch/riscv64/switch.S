/*
 * RISC-V 64 context switch (LP64D psABI: RV64 with the D extension; Linux,
 * FreeBSD). See src/arch/switch.h for the contract; the frame layout below
 * is pinned there by _Static_assert.
 *
 *   offset  content                 stored by
 *     0     fs0 ... fs11            fsd (the frame is allocated first)
 *    96     s0 (fp) ... s11         sd
 *   192     ra                      where the switch resumes
 *   200     frm                     frrm: the rounding mode, zero-extended
 *                                   (208 bytes: sp stays 16-byte aligned)
 *
 * Only callee-saved state is kept: the caller of lthread__switch() already
 * assumes every other register is clobbered by a call. fs0-fs11 are
 * callee-saved in full (64 bits) under the D ABI. The psABI gives fcsr
 * thread storage duration, as C11 <fenv.h> wants: each context keeps its
 * own rounding mode (frm); the accrued exception flags (fflags) are sticky
 * results, not control state, and are not kept, as aarch64 does not keep
 * FPSR. gp and tp belong to the thread, not to a context: never touched.
 */
#include "../asm.h"

#if !defined(__riscv_float_abi_double)
#error "lthread: the riscv64 switch needs the LP64D ABI (hard double float)"
#endif

        .text

/*
 * The frame every saving switch stores (the layout above), frm left in t0
 * for the resume's comparison. Only the CFA's offset is described here:
 * SWITCH_FRAME_CFI adds where each register was saved.
 */
        .macro  SWITCH_SAVE
        addi    sp, sp, -208
        .cfi_def_cfa_offset 208
        fsd     fs0, 0(sp)
        fsd     fs1, 8(sp)
        fsd     fs2, 16(sp)
        fsd     fs3, 24(sp)
        fsd     fs4, 32(sp)
        fsd     fs5, 40(sp)
        fsd     fs6, 48(sp)
        fsd     fs7, 56(sp)
        fsd     fs8, 64(sp)
        fsd     fs9, 72(sp)
        fsd     fs10, 80(sp)
        fsd     fs11, 88(sp)
        sd      s0, 96(sp)
        sd      s1, 104(sp)
        sd      s2, 112(sp)
        sd      s3, 120(sp)
        sd      s4, 128(sp)
        sd      s5, 136(sp)
        sd      s6, 144(sp)
        sd      s7, 152(sp)
        sd      s8, 160(sp)
        sd      s9, 168(sp)
        sd      s10, 176(sp)
        sd      s11, 184(sp)
        sd      ra, 192(sp)
        frrm    t0                      /* kept in t0 for the compare below */
        sd      t0, 200(sp)
        .endm

/*
 * Where the frame at the CFA - 208 keeps each register: true of our own
 * frame once SWITCH_SAVE has stored it (every saved register then equals
 * its slot), and of a resumed one until SWITCH_RESUME loads it. As on
 * aarch64 the return address is a register (ra), so an unwinder must be
 * told where it is.
 */
        .macro  SWITCH_FRAME_CFI
        .cfi_offset fs0, -208
        .cfi_offset fs1, -200
        .cfi_offset fs2, -192
        .cfi_offset fs3, -184
        .cfi_offset fs4, -176
        .cfi_offset fs5, -168
        .cfi_offset fs6, -160
        .cfi_offset fs7, -152
        .cfi_offset fs8, -144
        .cfi_offset fs9, -136
        .cfi_offset fs10, -128
        .cfi_offset fs11, -120
        .cfi_offset s0, -112
        .cfi_offset s1, -104
        .cfi_offset s2, -96
        .cfi_offset s3, -88
        .cfi_offset s4, -80
        .cfi_offset s5, -72
        .cfi_offset s6, -64
        .cfi_offset s7, -56
        .cfi_offset s8, -48
        .cfi_offset s9, -40
        .cfi_offset s10, -32
        .cfi_offset s11, -24
        .cfi_offset ra, -16
        .endm

/*
 * The resume of every switch: sp is the frame of the context to resume
 * (the CFA sp + 208, SWITCH_FRAME_CFI's rules in effect), t0 the running
 * rounding mode. Returns 0 (switch.h) to where the frame says.
 */
        .macro  SWITCH_RESUME
        /* Contexts nearly always share one rounding mode: write frm only
         * when it changes. */
        ld      t1, 200(sp)
        beq     t0, t1, 1f
        fsrm    t1
1:
        ld      s0, 96(sp)
        ld      s1, 104(sp)
        ld      s2, 112(sp)
        ld      s3, 120(sp)
        ld      s4, 128(sp)
        ld      s5, 136(sp)
        ld      s6, 144(sp)
        ld      s7, 152(sp)
        ld      s8, 160(sp)
        ld      s9, 168(sp)
        ld      s10, 176(sp)
        ld      s11, 184(sp)
        ld      ra, 192(sp)
        fld     fs0, 0(sp)
        fld     fs1, 8(sp)
        fld     fs2, 16(sp)
        fld     fs3, 24(sp)
        fld     fs4, 32(sp)
        fld     fs5, 40(sp)
        fld     fs6, 48(sp)
        fld     fs7, 56(sp)
        fld     fs8, 64(sp)
        fld     fs9, 72(sp)
        fld     fs10, 80(sp)
        fld     fs11, 88(sp)
        addi    sp, sp, 208
        .cfi_def_cfa_offset 0
        .cfi_restore fs0
        .cfi_restore fs1
        .cfi_restore fs2
        .cfi_restore fs3
        .cfi_restore fs4
        .cfi_restore fs5
        .cfi_restore fs6
        .cfi_restore fs7
        .cfi_restore fs8
        .cfi_restore fs9
        .cfi_restore fs10
        .cfi_restore fs11
        .cfi_restore s0
        .cfi_restore s1
        .cfi_restore s2
        .cfi_restore s3
        .cfi_restore s4
        .cfi_restore s5
        .cfi_restore s6
        .cfi_restore s7
        .cfi_restore s8
        .cfi_restore s9
        .cfi_restore s10
        .cfi_restore s11
        .cfi_restore ra
        li      a0, 0                   /* returns 0 (switch.h) */
        ret
        .endm

LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch))
        SWITCH_SAVE
        SWITCH_FRAME_CFI
        sd      sp, 0(a0)               /* *save_sp = our frame */
        mv      sp, a1                  /* from here on: the other stack */
        .cfi_def_cfa sp, 208            /* (for the rest: the resumed frame) */
        SWITCH_RESUME
LT_FUNC_END(LT_SYMBOL(lthread__switch))

/*
 * lthread__switch_drop(new_sp): resumes the context whose frame is at
 * new_sp as lthread__switch does, saving nothing of the running one,
 * which is never resumed (an exiting lthread: its stack is given up).
 * (switch.h names it lthread__switch_drop_ret too: on riscv64 every
 * switch leaves by `ret`.)
 */
LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch_drop))
        frrm    t0                      /* for the resume's compare */
        mv      sp, a0                  /* from here on: the other stack */
        .cfi_def_cfa sp, 208            /* (the resumed frame) */
        SWITCH_FRAME_CFI
        SWITCH_RESUME
LT_FUNC_END(LT_SYMBOL(lthread__switch_drop))

/*
 * lthread__switch_via(save_sp, via_sp, fn, arg): saves the running context
 * as lthread__switch does (*save_sp = its frame), then, on the stack
 * via_sp (16-byte aligned free memory of another stack: the suspended
 * scheduler's, below its frame), calls fn(arg), which returns the sp of
 * the context to resume, and resumes it. For a hand-over between
 * region-mates (see x86_64/switch.S). s1 keeps our rounding mode across
 * the call (it is saved above). (switch.h names it
 * lthread__switch_via_cross too.)
 */
LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch_via))
        SWITCH_SAVE
        SWITCH_FRAME_CFI
        mv      s1, t0                  /* our rounding mode, kept */
        sd      sp, 0(a0)               /* *save_sp = our frame */
        mv      sp, a1                  /* the borrowed stack */
        .cfi_remember_state
        .cfi_undefined ra               /* fn's backtrace ends here */
        mv      a0, a3
        jalr    a2                      /* a0 = fn(arg): where to go */
        mv      sp, a0                  /* from here on: the other stack */
        .cfi_restore_state              /* (the resumed frame: same rules) */
        mv      t0, s1                  /* our rounding mode, for the resume */
        SWITCH_RESUME
LT_FUNC_END(LT_SYMBOL(lthread__switch_via))

/*
 * First code of a new context, reached by the first switch into it. The
 * frame lthread__frame_init wrote holds, in callee-saved registers (which
 * the calls below preserve): s1 ctx, s2 prologue, s3 body, s4 arg, s5
 * epilogue. sp is the 16-byte aligned stack top and s0 (fp) is 0, which
 * ends frame-pointer walks. The body's frame is the first on the stack:
 * nothing of ours stays there while it runs.
 */
/*
 * lthread__switch_start(save_sp, top, ctx, body, arg, epilogue): saves the
 * running context as lthread__switch does (*save_sp = its frame, resumed
 * by any switch as if it had left by lthread__switch), then starts a new
 * context on the empty stack whose 16-byte aligned top is `top`, as if a
 * frame of lthread__frame_init (without a prologue) had been switched
 * into: body(ctx, arg), then epilogue(ctx), from the trampoline, so that
 * backtraces end there as for every context. Nothing is written to the
 * new stack or read back from it first (see x86_64/switch.S). The new
 * context runs with the running rounding mode, as one started from a
 * frame that copied it (lthread__frame_fill).
 */
LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch_start))
        SWITCH_SAVE
        sd      sp, 0(a0)               /* *save_sp = our frame */
        mv      sp, a1                  /* the new stack, empty */
        .cfi_def_cfa sp, 0
        .cfi_undefined ra               /* the outermost frame from here */
        mv      s1, a2                  /* what the trampoline keeps */
        mv      s3, a3
        mv      s4, a4
        mv      s5, a5
        li      s0, 0                   /* frame-pointer walks end here */
        j       LT_LOCAL(trampoline_body)
LT_FUNC_END(LT_SYMBOL(lthread__switch_start))

LT_FUNC_BEGIN(LT_SYMBOL(lthread__trampoline))
        .cfi_undefined ra               /* the outermost frame: stop here */
        mv      a0, s1
        jalr    s2                      /* prologue(ctx) */
LT_LOCAL(trampoline_body):              /* (lthread__switch_start's) */
        mv      a0, s1
        mv      a1, s4
        jalr    s3                      /* body(ctx, arg) */
        mv      a0, s1
        jalr    s5                      /* epilogue(ctx): never returns */
        unimp                           /* traps */
LT_FUNC_END(LT_SYMBOL(lthread__trampoline))

LT_FILE_END
