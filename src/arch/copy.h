/*
 * Copies of stack images wider than the baseline instruction set allows,
 * where the architecture has them (copy.c in its folder): region.c's
 * stack_copy() takes them for images of 1 KiB or more, and its
 * region-mates' swap for both copies of small ones, when the CPU running
 * us has the instructions.
 */
#ifndef LTHREAD_ARCH_COPY_H
#define LTHREAD_ARCH_COPY_H

#include <stddef.h>

#if defined(__x86_64__)
#define LTHREAD__STACK_COPY_WIDE 1
/* Non-zero when lthread__stack_copy_wide() may be called: the CPU has AVX2
 * and the kernel saves its registers. Set before main. */
extern __attribute__((visibility("hidden"))) int lthread__have_wide_copy;
/* Copies n bytes (a multiple of 16) with 32-byte moves; fastest with both
 * sides 32-byte aligned, correct at any alignment. */
void *lthread__stack_copy_wide(void *dst, const void *src, size_t n);
/* A region-mates' swap of small images: out bytes from out_src to out_dst,
 * then in bytes from in_src to in_dst (multiples of 16). Returns in_dst. */
void *lthread__swap_small_wide(void *out_dst, const void *out_src, size_t out,
                               void *in_dst, const void *in_src, size_t in);
#endif

#endif /* LTHREAD_ARCH_COPY_H */
