/*
 * What the context switches (src/arch/<arch>/switch.S) say differently
 * for each object format: ELF (Linux, the BSDs) and Mach-O (macOS). Only
 * for assembly files: everything here is an assembler directive.
 *
 *   LT_SYMBOL(name)       the assembler's name of C function `name`
 *                         (Mach-O prefixes C names with an underscore)
 *   LT_FUNC_BEGIN(sym)    starts global function sym (an LT_SYMBOL),
 *                         hidden from other modules, 16-byte aligned, with
 *                         its CFI opened
 *   LT_FUNC_END(sym)      closes its CFI and, on ELF, records its size
 *   LT_HIDDEN(sym)        the visibility directive alone (.hidden on ELF,
 *                         .private_extern on Mach-O)
 *   LT_LOCAL(name)        a label local to the file, which a jump from
 *                         another function may name (.L on ELF, L on
 *                         Mach-O: neither starts a new atom there)
 *   LT_FILE_END           last line of a file: ELF's non-executable stack
 *                         note, Mach-O's permission to dead-strip by symbol
 *
 * .type and .size exist only on ELF. The CFI directives (.cfi_*) are the
 * same in both formats (on Mach-O the assembler turns them into compact
 * unwind entries, or into __eh_frame where the rules do not fit), so the
 * switch files use them directly between LT_FUNC_BEGIN and LT_FUNC_END.
 *
 * LT_SEP separates statements on one line: `;` everywhere except Apple's
 * arm64 assembler, where `;` starts a comment (so the directives after it
 * would be silently dropped) and `%%` separates.
 */
#ifndef LTHREAD_ARCH_ASM_H
#define LTHREAD_ARCH_ASM_H

/* Assembler text, not C: kept out of clang-format. */
/* clang-format off */
#define LT_PASTE_(a, b) a##b
#define LT_PASTE(a, b) LT_PASTE_(a, b)

#if defined(__ELF__)
#define LT_SYMBOL(name)         name
#define LT_LOCAL(name)          LT_PASTE(.L, name)
#define LT_HIDDEN(sym)          .hidden sym
#define LT_TYPE_FUNCTION(sym)   .type sym, %function
#define LT_SIZE(sym)            .size sym, .-sym
#define LT_SEP                  ;
#define LT_FILE_END             .section .note.GNU-stack, "", %progbits
#elif defined(__APPLE__) && defined(__MACH__)
#define LT_SYMBOL(name)         LT_PASTE(_, name)
#define LT_LOCAL(name)          LT_PASTE(L, name)
#define LT_HIDDEN(sym)          .private_extern sym
#define LT_TYPE_FUNCTION(sym)
#define LT_SIZE(sym)
#if defined(__aarch64__)
#define LT_SEP                  %%
#else
#define LT_SEP                  ;
#endif
#define LT_FILE_END             .subsections_via_symbols
#else
#error "lthread: src/arch/asm.h knows ELF and Mach-O only"
#endif

#define LT_FUNC_BEGIN(sym)                                                  \
        .globl sym LT_SEP                                                   \
        LT_HIDDEN(sym) LT_SEP                                               \
        LT_TYPE_FUNCTION(sym) LT_SEP                                        \
        .p2align 4 LT_SEP                                                   \
sym: LT_SEP                                                                 \
        .cfi_startproc

#define LT_FUNC_END(sym)                                                    \
        .cfi_endproc LT_SEP                                                 \
        LT_SIZE(sym)
/* clang-format on */

#endif /* LTHREAD_ARCH_ASM_H */
