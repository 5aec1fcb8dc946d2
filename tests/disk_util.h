/*
 * What the disk tests share: running a test's body once per backend, each
 * in a child process of its own (io_uring as the library picks it, then
 * the I/O pool, forced with LTHREAD_DISK=pool), a scratch directory, and
 * the check that a run got the backend it asked for.
 *
 * With LTHREAD_DISK set in the environment, only that backend runs (in
 * the process itself). Built with liburing (LTHREAD_TEST_LIBURING, from
 * the Makefile) on a kernel that lets this process set up a ring, the
 * io_uring run must get io_uring: else both runs would test the pool.
 */
#ifndef LTHREAD_TEST_DISK_UTIL_H
#define LTHREAD_TEST_DISK_UTIL_H

#include <lthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "check.h"

/* The backend this process's run is for: "io_uring" or "pool". */
static const char *disk_want = "io_uring";

/* Whether the kernel lets this process set up an io_uring instance (the
 * system call itself: no liburing needed). */
static inline int disk_kernel_has_uring(void)
{
#if defined(__linux__) && defined(__NR_io_uring_setup)
    /* struct io_uring_params is 120 bytes; zero asks for the defaults. */
    unsigned long long params[16] = {0};
    long fd = syscall(__NR_io_uring_setup, 1, params);

    if (fd < 0)
        return 0;
    close((int)fd);
    return 1;
#else
    return 0;
#endif
}

/* Checks, from an lthread, that this run got the backend it wants. */
static inline void disk_check_backend(void)
{
    const char *got = lthread_io_backend();

    printf("backend: %s (wanted %s)\n", got ? got : "(null)", disk_want);
    CHECK(got != NULL);
    if (!got)
        return;
    if (strcmp(disk_want, "pool") == 0) {
        CHECK(strcmp(got, "pool") == 0);
        return;
    }
    if (strcmp(got, "io_uring") == 0)
        return;
#ifdef LTHREAD_TEST_LIBURING
    if (disk_kernel_has_uring()) {
        printf("built with liburing on a kernel that allows io_uring, "
               "but the library chose %s\n",
               got);
        CHECK(strcmp(got, "io_uring") == 0);
        return;
    }
    printf("SKIP io_uring: this kernel refuses it here; the pool ran\n");
#else
    printf("SKIP io_uring: built without liburing; the pool ran\n");
#endif
}

/* Runs body(backend) once per backend, each in a child process; returns
 * the worst exit status (1 over CHECK_EXIT_TIMING over 0). */
static inline int disk_run_backends(int (*body)(void))
{
    static const char *const backends[] = {"io_uring", "pool"};
    const char *forced = getenv("LTHREAD_DISK");
    int worst = 0;

    if (forced) {
        disk_want = strcmp(forced, "pool") == 0 ? "pool" : "io_uring";
        return body();
    }
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        int status, rc;
        pid_t pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            /* Each line out at once: a crash must not lose what came
             * before it. */
            setvbuf(stdout, NULL, _IOLBF, 0);
            disk_want = backends[i];
            if (strcmp(disk_want, "pool") == 0)
                setenv("LTHREAD_DISK", "pool", 1);
            printf("==== %s\n", disk_want);
            exit(body());
        }
        if (waitpid(pid, &status, 0) < 0) {
            perror("waitpid");
            return 1;
        }
        if (WIFEXITED(status)) {
            rc = WEXITSTATUS(status);
        } else {
            printf("the %s run died of signal %d\n", backends[i],
                   WTERMSIG(status));
            rc = 1;
        }
        if (rc != 0 && rc != CHECK_EXIT_TIMING)
            worst = 1;
        else if (rc == CHECK_EXIT_TIMING && worst == 0)
            worst = CHECK_EXIT_TIMING;
    }
    return worst;
}

/* A new scratch directory (under $TMPDIR or /tmp) in dir[len]. */
static inline int disk_tmpdir(char *dir, size_t len, const char *name)
{
    const char *base = getenv("TMPDIR");

    if (!base || !*base)
        base = "/tmp";
    snprintf(dir, len, "%s/lthread-%s.XXXXXX", base, name);
    return mkdtemp(dir) ? 0 : -1;
}

/* Eight bytes of version v of the test files' contents, at offset 8 * w
 * (version 0 is never written: zero, as a hole reads). */
static inline unsigned long long disk_word(unsigned long long w, unsigned v)
{
    unsigned long long x;

    if (!v)
        return 0;
    x = w * 0x9E3779B97F4A7C15ull + v * 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 29);
}

/* The byte at offset off of version v. */
static inline unsigned char disk_byte(unsigned long long off, unsigned v)
{
    return (unsigned char)(disk_word(off >> 3, v) >> (8 * (off & 7)));
}

/* Fills p[0..len) with version v's bytes at offsets off... */
static inline void disk_fill(unsigned char *p, size_t len,
                             unsigned long long off, unsigned v)
{
    size_t i = 0;

    while (i < len) {
        unsigned long long o = off + i, x = disk_word(o >> 3, v);

        for (unsigned k = (unsigned)(o & 7); k < 8 && i < len; k++, i++)
            p[i] = (unsigned char)(x >> (8 * k));
    }
}

/* The index of the first byte of p[0..len) that is not version v's, or
 * len. */
static inline size_t disk_diff(const unsigned char *p, size_t len,
                               unsigned long long off, unsigned v)
{
    size_t i = 0;

    while (i < len) {
        unsigned long long o = off + i, x = disk_word(o >> 3, v);

        for (unsigned k = (unsigned)(o & 7); k < 8 && i < len; k++, i++)
            if (p[i] != (unsigned char)(x >> (8 * k)))
                return i;
    }
    return len;
}

#endif
