/*
 * AArch64 context switch (AAPCS64, Linux). See src/arch/switch.h for the
 * contract; the frame layout below is pinned there by _Static_assert.
 *
 *   offset  content                 stored by
 *     0     d8   d9                 stp (this one also allocates the frame)
 *    16     d10  d11                stp
 *    32     d12  d13                stp
 *    48     d14  d15                stp
 *    64     x19
 *    72     x20
 *    80     x21 ... x28
 *   144     x29 (fp)
 *   152     x30 (lr)                where the switch resumes
 *   160     fpcr                    mrs
 *   168     zero                    padding: 176 bytes, a multiple of 16
 *
 * Only callee-saved state is kept: the caller of lthread__switch() already
 * assumes every other register is clobbered by a call. Of v8-v15 only the
 * low 64 bits (d8-d15) are callee-saved. FPSR holds sticky exception flags,
 * not control state, and is caller-saved, so it is not kept either.
 *
 * sp stays 16-byte aligned throughout: the frame is a multiple of 16 and is
 * allocated by a single pre-indexed store, as the hardware checks sp
 * alignment on every sp-based access.
 *
 * Assembles for ELF (Linux, the BSDs) and Mach-O (macOS, whose arm64 ABI
 * keeps the same callee-saved registers; x18 is reserved there and not
 * touched here): what differs is in ../asm.h.
 */
#include "../asm.h"

        .text

/*
 * The frame every saving switch stores (the layout above), FPCR left in x9
 * for the resume's comparison. Only the CFA's offset is described here:
 * SWITCH_FRAME_CFI adds where each register was saved.
 */
        .macro  SWITCH_SAVE
        stp     d8, d9, [sp, #-176]!
        .cfi_def_cfa_offset 176
        stp     d10, d11, [sp, #16]
        stp     d12, d13, [sp, #32]
        stp     d14, d15, [sp, #48]
        stp     x19, x20, [sp, #64]
        stp     x21, x22, [sp, #80]
        stp     x23, x24, [sp, #96]
        stp     x25, x26, [sp, #112]
        stp     x27, x28, [sp, #128]
        stp     x29, x30, [sp, #144]
        mrs     x9, fpcr                /* kept in x9 for the compare below */
        stp     x9, xzr, [sp, #160]     /* zero pad: stack images are exact */
        .endm

/*
 * Where the frame at the CFA - 176 keeps each register: true of our own
 * frame once SWITCH_SAVE has stored it (every saved register then equals
 * its slot), and of a resumed one until SWITCH_RESUME loads it. Unlike
 * x86-64 the return address is a register (x30), not implied by the CFA,
 * so an unwinder needs to be told where it is.
 */
        .macro  SWITCH_FRAME_CFI
        .cfi_offset d8, -176
        .cfi_offset d9, -168
        .cfi_offset d10, -160
        .cfi_offset d11, -152
        .cfi_offset d12, -144
        .cfi_offset d13, -136
        .cfi_offset d14, -128
        .cfi_offset d15, -120
        .cfi_offset x19, -112
        .cfi_offset x20, -104
        .cfi_offset x21, -96
        .cfi_offset x22, -88
        .cfi_offset x23, -80
        .cfi_offset x24, -72
        .cfi_offset x25, -64
        .cfi_offset x26, -56
        .cfi_offset x27, -48
        .cfi_offset x28, -40
        .cfi_offset x29, -32
        .cfi_offset x30, -24
        .endm

/*
 * The resume of every switch: sp is the frame of the context to resume
 * (the CFA sp + 176, SWITCH_FRAME_CFI's rules in effect), x9 the running
 * FPCR. Returns 0 (switch.h) to where the frame says.
 */
        .macro  SWITCH_RESUME
        /* Writing FPCR can stall the pipeline on some cores, and contexts
         * nearly always share one FPCR: skip the write when it would not
         * change anything (glibc's fesetenv does the same). */
        ldr     x10, [sp, #160]
        cmp     x9, x10
        b.eq    1f
        msr     fpcr, x10
1:      ldp     x19, x20, [sp, #64]
        ldp     x21, x22, [sp, #80]
        ldp     x23, x24, [sp, #96]
        ldp     x25, x26, [sp, #112]
        ldp     x27, x28, [sp, #128]
        ldp     x29, x30, [sp, #144]
        ldp     d10, d11, [sp, #16]
        ldp     d12, d13, [sp, #32]
        ldp     d14, d15, [sp, #48]
        ldp     d8, d9, [sp], #176      /* last load also frees the frame */
        .cfi_def_cfa_offset 0
        .cfi_restore d8
        .cfi_restore d9
        .cfi_restore d10
        .cfi_restore d11
        .cfi_restore d12
        .cfi_restore d13
        .cfi_restore d14
        .cfi_restore d15
        .cfi_restore x19
        .cfi_restore x20
        .cfi_restore x21
        .cfi_restore x22
        .cfi_restore x23
        .cfi_restore x24
        .cfi_restore x25
        .cfi_restore x26
        .cfi_restore x27
        .cfi_restore x28
        .cfi_restore x29
        .cfi_restore x30
        /* ret rather than br x30: BTI does not check ret targets, while a
         * br would need a landing pad at every resume point, and the
         * instruction after a caller's bl is none. (The return predictor
         * still guesses the wrong context once per switch; x86-64's pop +
         * jmp has the same cost.) */
        mov     x0, #0                  /* returns 0 (switch.h) */
        ret
        .endm

LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch))
        hint    #34                     /* bti c: a NOP on cores without BTI */
        SWITCH_SAVE
        SWITCH_FRAME_CFI
        mov     x10, sp                 /* str cannot take sp as its source */
        str     x10, [x0]               /* *save_sp = our frame */
        mov     sp, x1                  /* from here on: the other stack */
        .cfi_def_cfa sp, 176            /* (for the rest: the resumed frame) */
        SWITCH_RESUME
LT_FUNC_END(LT_SYMBOL(lthread__switch))

/*
 * lthread__switch_drop(new_sp): resumes the context whose frame is at
 * new_sp as lthread__switch does, saving nothing of the running one,
 * which is never resumed (an exiting lthread: its stack is given up).
 * (switch.h names it lthread__switch_drop_ret too: on aarch64 every
 * switch leaves by `ret`.)
 */
LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch_drop))
        hint    #34                     /* bti c */
        mrs     x9, fpcr                /* for the resume's compare */
        mov     sp, x0                  /* from here on: the other stack */
        .cfi_def_cfa sp, 176            /* (the resumed frame) */
        SWITCH_FRAME_CFI
        SWITCH_RESUME
LT_FUNC_END(LT_SYMBOL(lthread__switch_drop))

/*
 * lthread__switch_via(save_sp, via_sp, fn, arg): saves the running context
 * as lthread__switch does (*save_sp = its frame), then, on the stack
 * via_sp (16-byte aligned free memory of another stack: the suspended
 * scheduler's, below its frame), calls fn(arg), which returns the sp of
 * the context to resume, and resumes it. For a hand-over between
 * region-mates (see x86_64/switch.S). x19 keeps our FPCR across the call
 * (it is saved above). (switch.h names it lthread__switch_via_cross too.)
 */
LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch_via))
        hint    #34                     /* bti c */
        SWITCH_SAVE
        SWITCH_FRAME_CFI
        mov     x19, x9                 /* our FPCR, kept across the call */
        mov     x10, sp
        str     x10, [x0]               /* *save_sp = our frame */
        mov     sp, x1                  /* the borrowed stack */
        .cfi_remember_state
        .cfi_undefined x30              /* fn's backtrace ends here */
        mov     x0, x3
        blr     x2                      /* x0 = fn(arg): where to go */
        mov     sp, x0                  /* from here on: the other stack */
        .cfi_restore_state              /* (the resumed frame: same rules) */
        mov     x9, x19                 /* our FPCR, for the resume */
        SWITCH_RESUME
LT_FUNC_END(LT_SYMBOL(lthread__switch_via))

/*
 * First code of a new context, reached by the first switch into it. The
 * frame lthread__frame_init wrote holds, in callee-saved registers (which
 * the calls below preserve): x19 ctx, x20 prologue, x21 body, x22 arg, x23
 * epilogue. sp is the 16-byte aligned stack top and x29 is 0, which ends
 * frame-pointer walks. The body's frame is the first on the stack: nothing
 * of ours stays there while it runs.
 * No BTI landing pad: only ever reached by `ret` (and, past the
 * prologue's call, by lthread__switch_start's direct branch).
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
 * context runs with the running FPCR, as one started from a frame that
 * copied it (lthread__frame_fill).
 */
LT_FUNC_BEGIN(LT_SYMBOL(lthread__switch_start))
        hint    #34                     /* bti c */
        SWITCH_SAVE
        mov     x10, sp
        str     x10, [x0]               /* *save_sp = our frame */
        mov     sp, x1                  /* the new stack, empty */
        .cfi_def_cfa sp, 0
        .cfi_undefined x30              /* the outermost frame from here */
        mov     x19, x2                 /* what the trampoline keeps */
        mov     x21, x3
        mov     x22, x4
        mov     x23, x5
        mov     x29, #0                 /* frame-pointer walks end here */
        b       LT_LOCAL(trampoline_body)
LT_FUNC_END(LT_SYMBOL(lthread__switch_start))

LT_FUNC_BEGIN(LT_SYMBOL(lthread__trampoline))
        .cfi_undefined x30              /* the outermost frame: stop here */
        mov     x0, x19
        blr     x20                     /* prologue(ctx) */
LT_LOCAL(trampoline_body):              /* (lthread__switch_start's) */
        mov     x0, x19
        mov     x1, x22
        blr     x21                     /* body(ctx, arg) */
        mov     x0, x19
        blr     x23                     /* epilogue(ctx): never returns */
        brk     #0x3e8                  /* the immediate __builtin_trap uses */
LT_FUNC_END(LT_SYMBOL(lthread__trampoline))

/*
 * Built with -mbranch-protection=bti (or =standard), every object of an
 * ELF program must say it is BTI-compatible or the linker marks the
 * program as not, silently dropping the protection for all of it (Mach-O
 * has no such note). This file is:
 * lthread__switch and lthread__switch_start have their landing pads and
 * the trampoline is only returned to or branched to directly. It also never signs or strips a return address, so it is as
 * compatible with pac-ret as any code that saves lr unsigned.
 */
#if defined(__ELF__) && (defined(__ARM_FEATURE_BTI_DEFAULT) || \
                         defined(__ARM_FEATURE_PAC_DEFAULT))
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define LTHREAD__GNU_PROPERTY_BTI 1     /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
#else
#define LTHREAD__GNU_PROPERTY_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define LTHREAD__GNU_PROPERTY_PAC 2     /* GNU_PROPERTY_AARCH64_FEATURE_1_PAC */
#else
#define LTHREAD__GNU_PROPERTY_PAC 0
#endif
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size: "GNU\0" */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4                       /* property data size */
        .long   LTHREAD__GNU_PROPERTY_BTI | LTHREAD__GNU_PROPERTY_PAC
        .long   0                       /* pad to 8 bytes */
#endif

LT_FILE_END
