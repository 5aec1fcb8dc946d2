/*
 * The context switch: the only piece of the library written in assembly,
 * one file per architecture (src/arch/<arch>/switch.S) behind this header.
 *
 * A suspended context is nothing but a stack pointer. lthread__switch()
 * pushes the callee-saved state of the running context onto its own stack,
 * in the layout of struct lthread__switch_frame, stores the resulting stack
 * pointer in *save_sp, loads new_sp, pops the frame found there and resumes
 * at that frame's return address. Keeping the registers on the stack (not in
 * a side structure) means a saved stack image carries them along: copying an
 * lthread's stack out and back restores its registers with it.
 *
 *          higher addresses
 *   |   caller's frames ...      |
 *   +----------------------------+
 *   | struct lthread__switch_frame |  <- *save_sp points at its first field
 *   +----------------------------+
 *          lower addresses (free)
 *
 * A new context is made by writing a frame by hand (lthread__frame_init):
 * its return address is lthread__trampoline, which calls, with what it
 * finds in the frame's callee-saved slots, prologue(ctx), then body(ctx,
 * arg), then epilogue(ctx), which must not return. The body thus runs with
 * nothing above its frame but the trampoline's return address: a suspended
 * context's saved image holds no frame of the library's entry code. The
 * trampoline's CFI marks the return address undefined, so debuggers end
 * the backtrace cleanly there.
 */
#ifndef LTHREAD_ARCH_SWITCH_H
#define LTHREAD_ARCH_SWITCH_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
/* Lowest address first: exactly what switch.S pushes, in reverse. */
struct lthread__switch_frame {
    uint32_t mxcsr;  /* SSE control/status: rounding mode, exception masks */
    uint16_t x87_cw; /* x87 control word: precision and rounding */
    uint16_t pad;
    uint64_t r15;
    uint64_t r14;
    uint64_t r13;
    uint64_t r12;
    uint64_t rbx;
    uint64_t rbp;
    uint64_t ret; /* where the switch resumes */
};
/* Where the trampoline finds struct lthread__entry's fields. */
#define LTHREAD__FRAME_CTX rbx
#define LTHREAD__FRAME_PROLOGUE r12
#define LTHREAD__FRAME_BODY r13
#define LTHREAD__FRAME_ARG r14
#define LTHREAD__FRAME_EPILOGUE r15
/* Where the switch resumes the frame. */
#define LTHREAD__FRAME_RESUME ret
_Static_assert(offsetof(struct lthread__switch_frame, r15) == 8, "switch.S");
_Static_assert(offsetof(struct lthread__switch_frame, r12) == 32, "switch.S");
_Static_assert(offsetof(struct lthread__switch_frame, rbx) == 40, "switch.S");
_Static_assert(offsetof(struct lthread__switch_frame, ret) == 56, "switch.S");
_Static_assert(sizeof(struct lthread__switch_frame) == 64, "switch.S");
#elif defined(__aarch64__)
/* Lowest address first: exactly what switch.S stores. */
struct lthread__switch_frame {
    uint64_t d8, d9, d10, d11, d12, d13, d14, d15; /* low halves of v8-v15 */
    uint64_t x19, x20, x21, x22, x23, x24, x25, x26, x27, x28;
    uint64_t fp;   /* x29 */
    uint64_t lr;   /* x30: where the switch resumes */
    uint64_t fpcr; /* floating-point control: rounding, flush-to-zero */
    uint64_t pad;  /* keeps sp 16-byte aligned */
};
/* Where the trampoline finds struct lthread__entry's fields. */
#define LTHREAD__FRAME_CTX x19
#define LTHREAD__FRAME_PROLOGUE x20
#define LTHREAD__FRAME_BODY x21
#define LTHREAD__FRAME_ARG x22
#define LTHREAD__FRAME_EPILOGUE x23
#define LTHREAD__FRAME_RESUME lr
_Static_assert(offsetof(struct lthread__switch_frame, x19) == 64, "switch.S");
_Static_assert(offsetof(struct lthread__switch_frame, fp) == 144, "switch.S");
_Static_assert(offsetof(struct lthread__switch_frame, lr) == 152, "switch.S");
_Static_assert(offsetof(struct lthread__switch_frame, fpcr) == 160, "switch.S");
_Static_assert(sizeof(struct lthread__switch_frame) == 176, "switch.S");
#elif defined(__riscv) && __riscv_xlen == 64
/* Lowest address first: exactly what switch.S stores. */
struct lthread__switch_frame {
    uint64_t fs0, fs1, fs2, fs3, fs4, fs5, fs6, fs7, fs8, fs9, fs10, fs11;
    uint64_t s0; /* the frame pointer */
    uint64_t s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11;
    uint64_t ra;  /* where the switch resumes */
    uint64_t frm; /* rounding mode (fcsr bits 7:5, shifted down) */
};
/* Where the trampoline finds struct lthread__entry's fields. */
#define LTHREAD__FRAME_CTX s1
#define LTHREAD__FRAME_PROLOGUE s2
#define LTHREAD__FRAME_BODY s3
#define LTHREAD__FRAME_ARG s4
#define LTHREAD__FRAME_EPILOGUE s5
#define LTHREAD__FRAME_RESUME ra
_Static_assert(offsetof(struct lthread__switch_frame, s0) == 96, "switch.S");
_Static_assert(offsetof(struct lthread__switch_frame, ra) == 192, "switch.S");
_Static_assert(offsetof(struct lthread__switch_frame, frm) == 200, "switch.S");
_Static_assert(sizeof(struct lthread__switch_frame) == 208, "switch.S");
#else
#error "lthread: no context switch for this architecture (see src/arch/)"
#endif

/* Saves the running context on its stack, stores its sp in *save_sp and
 * resumes the context whose sp is new_sp. Returns when someone switches
 * back to *save_sp, and returns 0 (so that a function returning 0 after
 * its switch can end in a tail call of it: the yield). */
int lthread__switch(void **save_sp, void *new_sp);

/* The same, tuned for a switch between different call sites (see
 * x86_64/switch.S); elsewhere the same function. */
#if defined(__x86_64__)
int lthread__switch_cross(void **save_sp, void *new_sp);
#else
#define lthread__switch_cross lthread__switch
#endif

/* The switches below exist on every architecture above (a port writes
 * them all); the variants named _cross and _ret differ from the plain
 * ones only on x86-64, where a switch may leave by pop + jmp. */

/* Resumes the context whose sp is new_sp as lthread__switch_cross() does,
 * saving nothing of the running context, which must never be resumed (its
 * stack is given up: an exiting lthread); never returns. (Not declared
 * noreturn: ASan instruments a call of a noreturn function with
 * __asan_handle_no_return, which warns on a stack it does not know; the
 * caller says __builtin_unreachable() after it instead.) */
void lthread__switch_drop(void *new_sp);
/* lthread__switch_drop() leaving with `ret`, as lthread__switch() does:
 * for a context that switched out through a call whose return address
 * is the return stack buffer's top now (lthread__exit_joined). */
#if defined(__x86_64__)
void lthread__switch_drop_ret(void *new_sp);
#else
#define lthread__switch_drop_ret lthread__switch_drop
#endif

/* Saves the running context as lthread__switch() does (*save_sp), then
 * starts a new one on the stack whose 16-byte aligned top is `top`:
 * body(ctx, arg), then epilogue(ctx), which must not return, as from a
 * frame of lthread__frame_init() with no prologue, but without writing
 * one (see x86_64/switch.S). Returns 0 when the saved context is resumed. */
int lthread__switch_start(void **save_sp, void *top, void *ctx,
                          void (*body)(void *ctx, void *arg), void *arg,
                          void (*epilogue)(void *ctx));

/* Saves the running context as lthread__switch() does, then calls
 * fn(arg) on the stack via_sp (16-byte aligned free memory of a suspended
 * context's stack) and resumes the context whose sp fn returns (see
 * x86_64/switch.S); returns 0, as lthread__switch(). */
int lthread__switch_via(void **save_sp, void *via_sp, void *(*fn)(void *),
                        void *arg);
/* lthread__switch_via() leaving as lthread__switch_cross() does. */
#if defined(__x86_64__)
int lthread__switch_via_cross(void **save_sp, void *via_sp, void *(*fn)(void *),
                              void *arg);
#else
#define lthread__switch_via_cross lthread__switch_via
#endif

/* The first code a new context runs; never called directly. */
void lthread__trampoline(void);

/* What a new context runs (see above). */
struct lthread__entry {
    void (*prologue)(void *ctx);
    void (*body)(void *ctx, void *arg);
    void (*epilogue)(void *ctx); /* must not return */
    void *ctx;
    void *arg;
};

/* Builds the first frame of a new context just below stack_top (which must
 * be 16-byte aligned) and returns the sp to pass to lthread__switch(). The
 * control words are copied from the running context. */
void *lthread__frame_init(void *stack_top, const struct lthread__entry *e);

/* Stores the running context's floating-point control state into a new
 * frame f (lthread__frame_control: src/arch/<arch>/frame.h). */
#if defined(__x86_64__)
#include "x86_64/frame.h"
#elif defined(__aarch64__)
#include "aarch64/frame.h"
#else
#include "riscv64/frame.h"
#endif

/* lthread__frame_init(), inline: the start of an lthread (region.c) builds
 * its frame in place, without a call or a struct lthread__entry in
 * memory. Nothing from libc (__builtin_memset): the frame files compile
 * freestanding, which make check-targets uses to check them for FreeBSD
 * and macOS. */
static inline __attribute__((always_inline)) void *
lthread__frame_fill(void *stack_top, const struct lthread__entry *e)
{
    struct lthread__switch_frame *f =
        (struct lthread__switch_frame *)stack_top - 1;

    /* A frame pointer of 0 that ends frame-pointer walks (and, where
     * cheap, every other byte the fields below leave). */
    lthread__frame_clear(f);
    /* A new context starts with the creator's rounding modes (and masks,
     * flush-to-zero), as a new pthread does. */
    lthread__frame_control(f);
    f->LTHREAD__FRAME_CTX = (uint64_t)(uintptr_t)e->ctx;
    f->LTHREAD__FRAME_PROLOGUE = (uint64_t)(uintptr_t)e->prologue;
    f->LTHREAD__FRAME_BODY = (uint64_t)(uintptr_t)e->body;
    f->LTHREAD__FRAME_ARG = (uint64_t)(uintptr_t)e->arg;
    f->LTHREAD__FRAME_EPILOGUE = (uint64_t)(uintptr_t)e->epilogue;
    f->LTHREAD__FRAME_RESUME = (uint64_t)(uintptr_t)lthread__trampoline;
    return f;
}

#endif /* LTHREAD_ARCH_SWITCH_H */
