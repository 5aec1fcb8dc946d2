/*
 * memcpy against the distance of its destination from its source modulo
 * 4 KiB: what made lthread's stack copies of a few KiB (a region-mate's
 * frames out to its image and in again, src/region.c) fast or 25 times
 * slow depending on where an image happened to be allocated. Two 64 KiB
 * buffers, each 4 KiB aligned; for each distance d (bytes, -64 to 136 in
 * steps of 8) the best of 5 batches of copies of N bytes from src + 1024
 * to dst + 1024 + d.
 *
 *   RESULT memcpy nN.dD <ns> ns
 *
 * Usage: memcpy_skew [N ...]   (default 1100 2100 4368)
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static double copy_ns(char *dst, const char *src, size_t n)
{
    double best = 1e18;

    for (int batch = 0; batch < 5; batch++) {
        uint64_t t0 = bench_now_ns();

        for (int i = 0; i < 5000; i++) {
            memcpy(dst, src, n);
            __asm__ volatile("" ::: "memory");
        }
        double t = (double)(bench_now_ns() - t0) / 5000.0;
        if (t < best)
            best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    static const size_t dflt[] = {1100, 2100, 4368};
    char *src = aligned_alloc(4096, 1 << 16),
         *dst = aligned_alloc(4096, 1 << 16);
    int nsizes = argc > 1 ? argc - 1 : 3;

    if (!src || !dst)
        BENCH_DIE("aligned_alloc failed");
    memset(src, 1, 1 << 16);
    memset(dst, 2, 1 << 16);
    for (int k = 0; k < nsizes; k++) {
        size_t n = argc > 1 ? (size_t)strtoul(argv[k + 1], NULL, 0) : dflt[k];

        if (n == 0 || n > 16384)
            BENCH_DIE("size %zu: 1 to 16384", n);
        for (int d = -64; d <= 136; d += 8) {
            char variant[64];

            snprintf(variant, sizeof variant, "n%zu.d%d", n, d);
            bench_result("memcpy", variant,
                         copy_ns(dst + 1024 + d, src + 1024, n), "ns");
        }
    }
    return 0;
}
