/*
 * Helpers shared by the benchmarks in bench/ (C and C++).
 *
 * Every measurement is printed as one line on stdout:
 *     RESULT <name> <variant> <value> <unit>
 * e.g. "RESULT switch lthread.cond.pad200.sep 41.3 ns". Anything else a
 * benchmark prints goes to stderr, so `grep ^RESULT` gives the data.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bench_result(const char *name, const char *variant,
                                double value, const char *unit)
{
    printf("RESULT %s %s %.2f %s\n", name, variant, value, unit);
    fflush(stdout);
}

/* Peak resident set size so far (VmHWM), in bytes; -1 if unreadable. */
static inline long long bench_vmhwm(void)
{
    char line[256];
    long long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtoll(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* Value sink: the optimiser must assume it is read. */
static volatile uint64_t bench_sink;

/* Optional first argument: a count that overrides the default. */
static inline long bench_arg(int argc, char **argv, int i, long dflt)
{
    if (argc > i) {
        long v = strtol(argv[i], NULL, 0);
        if (v > 0)
            return v;
    }
    return dflt;
}

/* "1M", "10M", "100K" or the number itself (static buffer). */
static inline const char *bench_count_label(long n)
{
    static char buf[32];
    if (n % 1000000 == 0)
        snprintf(buf, sizeof buf, "%ldM", n / 1000000);
    else if (n % 1000 == 0)
        snprintf(buf, sizeof buf, "%ldK", n / 1000);
    else
        snprintf(buf, sizeof buf, "%ld", n);
    return buf;
}

#define BENCH_DIE(...)                                                         \
    do {                                                                       \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        exit(1);                                                               \
    } while (0)

#endif /* BENCH_H */
