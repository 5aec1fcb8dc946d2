/*
 * The context switch alone: src/arch/<arch>/switch.S and frame.c, no other
 * library code.
 *
 *   cc -O2 tests/test_switch.c src/arch/$ARCH/switch.S \
 *      src/arch/$ARCH/frame.c -o test_switch -lm
 *
 * (-lm for fesetround(); .ci/aarch64-switch.sh builds it every way.)
 * x86-64, aarch64 and riscv64 (without flush-to-zero, which RISC-V lacks).
 *
 * Main and up to two contexts on malloc'd stacks pass control around a
 * ring, main -> context 0 -> context 1 -> main, and check after each hop
 * that what the ABI says survives a call survived the switch: callee-saved
 * registers (loaded with known values by inline asm), the floating-point
 * control state of each context, the entry conditions of a new context,
 * and locals reached through pointers from the other stack.
 */
#define _POSIX_C_SOURCE 200809L /* check.h uses clock_gettime() */

#include "../src/arch/switch.h"

#include <fenv.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unwind_util.h"

#define STACK_SIZE (64 * 1024)

/* The switch under test: lthread__switch, lthread__switch_cross,
 * lthread__switch_via or lthread__switch_via_cross (switch_by_via,
 * switch_by_via_cross; the cross variants are the plain ones except on
 * x86-64). */
static int (*switch_fn)(void **, void *) = lthread__switch;

static void *main_sp;   /* main's frame while a context runs */
static void *ctx_sp[2]; /* each context's frame while it is parked */
static void *dead_sp;   /* written by contexts leaving for good */
static int drop_leave;  /* they leave by lthread__switch_drop (1) or
                         * lthread__switch_drop_ret (2) instead */
static int nctx;        /* contexts in the ring now: 1 or 2 */
static unsigned char *stacks[2];

/* lthread__switch_via as a plain switch: its fn, called on a third stack,
 * returns the sp it is given (the region-mates' swap returns the one of
 * the mate it copied in), and the switch resumes there. */
static _Alignas(16) unsigned char via_stack[16 * 1024];

static void *via_next(void *sp)
{
    return sp;
}

static int switch_by_via(void **save_sp, void *new_sp)
{
    return lthread__switch_via(save_sp, via_stack + sizeof(via_stack), via_next,
                               new_sp);
}

static int switch_by_via_cross(void **save_sp, void *new_sp)
{
    return lthread__switch_via_cross(save_sp, via_stack + sizeof(via_stack),
                                     via_next, new_sp);
}

/* ---- the ring ---------------------------------------------------------- */

static void *next_sp(int id)
{
    return id + 1 < nctx ? ctx_sp[id + 1] : main_sp;
}

/* Context id passes control to the next one in the ring. */
static void hop(int id)
{
    /* Back here: the switch returns 0 (whoever resumed us, and how). */
    CHECK_EQ(switch_fn(&ctx_sp[id], next_sp(id)), 0);
}

/* Main passes control to context 0. */
static void main_hop(void)
{
    CHECK_EQ(switch_fn(&main_sp, ctx_sp[0]), 0);
}

/* Context id hands on for the last time; its frame is never resumed. If
 * it were, entry would return into the trampoline's trap. Not noreturn, not
 * even by inference (no abort()): ASan would then call
 * __asan_handle_no_return on a stack it does not know, and warn. */
static void leave(int id)
{
    if (drop_leave == 2)
        lthread__switch_drop_ret(next_sp(id)); /* saves nothing */
    else if (drop_leave)
        lthread__switch_drop(next_sp(id));
    else
        switch_fn(&dead_sp, next_sp(id));
    CHECK(!"a finished context was resumed");
}

/* The trampoline's three steps, for contexts whose entry never returns:
 * ctx is the entry function itself. */
static void no_prologue(void *ctx)
{
    (void)ctx;
}

static void call_entry(void *ctx, void *arg)
{
    void (*entry)(void *) = (void (*)(void *))ctx;

    entry(arg);
}

static void no_epilogue(void *ctx)
{
    (void)ctx;
    CHECK(!"a context's entry returned");
    exit(1);
}

/* Makes n contexts, each on a fresh stack, ready to run entry(args[i]). */
static void ring_start(int n, void (*entry)(void *), void *const args[])
{
    nctx = n;
    for (int i = 0; i < n; i++) {
        stacks[i] = malloc(STACK_SIZE);
        if (!stacks[i]) {
            CHECK(!"malloc failed");
            exit(1);
        }
        unsigned char *top = stacks[i] + STACK_SIZE;
        ctx_sp[i] = lthread__frame_init(top, &(struct lthread__entry){
                                                 .prologue = no_prologue,
                                                 .body = call_entry,
                                                 .epilogue = no_epilogue,
                                                 .ctx = (void *)entry,
                                                 .arg = args[i],
                                             });
    }
}

/* Frees the stacks once every context has left. */
static void ring_end(void)
{
    for (int i = 0; i < nctx; i++) {
        free(stacks[i]);
        stacks[i] = NULL;
    }
    nctx = 0;
}

/* ---- per-architecture probes ------------------------------------------- */

/*
 * probe_sp() returns its caller's stack pointer as it was at the call
 * (x86-64: before the return address was pushed). A compiler keeps that
 * 16-byte aligned at every call if the function was entered aligned, so a
 * misaligned value here means the trampoline started entry misaligned.
 */
uintptr_t probe_sp(void);

#if defined(__x86_64__)
#define NREGS 6 /* rbx rbp r12 r13 r14 r15 */
__asm__(".text\n"
        ".type probe_sp, @function\n"
        "probe_sp:\n"
        "    leaq 8(%rsp), %rax\n"
        "    ret\n"
        ".size probe_sp, .-probe_sp\n");

/*
 * Loads in[] into the callee-saved registers, switches, and stores what
 * they hold once switched back to into out[]. Meanwhile the other contexts
 * load their own values into the same registers. The call is made from
 * inside the asm, so the compiler cannot save anything around it for us:
 * rbp (perhaps the frame pointer, so no clobber allowed) and out are kept
 * on the stack by hand.
 */
static void swap_checked(void **save, void *next, const uint64_t *in,
                         uint64_t *out)
{
    /* clang-format off */
    __asm__ volatile(
        "movq   %%rsp, %%rax\n\t"
        "subq   $128, %%rsp\n\t"        /* step over the red zone */
        "andq   $-16, %%rsp\n\t"        /* a call needs rsp 16-aligned */
        "pushq  %%rax\n\t"              /* the original rsp */
        "pushq  %%rcx\n\t"              /* out */
        "pushq  %%rbp\n\t"
        "subq   $8, %%rsp\n\t"          /* 16-aligned again */
        "movq   0(%%rdx), %%rbx\n\t"
        "movq   8(%%rdx), %%rbp\n\t"
        "movq   16(%%rdx), %%r12\n\t"
        "movq   24(%%rdx), %%r13\n\t"
        "movq   32(%%rdx), %%r14\n\t"
        "movq   40(%%rdx), %%r15\n\t"
        "call   lthread__switch\n\t"
        "movq   16(%%rsp), %%rcx\n\t"
        "movq   %%rbx, 0(%%rcx)\n\t"
        "movq   %%rbp, 8(%%rcx)\n\t"
        "movq   %%r12, 16(%%rcx)\n\t"
        "movq   %%r13, 24(%%rcx)\n\t"
        "movq   %%r14, 32(%%rcx)\n\t"
        "movq   %%r15, 40(%%rcx)\n\t"
        "addq   $8, %%rsp\n\t"
        "popq   %%rbp\n\t"
        "addq   $8, %%rsp\n\t"
        "popq   %%rsp\n\t"
        : "+D"(save), "+S"(next), "+d"(in), "+c"(out)
        :
        : "rax", "r8", "r9", "r10", "r11", "rbx", "r12", "r13", "r14",
          "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
          "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
          "xmm14", "xmm15", "cc", "memory");
    /* clang-format on */
}

/* MXCSR control bits (status flags masked off: they are sticky results,
 * not state a switch keeps) and the x87 control word, in one value. */
static uint64_t read_fp_control(void)
{
    uint32_t mxcsr;
    uint16_t cw;

    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return (uint64_t)(mxcsr & ~0x3fu) << 16 | cw;
}

/* Turns on flush-to-zero and denormals-are-zero for SSE. */
static void set_flush_to_zero(void)
{
    uint32_t mxcsr;

    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    mxcsr |= 0x8040;
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
}

#elif defined(__aarch64__)
#define NREGS 19 /* x19-x28, x29, d8-d15 */
__asm__(".text\n"
        ".type probe_sp, %function\n"
        "probe_sp:\n"
        "    mov x0, sp\n"
        "    ret\n"
        ".size probe_sp, .-probe_sp\n");

/*
 * Loads in[] into the callee-saved registers (in[0..9] x19-x28, in[10]
 * x29, in[11..18] d8-d15), switches, and stores what they hold once
 * switched back to into out[]. Meanwhile the other contexts load their own
 * values into the same registers. The call is made from inside the asm, so
 * the compiler cannot save anything around it for us: x29 (the frame
 * pointer, so no clobber allowed) and out are kept on the stack by hand.
 */
static void swap_checked(void **save, void *next, const uint64_t *in,
                         uint64_t *out)
{
    register void **x0 __asm__("x0") = save;
    register void *x1 __asm__("x1") = next;
    register const uint64_t *x2 __asm__("x2") = in;
    register uint64_t *x3 __asm__("x3") = out;

    /* clang-format off */
    __asm__ volatile(
        "stp    x29, x3, [sp, #-16]!\n\t"
        "ldp    x19, x20, [x2, #0]\n\t"
        "ldp    x21, x22, [x2, #16]\n\t"
        "ldp    x23, x24, [x2, #32]\n\t"
        "ldp    x25, x26, [x2, #48]\n\t"
        "ldp    x27, x28, [x2, #64]\n\t"
        "ldr    x29, [x2, #80]\n\t"
        "ldp    d8, d9, [x2, #88]\n\t"
        "ldp    d10, d11, [x2, #104]\n\t"
        "ldp    d12, d13, [x2, #120]\n\t"
        "ldp    d14, d15, [x2, #136]\n\t"
        "bl     lthread__switch\n\t"
        "mov    x2, x29\n\t"
        "ldp    x29, x3, [sp], #16\n\t"
        "stp    x19, x20, [x3, #0]\n\t"
        "stp    x21, x22, [x3, #16]\n\t"
        "stp    x23, x24, [x3, #32]\n\t"
        "stp    x25, x26, [x3, #48]\n\t"
        "stp    x27, x28, [x3, #64]\n\t"
        "str    x2, [x3, #80]\n\t"
        "stp    d8, d9, [x3, #88]\n\t"
        "stp    d10, d11, [x3, #104]\n\t"
        "stp    d12, d13, [x3, #120]\n\t"
        "stp    d14, d15, [x3, #136]\n\t"
        : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
        :
        : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
          "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22",
          "x23", "x24", "x25", "x26", "x27", "x28", "x30", "v0", "v1", "v2",
          "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12",
          "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21",
          "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30",
          "v31", "cc", "memory");
    /* clang-format on */
}

/* FPCR: rounding mode, flush-to-zero, default NaN, trap enables. */
static uint64_t read_fp_control(void)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return fpcr;
}

/* Turns on flush-to-zero (FPCR.FZ). */
static void set_flush_to_zero(void)
{
    uint64_t fpcr = read_fp_control() | (1u << 24);

    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}

#elif defined(__riscv) && __riscv_xlen == 64
#define NREGS 24 /* s0-s11, fs0-fs11 */
#define HAVE_FTZ 0
__asm__(".text\n"
        ".type probe_sp, @function\n"
        "probe_sp:\n"
        "    mv a0, sp\n"
        "    ret\n"
        ".size probe_sp, .-probe_sp\n");

/*
 * Loads in[] into the callee-saved registers (in[0..11] s0-s11, in[12..23]
 * fs0-fs11), switches, and stores what they hold once switched back to
 * into out[]. Meanwhile the other contexts load their own values into the
 * same registers. The call is made from inside the asm, so the compiler
 * cannot save anything around it for us: s0 (perhaps the frame pointer, so
 * no clobber allowed) and out are kept on the stack by hand.
 */
static void swap_checked(void **save, void *next, const uint64_t *in,
                         uint64_t *out)
{
    register void **a0 __asm__("a0") = save;
    register void *a1 __asm__("a1") = next;
    register const uint64_t *a2 __asm__("a2") = in;
    register uint64_t *a3 __asm__("a3") = out;

    /* clang-format off */
    __asm__ volatile(
        "addi   sp, sp, -16\n\t"
        "sd     s0, 0(sp)\n\t"
        "sd     a3, 8(sp)\n\t"
        "ld     s0, 0(a2)\n\t"
        "ld     s1, 8(a2)\n\t"
        "ld     s2, 16(a2)\n\t"
        "ld     s3, 24(a2)\n\t"
        "ld     s4, 32(a2)\n\t"
        "ld     s5, 40(a2)\n\t"
        "ld     s6, 48(a2)\n\t"
        "ld     s7, 56(a2)\n\t"
        "ld     s8, 64(a2)\n\t"
        "ld     s9, 72(a2)\n\t"
        "ld     s10, 80(a2)\n\t"
        "ld     s11, 88(a2)\n\t"
        "fld    fs0, 96(a2)\n\t"
        "fld    fs1, 104(a2)\n\t"
        "fld    fs2, 112(a2)\n\t"
        "fld    fs3, 120(a2)\n\t"
        "fld    fs4, 128(a2)\n\t"
        "fld    fs5, 136(a2)\n\t"
        "fld    fs6, 144(a2)\n\t"
        "fld    fs7, 152(a2)\n\t"
        "fld    fs8, 160(a2)\n\t"
        "fld    fs9, 168(a2)\n\t"
        "fld    fs10, 176(a2)\n\t"
        "fld    fs11, 184(a2)\n\t"
        "call   lthread__switch\n\t"
        "mv     a2, s0\n\t"
        "ld     s0, 0(sp)\n\t"
        "ld     a3, 8(sp)\n\t"
        "addi   sp, sp, 16\n\t"
        "sd     a2, 0(a3)\n\t"
        "sd     s1, 8(a3)\n\t"
        "sd     s2, 16(a3)\n\t"
        "sd     s3, 24(a3)\n\t"
        "sd     s4, 32(a3)\n\t"
        "sd     s5, 40(a3)\n\t"
        "sd     s6, 48(a3)\n\t"
        "sd     s7, 56(a3)\n\t"
        "sd     s8, 64(a3)\n\t"
        "sd     s9, 72(a3)\n\t"
        "sd     s10, 80(a3)\n\t"
        "sd     s11, 88(a3)\n\t"
        "fsd    fs0, 96(a3)\n\t"
        "fsd    fs1, 104(a3)\n\t"
        "fsd    fs2, 112(a3)\n\t"
        "fsd    fs3, 120(a3)\n\t"
        "fsd    fs4, 128(a3)\n\t"
        "fsd    fs5, 136(a3)\n\t"
        "fsd    fs6, 144(a3)\n\t"
        "fsd    fs7, 152(a3)\n\t"
        "fsd    fs8, 160(a3)\n\t"
        "fsd    fs9, 168(a3)\n\t"
        "fsd    fs10, 176(a3)\n\t"
        "fsd    fs11, 184(a3)\n\t"
        : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3)
        :
        : "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "a4", "a5", "a6",
          "a7", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
          "s11", "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7",
          "ft8", "ft9", "ft10", "ft11", "fs0", "fs1", "fs2", "fs3", "fs4",
          "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "fa0", "fa1",
          "fa2", "fa3", "fa4", "fa5", "fa6", "fa7", "memory");
    /* clang-format on */
}

/* The rounding mode, frm: RISC-V's only floating-point control state. */
static uint64_t read_fp_control(void)
{
    uint64_t frm;

    __asm__ volatile("frrm %0" : "=r"(frm));
    return frm;
}

/* RISC-V has no flush-to-zero mode (HAVE_FTZ 0): never called. */
static void set_flush_to_zero(void)
{
}

#else
#error "test_switch: no probes for this architecture"
#endif

#ifndef HAVE_FTZ
#define HAVE_FTZ 1 /* a flush-to-zero mode to keep per context */
#endif

/* ---- 1. ping-pong ------------------------------------------------------ */

#define PINGPONG_ROUNDS 100000

static long step;            /* bumped by whoever runs, in ring order */
static long pingpong_bad[2]; /* hops on which a context saw a wrong state */

/* Each context checks that it runs in its turn and that a canary on its
 * own stack survives every absence. */
static void pingpong_entry(void *arg)
{
    int id = *(const int *)arg;
    volatile uint64_t canary[4];
    long bad = 0;

    for (int k = 0; k < 4; k++)
        canary[k] = 0x5a5a000000000000u + (uint64_t)id * 16 + (uint64_t)k;
    for (long r = 0; r < PINGPONG_ROUNDS; r++) {
        bad += step != 3 * r + 1 + id;
        step++;
        hop(id);
        for (int k = 0; k < 4; k++)
            bad += canary[k] !=
                   0x5a5a000000000000u + (uint64_t)id * 16 + (uint64_t)k;
    }
    pingpong_bad[id] = bad;
    leave(id);
}

static void test_pingpong(void)
{
    static const int ids[2] = {0, 1};
    void *const args[2] = {(void *)&ids[0], (void *)&ids[1]};
    volatile uint64_t canary = 0xfeedfacecafebeefu;
    long bad = 0;

    step = 0;
    pingpong_bad[0] = pingpong_bad[1] = -1;
    ring_start(2, pingpong_entry, args);
    for (long r = 0; r < PINGPONG_ROUNDS; r++) {
        bad += step != 3 * r;
        step++;
        main_hop();
        bad += canary != 0xfeedfacecafebeefu;
    }
    main_hop(); /* both contexts finish and leave, the last one to us */
    ring_end();
    CHECK_EQ(bad, 0);
    CHECK_EQ(pingpong_bad[0], 0);
    CHECK_EQ(pingpong_bad[1], 0);
    CHECK_EQ(step, 3L * PINGPONG_ROUNDS);
}

/* ---- 2. callee-saved registers ----------------------------------------- */

#define REG_ROUNDS 2000

static long regs_bad[3]; /* [0..1] contexts, [2] main */

/* A value per (participant, round, register), distinct for all of them. */
static uint64_t pattern(int who, long round, int reg)
{
    uint64_t x = ((uint64_t)who << 40 | (uint64_t)round << 8 | (uint64_t)reg) +
                 0x9e3779b97f4a7c15u;

    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* One participant's side: REG_ROUNDS switches with fresh patterns. */
static long regs_run(int who, void **save, int id)
{
    uint64_t in[NREGS], out[NREGS];
    long bad = 0;

    for (long r = 0; r < REG_ROUNDS; r++) {
        for (int k = 0; k < NREGS; k++)
            in[k] = pattern(who, r, k);
        memset(out, 0, sizeof(out));
        /* next_sp() is read now, when the next one is surely parked. */
        swap_checked(save, id < 0 ? ctx_sp[0] : next_sp(id), in, out);
        for (int k = 0; k < NREGS; k++) {
            if (out[k] != in[k] && bad++ == 0)
                fprintf(stderr,
                        "participant %d round %ld register %d: "
                        "%#llx, expected %#llx\n",
                        who, r, k, (unsigned long long)out[k],
                        (unsigned long long)in[k]);
        }
    }
    return bad;
}

static void regs_entry(void *arg)
{
    int id = *(const int *)arg;

    regs_bad[id] = regs_run(id, &ctx_sp[id], id);
    leave(id);
}

static void test_registers(void)
{
    static const int ids[2] = {0, 1};
    void *const args[2] = {(void *)&ids[0], (void *)&ids[1]};

    regs_bad[0] = regs_bad[1] = -1;
    ring_start(2, regs_entry, args);
    regs_bad[2] = regs_run(2, &main_sp, -1);
    main_hop();
    ring_end();
    CHECK_EQ(regs_bad[0], 0);
    CHECK_EQ(regs_bad[1], 0);
    CHECK_EQ(regs_bad[2], 0);
}

/* ---- 3. floating-point control state, per context ---------------------- */

#define FENV_ROUNDS 1000

static volatile double one = 1.0, three = 3.0, tiny = DBL_MIN;
static uint64_t creator_control;   /* main's control state at ring_start */
static uint64_t fenv_inherited[2]; /* what each context found at entry */
static long fenv_bad[3];
static double third[3]; /* 1/3 as each participant rounds it */

static uint64_t bits(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof(u));
    return u;
}

/*
 * One participant's side: sets its rounding mode (and flush-to-zero if
 * asked), then after every switch back checks that the control state, the
 * mode fegetround() reports and the way the FPU actually rounds are all
 * still its own.
 */
static long fenv_run(int who, int mode, int ftz, void **save, int id)
{
    uint64_t control;
    long bad = 0;

    CHECK_EQ(fesetround(mode), 0);
    if (ftz)
        set_flush_to_zero();
    control = read_fp_control();
    third[who] = one / three;
    /* Flush-to-zero turns the subnormal DBL_MIN / 2 into zero. */
    CHECK_EQ(tiny / 2 == 0.0, ftz);
    for (long r = 0; r < FENV_ROUNDS; r++) {
        switch_fn(save, id < 0 ? ctx_sp[0] : next_sp(id));
        bad += read_fp_control() != control;
        bad += fegetround() != mode;
        bad += bits(one / three) != bits(third[who]);
        bad += (tiny / 2 == 0.0) != ftz;
    }
    return bad;
}

static void fenv_entry(void *arg)
{
    int id = *(const int *)arg;

    /* A new context starts with its creator's control state. */
    fenv_inherited[id] = read_fp_control();
    CHECK_EQ(fegetround(), FE_TOWARDZERO);
    fenv_bad[id] = id == 0 ? fenv_run(0, FE_UPWARD, HAVE_FTZ, &ctx_sp[0], 0)
                           : fenv_run(1, FE_DOWNWARD, 0, &ctx_sp[1], 1);
    leave(id);
}

static void test_fenv(void)
{
    static const int ids[2] = {0, 1};
    void *const args[2] = {(void *)&ids[0], (void *)&ids[1]};
    uint64_t initial = read_fp_control();

    fenv_bad[0] = fenv_bad[1] = -1;
    CHECK_EQ(fesetround(FE_TOWARDZERO), 0);
    creator_control = read_fp_control();
    ring_start(2, fenv_entry, args);
    fenv_bad[2] = fenv_run(2, FE_TOWARDZERO, 0, &main_sp, -1);
    main_hop();
    ring_end();
    CHECK_EQ(fenv_inherited[0], creator_control);
    CHECK_EQ(fenv_inherited[1], creator_control);
    CHECK_EQ(fenv_bad[0], 0);
    CHECK_EQ(fenv_bad[1], 0);
    CHECK_EQ(fenv_bad[2], 0);
    /* The modes really differ, so the checks above could have failed. */
    CHECK(third[0] > third[1]);
    CHECK(bits(third[1]) == bits(third[2]));
    CHECK_EQ(read_fp_control(), creator_control);
    CHECK_EQ(fesetround(FE_TONEAREST), 0);
    CHECK_EQ(read_fp_control(), initial);
}

/* ---- 4. entry conditions of a new context ------------------------------ */

struct entry_report {
    uintptr_t stack_lo, stack_hi; /* the context's stack */
    void *arg_seen;               /* what entry received */
    uintptr_t sp;                 /* probe_sp() in entry */
    uintptr_t aligned_local;      /* address of a 16-aligned local */
    int ran;
};

static void entry_entry(void *arg)
{
    struct entry_report *rep = arg;
    _Alignas(16) volatile unsigned char local[16];

    rep->sp = probe_sp();
    local[0] = 1;
    rep->aligned_local = (uintptr_t)&local[0];
    rep->arg_seen = arg;
    rep->ran = 1;
    leave(0);
}

static void test_entry(void)
{
    struct entry_report rep = {0};
    void *const args[1] = {&rep};
    unsigned char *top;

    ring_start(1, entry_entry, args);
    top = stacks[0] + STACK_SIZE;
    rep.stack_lo = (uintptr_t)stacks[0];
    rep.stack_hi = (uintptr_t)top;
    /* The first frame sits right below the top, where the first switch
     * pops it: the trampoline then starts with sp == top. */
    CHECK((unsigned char *)ctx_sp[0] + sizeof(struct lthread__switch_frame) ==
          top);
    CHECK_EQ((uintptr_t)ctx_sp[0] % 16, 0);
    main_hop();
    ring_end();
    CHECK(rep.ran);
    CHECK(rep.arg_seen == &rep);
    CHECK_EQ(rep.sp % 16, 0);
    CHECK(rep.sp > rep.stack_lo && rep.sp < rep.stack_hi);
    CHECK(rep.stack_hi - rep.sp < 4096);
    CHECK_EQ(rep.aligned_local % 16, 0);

    /* A new frame's frame pointer is 0, whatever the stack held before:
     * frame-pointer walks end at the entry. */
    {
        _Alignas(
            16) unsigned char old[2 * sizeof(struct lthread__switch_frame)];
        struct lthread__switch_frame *f;

        memset(old, 0xa5, sizeof(old));
        f = lthread__frame_init(old + sizeof(old), &(struct lthread__entry){
                                                       .prologue = no_prologue,
                                                       .body = call_entry,
                                                       .epilogue = no_epilogue,
                                                   });
#if defined(__x86_64__)
        CHECK_EQ(f->rbp, 0);
#elif defined(__aarch64__)
        CHECK_EQ(f->fp, 0);
#else
        CHECK_EQ(f->s0, 0);
#endif
        CHECK(f->LTHREAD__FRAME_RESUME ==
              (uint64_t)(uintptr_t)lthread__trampoline);
    }
}

/* ---- 5. pointers to locals across a switch ----------------------------- */

struct exchange {
    int *main_local;           /* set by main, written by the context */
    int *ctx_local;            /* set by the context, written by main */
    unsigned char *ctx_buffer; /* a buffer on the context's stack */
    int ctx_saw;               /* the context's local after main wrote it */
};

static void locals_entry(void *arg)
{
    struct exchange *x = arg;
    int mine = 10;
    unsigned char buffer[1024];

    *x->main_local += 1;
    for (int i = 0; i < (int)sizeof(buffer); i++)
        buffer[i] = (unsigned char)i;
    x->ctx_local = &mine;
    x->ctx_buffer = buffer;
    hop(0);
    x->ctx_saw = mine;
    for (int i = 0; i < (int)sizeof(buffer); i++)
        x->ctx_saw += buffer[i] != (unsigned char)(255 - i);
    leave(0);
}

static void test_locals(void)
{
    int mine = 1;
    struct exchange x = {&mine, NULL, NULL, -1};
    void *const args[1] = {&x};
    int bad = 0;

    ring_start(1, locals_entry, args);
    main_hop();
    CHECK_EQ(mine, 2);
    CHECK(x.ctx_local != NULL && *x.ctx_local == 10);
    for (int i = 0; i < 1024; i++) {
        bad += x.ctx_buffer[i] != (unsigned char)i;
        x.ctx_buffer[i] = (unsigned char)(255 - i);
    }
    CHECK_EQ(bad, 0);
    *x.ctx_local = 11;
    main_hop();
    ring_end();
    CHECK_EQ(x.ctx_saw, 11);
}

/* ---- 6. a new context started without a frame ---------------------------- */

static struct {
    void *ctx, *arg;    /* what the body received */
    uintptr_t sp;       /* probe_sp() in the body */
    int round;          /* fegetround() in the body */
    int resumed;        /* the body ran on after main resumed it */
    void *epilogue_ctx; /* what the epilogue received */
} started;

/* The body's frame pointer at entry (start_body_fp, below, reads it
 * before start_body's own code can change it). */
uintptr_t test_switch_start_fp;

void start_body(void *ctx, void *arg);
void start_body_fp(void *ctx, void *arg);
#if defined(__x86_64__)
#define START_BODY_FP                                                          \
    "    movq %rbp, test_switch_start_fp(%rip)\n"                              \
    "    jmp start_body\n"
#elif defined(__aarch64__)
#define START_BODY_FP                                                          \
    "    hint #34\n" /* bti c: called through blr */                           \
    "    adrp x9, test_switch_start_fp\n"                                      \
    "    str x29, [x9, :lo12:test_switch_start_fp]\n"                          \
    "    b start_body\n"
#else /* riscv64 */
#define START_BODY_FP                                                          \
    "    lla t0, test_switch_start_fp\n"                                       \
    "    sd s0, 0(t0)\n"                                                       \
    "    j start_body\n"
#endif
__asm__(".text\n"
        ".globl start_body_fp\n"
        ".type start_body_fp, %function\n"
        ".p2align 4\n"
        "start_body_fp:\n" START_BODY_FP
        ".size start_body_fp, .-start_body_fp\n");

void start_body(void *ctx, void *arg)
{
    started.ctx = ctx;
    started.arg = arg;
    started.sp = probe_sp();
    started.round = fegetround();
    /* The unwinder's walk ends cleanly in the trampoline, as for a
     * context started from a frame: this check, the body, the
     * trampoline's call. */
    check_unwinds_to_trampoline(8);
    CHECK_EQ(lthread__switch(&ctx_sp[0], main_sp), 0);
    started.resumed = 1;
}

static void start_epilogue(void *ctx)
{
    started.epilogue_ctx = ctx;
    lthread__switch_drop(main_sp);
    CHECK(!"a dropped context was resumed");
    exit(1);
}

static void test_start(void)
{
    unsigned char *stack = malloc(STACK_SIZE), *top;
    static int arg;

    if (!stack) {
        CHECK(!"malloc failed");
        exit(1);
    }
    top = stack + STACK_SIZE;
    memset(&started, 0, sizeof(started));
    memset(stack, 0xa5, STACK_SIZE);
    test_switch_start_fp = 1;
    CHECK_EQ(fesetround(FE_TOWARDZERO), 0);
    /* Back when the body switches out; it saw main's control words. */
    CHECK_EQ(lthread__switch_start(&main_sp, top, &started, start_body_fp, &arg,
                                   start_epilogue),
             0);
    /* A frame pointer of 0: frame-pointer walks end at the entry. */
    CHECK_EQ(test_switch_start_fp, 0);
    CHECK(started.ctx == &started && started.arg == &arg);
    CHECK_EQ(started.round, FE_TOWARDZERO);
    CHECK_EQ(started.sp % 16, 0);
    CHECK(started.sp > (uintptr_t)stack && started.sp < (uintptr_t)top);
    CHECK((uintptr_t)top - started.sp < 4096);
    CHECK_EQ(fesetround(FE_TONEAREST), 0);
    /* Resumed by a plain switch; its return leads into the epilogue,
     * which leaves for main. */
    CHECK_EQ(lthread__switch(&main_sp, ctx_sp[0]), 0);
    CHECK(started.resumed);
    CHECK(started.epilogue_ctx == &started);
    CHECK_EQ(fegetround(), FE_TONEAREST);
    free(stack);
}

int main(void)
{
    /* Both ways of leaving the switch (ret, and pop + jmp on x86-64), and
     * the switch through a borrowed stack. */
    int (*const variants[])(void **, void *) = {
        lthread__switch,
        lthread__switch_cross,
        switch_by_via,
        switch_by_via_cross,
    };

    for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        switch_fn = variants[v];
        /* Contexts leave for good by a switch into a scratch slot, and
         * by lthread__switch_drop and
         * lthread__switch_drop_ret (which must restore what the resumed
         * side had as a switch does: test_fenv's contexts leave with
         * control words of their own). */
        for (drop_leave = 0; drop_leave <= 2; drop_leave++) {
            test_pingpong();
            test_registers();
            test_fenv();
            test_entry();
            test_locals();
        }
    }
    for (int i = 0; i < 3; i++)
        test_start();
    return check_summary("test_switch");
}
