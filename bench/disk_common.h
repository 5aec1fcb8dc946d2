/*
 * What the disk benchmarks share (bench/disk_*.c, run by bench/disk_run.sh):
 * the job, random 4 KiB reads at a queue depth over one file, the timer
 * whose lateness they record, and how the figures are printed.
 *
 *   PROGRAM FILE DEPTH SECONDS [direct]
 *
 * After a warm-up of half a second, for SECONDS: reads done (IOPS), CPU
 * time of the whole process (every thread: the scheduler, I/O pthreads,
 * io_uring's workers, libuv's pool) per read, and how late a 1 ms timer
 * on the same event loop fires (median and 99th percentile).
 */
#ifndef BENCH_DISK_COMMON_H
#define BENCH_DISK_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define DISK_BS 4096
#define DISK_WARMUP_NS 500000000ull
#define DISK_MAX_LATE 200000

struct disk_job {
    const char *file;
    int fd;
    int depth;
    int direct;
    double seconds;
    uint64_t blocks; /* in the file */
    /* Measured. */
    uint64_t reads;
    double late_us[DISK_MAX_LATE];
    size_t nlate;
    uint64_t t0_ns, t1_ns;
    double cpu0, cpu1; /* process CPU seconds */
};

static inline double disk_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Parses the arguments and opens the file. */
static inline void disk_job_init(struct disk_job *j, int argc, char **argv)
{
    struct stat st;

    if (argc < 4) {
        fprintf(stderr, "usage: %s FILE DEPTH SECONDS [direct]\n", argv[0]);
        exit(2);
    }
    memset(j, 0, sizeof(*j));
    j->file = argv[1];
    j->depth = atoi(argv[2]);
    j->seconds = atof(argv[3]);
    j->direct = argc > 4 && strcmp(argv[4], "direct") == 0;
    j->fd = open(j->file, O_RDONLY | (j->direct ? O_DIRECT : 0));
    if (j->fd < 0 || fstat(j->fd, &st) < 0 || j->depth < 1) {
        perror(j->file);
        exit(1);
    }
    j->blocks = (uint64_t)st.st_size / DISK_BS;
}

/* A random block offset (xorshift; one state per reader). */
static inline off_t disk_next(const struct disk_job *j, uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (off_t)((x % j->blocks) * DISK_BS);
}

static inline void disk_late(struct disk_job *j, double us)
{
    if (j->nlate < DISK_MAX_LATE)
        j->late_us[j->nlate++] = us;
}

static int disk_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Prints the RESULT lines of variant `name`. */
static inline void disk_report(struct disk_job *j, const char *name)
{
    double secs = (j->t1_ns - j->t0_ns) / 1e9;
    char variant[128];

    snprintf(variant, sizeof(variant), "%s.%s.qd%d", name,
             j->direct ? "direct" : "cached", j->depth);
    bench_result("disk_iops", variant, j->reads / secs, "iops");
    bench_result("disk_cpu", variant,
                 j->reads ? (j->cpu1 - j->cpu0) * 1e6 / j->reads : 0, "us/io");
    qsort(j->late_us, j->nlate, sizeof(double), disk_cmp);
    if (j->nlate) {
        bench_result("disk_timer_p50", variant, j->late_us[j->nlate / 2], "us");
        bench_result("disk_timer_p99", variant,
                     j->late_us[(size_t)(j->nlate * 0.99)], "us");
    }
}

#endif
