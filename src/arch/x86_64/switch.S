/*
 * x86-64 context switch (System V ABI). See src/arch/switch.h for the
 * contract; the frame layout below is pinned there by _Static_assert.
 *
 *   offset  content                 pushed by
 *     0     mxcsr (4) x87 cw (2)    pushq $0, then stmxcsr / fnstcw
 *     8     r15
 *    16     r14
 *    24     r13
 *    32     r12
 *    40     rbx
 *    48     rbp
 *    56     return address          the caller's `call`
 *
 * Only callee-saved state is kept: the caller of lthread__switch() already
 * assumes every other register is clobbered by a call.
 *
 * Assembles for ELF (Linux, the BSDs) and Mach-O (macOS): what differs is
 * in ../asm.h.
 */
#include "../asm.h"

        .text

/*
 * The frame every saving switch pushes (the layout above): the
 * callee-saved registers, then the control-word slot with MXCSR and the
 * x87 control word; the x87 word is read back into \cw (a 32-bit
 * register) for SWITCH_RESUME's comparison.
 */
        .macro  SWITCH_SAVE cw=
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        pushq   $0                      /* control-word slot, pad zeroed */
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        .ifnb   \cw
        movzwl  4(%rsp), \cw           /* our x87 control word, read back */
        .endif
        .endm

/*
 * Two entry points, one body: they differ only in how they leave.
 *   lthread__switch        returns with `ret`. For a hand-over between two
 *                          lthreads that both switched out through the same
 *                          call site: the return stack buffer then predicts
 *                          every return that follows (cond hand-off 33 ->
 *                          21 ns).
 *   lthread__switch_cross  returns with pop + jmp. For switches between
 *                          different call sites (scheduler <-> lthread, into
 *                          a new context, the yield: see sched.c): the
 *                          indirect predictor learns those targets, where
 *                          `ret` would mispredict (create + join 106 -> 84
 *                          ns).
 */
        .macro  SWITCH_BODY name, leave
        LT_FUNC_BEGIN(\name)
        endbr64
        SWITCH_SAVE %eax
        movq    %rsp, (%rdi)            /* *save_sp = our frame */
        movq    %rsi, %rsp              /* from here on: the other stack */
        .cfi_def_cfa rsp, 64            /* (for the rest: the resumed frame) */
        SWITCH_RESUME \leave
        LT_FUNC_END(\name)
        .endm

/*
 * The resume of every switch: rsp is the frame of the context to resume,
 * ax the running x87 control word as SWITCH_BODY reads it back. MXCSR is
 * loaded from the frame every time: reading the running one back for a
 * comparison (stmxcsr, then a load) waits for that store, whose data is
 * not forwarded (sleep(0) hand-off 8.6 -> 6.9 ns on AMD Zen 4 without it,
 * BENCHMARKS.md), while ldmxcsr costs little. The x87 control word, whose
 * store forwards, is compared and loaded only when it differs: fldcw
 * serialises the FPU.
 */
        .macro  SWITCH_RESUME leave
        ldmxcsr (%rsp)
        cmpw    %ax, 4(%rsp)
        .cfi_remember_state
        jne     1f
2:
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .ifc    \leave, ret
        xorl    %eax, %eax              /* lthread__switch returns 0 */
        ret
        .else
        popq    %rcx
        .cfi_adjust_cfa_offset -8
        xorl    %eax, %eax              /* returns 0, as with ret */
        jmpq    *%rcx
        .endif
        .cfi_restore_state              /* back to the state at the jne */
1:
        fldcw   4(%rsp)
        jmp     2b
        .endm

        SWITCH_BODY LT_SYMBOL(lthread__switch), ret
        SWITCH_BODY LT_SYMBOL(lthread__switch_cross), jmp

/*
 * lthread__switch_drop(new_sp): resumes the context whose frame is at
 * new_sp as lthread__switch_cross does, saving nothing of the running one,
 * which is never resumed (an exiting lthread: its stack is given up). Its
 * x87 control word is read in the red zone, for the comparison alone. Nine
 * instructions less than a switch into a scratch slot, on every exit.
 * lthread__switch_drop_ret: the same, leaving with `ret` (as
 * lthread__switch does), for the exit into a joiner whose call into its
 * switch-out is the return stack buffer's top (lthread__exit_joined).
 */
        .macro  SWITCH_DROP name, leave
        LT_FUNC_BEGIN(\name)
        endbr64
        fnstcw  -8(%rsp)
        movzwl  -8(%rsp), %eax
        movq    %rdi, %rsp              /* from here on: the other stack */
        .cfi_def_cfa rsp, 64            /* (the resumed frame) */
        SWITCH_RESUME \leave
        LT_FUNC_END(\name)
        .endm

        SWITCH_DROP LT_SYMBOL(lthread__switch_drop), jmp
        SWITCH_DROP LT_SYMBOL(lthread__switch_drop_ret), ret

/*
 * lthread__switch_via(save_sp, via_sp, fn, arg): saves the running context
 * as lthread__switch does (*save_sp = its frame), then, on the stack
 * via_sp (16-byte aligned free memory of another stack: the suspended
 * scheduler's, below its frame), calls fn(arg), which returns the sp of
 * the context to resume, and resumes it, leaving with `ret`. For a
 * hand-over between region-mates: fn copies the running lthread's frames
 * out of the region and the next one's in, which cannot be done on the
 * region itself, without a switch into the scheduler and one out of it.
 * rbx keeps our x87 control word across the call (it is saved above).
 * lthread__switch_via_cross: the same, leaving with pop + jmp (as
 * lthread__switch_cross does), for the yield (see sched.c).
 */
        .macro  SWITCH_VIA name, leave
        LT_FUNC_BEGIN(\name)
        endbr64
        SWITCH_SAVE %ebx
        movq    %rsp, (%rdi)            /* *save_sp = our frame */
        movq    %rsi, %rsp              /* the borrowed stack */
        .cfi_remember_state
        .cfi_undefined rip              /* fn's backtrace ends here */
        movq    %rcx, %rdi
        callq   *%rdx                   /* rax = fn(arg): where to go */
        movq    %rax, %rsp              /* from here on: the other stack */
        .cfi_restore_state
        .cfi_def_cfa rsp, 64            /* (the resumed frame) */
        movl    %ebx, %eax              /* our x87 word, for the resume */
        SWITCH_RESUME \leave
        LT_FUNC_END(\name)
        .endm

        SWITCH_VIA LT_SYMBOL(lthread__switch_via), ret
        SWITCH_VIA LT_SYMBOL(lthread__switch_via_cross), jmp

/*
 * lthread__switch_start(save_sp, top, ctx, body, arg, epilogue): saves the
 * running context as lthread__switch does (*save_sp = its frame; it is
 * resumed by any switch, as if it had left by lthread__switch), then starts
 * a new context on the stack whose 16-byte aligned top is `top`, as if a
 * frame from lthread__frame_init (without a prologue) had been switched
 * into: body(ctx, arg), then epilogue(ctx), from the trampoline, so that
 * backtraces end there as for every context. Nothing is written to the
 * new stack or read back from it first: the start of an lthread in a
 * region that is free (sched.c) skipped the frame's 14 instructions of
 * stores and the switch's restore of them (create + run + join 329.2 -> 305.6
 * instructions). The new context runs with the running control words,
 * as one started from a frame that copied them (lthread__frame_fill).
 */
LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch_start))
        endbr64
        SWITCH_SAVE
        movq    %rsp, (%rdi)            /* *save_sp = our frame */
        movq    %rsi, %rsp              /* the new stack, empty */
        .cfi_def_cfa rsp, 0
        .cfi_undefined rip              /* the outermost frame from here */
        movq    %rdx, %rbx              /* what the trampoline keeps */
        movq    %rcx, %r13
        movq    %r8, %r14
        movq    %r9, %r15
        xorl    %ebp, %ebp              /* frame-pointer walks end here */
        jmp     LT_LOCAL(trampoline_body)
LT_FUNC_END(LT_SYMBOL(lthread__switch_start))

/*
 * First code of a new context, reached by the first switch into it. The
 * frame lthread__frame_init wrote holds, in callee-saved registers (which
 * the calls below preserve): rbx ctx, r12 prologue, r13 body, r14 arg,
 * r15 epilogue. rsp is the 16-byte aligned stack top, as a call needs.
 * The body's frame sits right below our return address: nothing else.
 */
        /* A 64-byte line of its own (LT_FUNC_BEGIN aligns to 16): on AMD
         * Zen 4, create + run + join through the shared library took 20%
         * longer with the trampoline at one offset the switches above
         * happened to leave (..1b0) than at another (..1e0); at a line's
         * start it was as fast as the best, static and shared
         * (BENCHMARKS.md, "MXCSR loaded, not compared"). */
        .p2align 6
LT_FUNC_BEGIN(LT_SYMBOL(lthread__trampoline))
        .cfi_undefined rip              /* the outermost frame: stop here */
        endbr64
        movq    %rbx, %rdi
        callq   *%r12                   /* prologue(ctx) */
LT_LOCAL(trampoline_body):              /* (lthread__switch_start's) */
        movq    %rbx, %rdi
        movq    %r14, %rsi
        callq   *%r13                   /* body(ctx, arg) */
        movq    %rbx, %rdi
        /* epilogue(ctx), which never returns: a jump, with a null return
         * address where a call would push one (alignment; backtraces end
         * there), so that the return stack buffer does not keep an entry
         * of ours (see lthread__exit_joined) */
        pushq   $0
        jmpq    *%r15
LT_FUNC_END(LT_SYMBOL(lthread__trampoline))

LT_FILE_END
