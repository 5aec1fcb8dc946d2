/*
 * hook_passthrough: what the hook library costs a program that runs no
 * lthreads: a tight loop of 1-byte write() and read() on a pipe, in
 * ns per write+read pair. bench/hook_run.sh runs it with and without
 * LD_PRELOAD=liblthread_hook.so, interleaved.
 *
 *   hook_passthrough [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    struct timespec t0, t1;
    int fds[2];
    char b = 'x';

    if (pipe(fds) != 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        if (write(fds[1], &b, 1) != 1 || read(fds[0], &b, 1) != 1)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("ns_per_pair %.1f\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
                                  (double)(t1.tv_nsec - t0.tv_nsec)) /
                                     (double)n);
    return 0;
}
