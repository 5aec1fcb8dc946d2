/* Stack image copies with AVX2 (../copy.h). Stands alone, as the other
 * objects of this folder do (tests/test_switch links them by themselves). */
#include <immintrin.h>

#include "../copy.h"

int lthread__have_wide_copy;

/* (libgcc's and compiler-rt's check look at XCR0 as well as CPUID: the
 * kernel must save the registers too.) */
static __attribute__((constructor)) void wide_copy_detect(void)
{
    __builtin_cpu_init();
    lthread__have_wide_copy = __builtin_cpu_supports("avx2") != 0;
}

/* n bytes (a multiple of 16) with 32-byte moves, a 16-byte one last. */
__attribute__((target("avx2"))) static inline void
copy_by_32(char *d, const char *f, size_t n)
{
    size_t i = 0;

    for (; i + 32 <= n; i += 32)
        _mm256_storeu_si256(
            (__m256i *)(void *)(d + i),
            _mm256_loadu_si256((const __m256i *)(const void *)(f + i)));
    if (i < n)
        _mm_storeu_si128(
            (__m128i *)(void *)(d + i),
            _mm_loadu_si128((const __m128i *)(const void *)(f + i)));
}

/*
 * 128 bytes a round, then 32 at a time and 16 last (copy_by_32). Region.c
 * keeps both sides 32-byte aligned (images of 1 KiB or more start at a
 * multiple of 32, the stack side at one offset mod 32 with them): on AMD
 * EPYC Zen 4 a 4.3 KB copy took 37 ns this way against 45-55 for glibc's
 * memcpy (which copies that much with `rep movsb`), and a one-region
 * hand-off with 4 KiB of live stack 0.80-0.81x as long (BENCHMARKS.md,
 * "Stack copies with 32-byte moves"). Leaves the upper halves clean
 * (vzeroupper), as the ABI expects of a call.
 */
__attribute__((target("avx2"))) void *
lthread__stack_copy_wide(void *dst, const void *src, size_t n)
{
    char *d = dst;
    const char *f = src;
    size_t i = 0;

    for (; i + 128 <= n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(f + i));
        __m256i b =
            _mm256_loadu_si256((const __m256i *)(const void *)(f + i + 32));
        __m256i c =
            _mm256_loadu_si256((const __m256i *)(const void *)(f + i + 64));
        __m256i e =
            _mm256_loadu_si256((const __m256i *)(const void *)(f + i + 96));

        _mm256_storeu_si256((__m256i *)(void *)(d + i), a);
        _mm256_storeu_si256((__m256i *)(void *)(d + i + 32), b);
        _mm256_storeu_si256((__m256i *)(void *)(d + i + 64), c);
        _mm256_storeu_si256((__m256i *)(void *)(d + i + 96), e);
    }
    copy_by_32(d + i, f + i, n - i);
    _mm256_zeroupper();
    return dst;
}

/*
 * Both copies of a hand-over between region-mates with small images (below
 * 1 KiB: unaligned, no skew), in one call: the outgoing frames out, then
 * the incoming ones in. On AMD EPYC Zen 4 the one-region hand-off at 0 B
 * of live stack (about 200 bytes each way) took 0.82x as long as with
 * region.c's inline 16-byte copies when the core was ours, 0.97x when it
 * was contended (BENCHMARKS.md, "The mates' small copies with 32-byte
 * moves").
 */
__attribute__((target("avx2"))) void *
lthread__swap_small_wide(void *out_dst, const void *out_src, size_t out,
                         void *in_dst, const void *in_src, size_t in)
{
    copy_by_32(out_dst, out_src, out);
    copy_by_32(in_dst, in_src, in);
    _mm256_zeroupper();
    return in_dst;
}
