/*
 * The disk calls, once per backend (tests/disk_util.h): what each returns,
 * short reads at the end of a file, writes that loop, the file position,
 * vectors, buffers on shared stack regions while region-mates run (all
 * lthreads share one region here), O_DIRECT, the kernel's errors (EBADF,
 * EINVAL, EISDIR, EFAULT, EIO, ENOENT, EEXIST, ENOSPC on a small tmpfs,
 * EFBIG past RLIMIT_FSIZE without dying of SIGXFSZ), open, close, stat,
 * the calls outside an lthread and in a compute section, several
 * schedulers at once, more requests than a ring holds, and io_uring
 * forbidden by seccomp (the pool takes over).
 */
#include <lthread.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#endif

#include "check.h"
#include "disk_util.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static char dir[256];

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* ---- reads and writes -------------------------------------------------------
 */

static void t_read_write(void)
{
    enum { SIZE = 1 << 20 };
    unsigned char *big = malloc(SIZE), *back = malloc(SIZE);
    char path[300];
    ssize_t n;
    int fd;

    path_of(path, sizeof(path), "rw");
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    disk_fill(big, SIZE, 0, 1);
    /* One call writes everything. */
    CHECK_EQ(lthread_io_pwrite(fd, big, SIZE, 0), SIZE);
    memset(back, 0, SIZE);
    CHECK_EQ(lthread_io_pread(fd, back, SIZE, 0), SIZE);
    CHECK(memcmp(big, back, SIZE) == 0);
    /* Short at the end of the file, 0 past it. */
    CHECK_EQ(lthread_io_pread(fd, back, 4096, SIZE - 100), 100);
    CHECK(memcmp(back, big + SIZE - 100, 100) == 0);
    CHECK_EQ(lthread_io_pread(fd, back, 4096, SIZE), 0);
    CHECK_EQ(lthread_io_pread(fd, back, 0, 0), 0);
    /* The file position: write, write, then read from the start. */
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    CHECK_EQ(lthread_io_write(fd, big + 5, 1000), 1000);
    CHECK_EQ(lthread_io_write(fd, big + 1005, 2000), 2000);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 3000);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    n = lthread_io_read(fd, back, 1500);
    CHECK_EQ(n, 1500);
    CHECK(memcmp(back, big + 5, 1500) == 0);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 1500);
    CHECK_EQ(lthread_io_read(fd, back, 1500), 1500);
    CHECK(memcmp(back, big + 1505, 1500) == 0);
    CHECK_EQ(lthread_io_fsync(fd), 0);
    CHECK_EQ(lthread_io_fdatasync(fd), 0);
    CHECK_EQ(lthread_io_close(fd), 0);
    free(big);
    free(back);
}

/* Six iovecs, with stack (bounced) and heap parts and an empty one. */
static void t_vectors(void)
{
    unsigned char s1[700], s2[3000], s3[5];
    unsigned char *h1 = malloc(4096), *h2 = malloc(10000);
    struct iovec w[6] = {{s1, sizeof(s1)}, {h1, 4096},  {NULL, 0},
                         {s2, sizeof(s2)}, {h2, 10000}, {s3, sizeof(s3)}};
    size_t total = sizeof(s1) + 4096 + sizeof(s2) + 10000 + sizeof(s3);
    unsigned char *flat = malloc(total), *got = malloc(total);
    unsigned char r1[4000], r3[2];
    unsigned char *r2 = malloc(total);
    struct iovec r[3] = {{r1, sizeof(r1)}, {r2, total}, {r3, sizeof(r3)}};
    size_t at = 0;
    char path[300];
    int fd;

    disk_fill(flat, total, 10000, 2);
    for (int i = 0; i < 6; i++) {
        memcpy(w[i].iov_base ? w[i].iov_base : (void *)flat, flat + at,
               w[i].iov_len);
        at += w[i].iov_len;
    }
    path_of(path, sizeof(path), "vec");
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(lthread_io_pwritev(fd, w, 6, 10000), (ssize_t)total);
    CHECK_EQ(pread(fd, got, total, 10000), (ssize_t)total);
    CHECK(memcmp(got, flat, total) == 0);
    /* Read back into another layout: one read, up to the end of file. */
    memset(r1, 0, sizeof(r1));
    memset(r2, 0, total);
    CHECK_EQ(lthread_io_preadv(fd, r, 3, 10000), (ssize_t)total);
    CHECK(memcmp(r1, flat, sizeof(r1)) == 0);
    CHECK(memcmp(r2, flat + sizeof(r1), total - sizeof(r1)) == 0);
    /* readv/writev at the file position. */
    CHECK_EQ(lseek(fd, 10000, SEEK_SET), 10000);
    CHECK_EQ(lthread_io_readv(fd, r, 1), (ssize_t)sizeof(r1));
    CHECK(memcmp(r1, flat, sizeof(r1)) == 0);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    CHECK_EQ(lthread_io_writev(fd, w, 6), (ssize_t)total);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)total);
    CHECK_EQ(pread(fd, got, total, 0), (ssize_t)total);
    CHECK(memcmp(got, flat, total) == 0);
    CHECK_EQ(lthread_io_readv(fd, r, 0), 0);
    CHECK_EQ(lthread_io_close(fd), 0);
    free(h1);
    free(h2);
    free(flat);
    free(got);
    free(r2);
}

/* ---- buffers on a shared stack region ------------------------------------ */

#define MATES 16

struct mate {
    int fd;
    int index;
    int ok;
};

/* Writes and reads back from its own stack while its region-mates run
 * (the scheduler maps a single region here: LTHREAD_REGIONS=1); a
 * canary around the buffers shows any write into the region made while
 * another mate's frames were in place. */
static void mate_body(void *arg)
{
    struct mate *m = arg;
    unsigned char canary1[64], buf[3000], back[3000], canary2[64];
    off_t off = (off_t)m->index * 8192 + 17;
    int ok = 1;

    memset(canary1, 0xA5, sizeof(canary1));
    memset(canary2, 0x5A, sizeof(canary2));
    for (unsigned v = 1; v <= 4; v++) {
        disk_fill(buf, sizeof(buf), (unsigned long long)off, v + m->index);
        ssize_t w = lthread_io_pwrite(m->fd, buf, sizeof(buf), off), r;
        size_t d;

        memset(back, 0, sizeof(back));
        lthread_sleep(0); /* and let the mates run meanwhile */
        r = lthread_io_pread(m->fd, back, sizeof(back), off);
        d = disk_diff(back, sizeof(back), (unsigned long long)off,
                      v + m->index);
        if (w != (ssize_t)sizeof(buf) || r != (ssize_t)sizeof(back) ||
            d != sizeof(back)) {
            printf("mate %d, version %u: wrote %zd, read %zd, first wrong "
                   "byte %zu\n",
                   m->index, v, w, r, d);
            ok = 0;
        }
    }
    for (size_t i = 0; i < sizeof(canary1); i++)
        ok &= canary1[i] == 0xA5 && canary2[i] == 0x5A;
    m->ok = ok;
}

static void t_shared_stacks(void)
{
    /* Not on this lthread's stack: its mates could not read it. */
    static struct mate mates[MATES];
    lthread_t *lts[MATES];
    char path[300];
    int fd, ok = 0;

    path_of(path, sizeof(path), "mates");
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    for (int i = 0; i < MATES; i++) {
        mates[i] = (struct mate){fd, i, 0};
        CHECK_EQ(lthread_create(&lts[i], mate_body, &mates[i]), 0);
    }
    for (int i = 0; i < MATES; i++) {
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);
        ok += mates[i].ok;
    }
    printf("shared stacks: %d of %d region-mates read back what they "
           "wrote, canaries intact\n",
           ok, MATES);
    CHECK_EQ(ok, MATES);
    CHECK_EQ(lthread_io_close(fd), 0);
}

/* ---- O_DIRECT ------------------------------------------------------------ */

static void t_direct(void)
{
#ifdef O_DIRECT
    static const char *const where[] = {NULL, "/var/tmp"};
    unsigned char buf[8192] __attribute__((aligned(4096)));
    unsigned char *heap = NULL;
    char path[300];
    int fd = -1;

    for (size_t i = 0; i < 2 && fd < 0; i++) {
        if (where[i])
            snprintf(path, sizeof(path), "%s/lthread-direct.%d", where[i],
                     (int)getpid());
        else
            path_of(path, sizeof(path), "direct");
        fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
        if (fd < 0)
            continue;
        unlink(path);
        /* Some filesystems take the flag and refuse the I/O. */
        disk_fill(buf, 4096, 0, 3);
        if (lthread_io_pwrite(fd, buf, 4096, 0) != 4096) {
            lthread_io_close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        printf("SKIP O_DIRECT: neither %s nor /var/tmp takes it\n", dir);
        return;
    }
    printf("O_DIRECT on %s\n", path);
    /* An aligned buffer on the (shared) stack: its copy keeps the
     * alignment. */
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(lthread_io_pread(fd, buf, 4096, 0), 4096);
    CHECK_EQ(disk_diff(buf, 4096, 0, 3), 4096);
    CHECK(posix_memalign((void **)&heap, 4096, 8192) == 0);
    disk_fill(heap, 8192, 4096, 3);
    CHECK_EQ(lthread_io_pwrite(fd, heap, 8192, 4096), 8192);
    memset(heap, 0, 8192);
    CHECK_EQ(lthread_io_pread(fd, heap, 8192, 4096), 8192);
    CHECK_EQ(disk_diff(heap, 8192, 4096, 3), 8192);
    /* Misaligned: the kernel says EINVAL. */
    errno = 0;
    CHECK_EQ(lthread_io_pread(fd, heap + 1, 4096, 0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_io_pread(fd, buf, 4096, 1), -1);
    CHECK_EQ(errno, EINVAL);
    free(heap);
    CHECK_EQ(lthread_io_close(fd), 0);
#else
    printf("SKIP O_DIRECT: not on this system\n");
#endif
}

/* ---- errors -------------------------------------------------------------- */

#define CHECK_FAILS(call, err)                                                 \
    do {                                                                       \
        errno = 0;                                                             \
        CHECK_EQ((call), -1);                                                  \
        CHECK_EQ(errno, (err));                                                \
    } while (0)

static void t_errors(void)
{
    char buf[64], path[300];
    struct iovec iov = {buf, sizeof(buf)};
    struct stat st;
    int fd, ro, dfd, p[2];

    CHECK_FAILS(lthread_io_pread(-1, buf, sizeof(buf), 0), EBADF);
    CHECK_FAILS(lthread_io_read(-1, buf, sizeof(buf)), EBADF);
    CHECK_FAILS(lthread_io_write(-1, buf, sizeof(buf)), EBADF);
    CHECK_FAILS(lthread_io_fsync(-1), EBADF);
    CHECK_FAILS(lthread_io_close(-1), EBADF);
    CHECK_FAILS(lthread_io_fstat(-1, &st), EBADF);
    path_of(path, sizeof(path), "errors");
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(lthread_io_pwrite(fd, "0123456789", 10, 0), 10);
    ro = lthread_io_open(path, O_RDONLY);
    CHECK(ro >= 0);
    CHECK_FAILS(lthread_io_pwrite(ro, buf, sizeof(buf), 0), EBADF);
    CHECK_FAILS(lthread_io_pread(fd, buf, sizeof(buf), -1), EINVAL);
    CHECK_FAILS(lthread_io_pwrite(fd, buf, sizeof(buf), -5), EINVAL);
    CHECK_FAILS(lthread_io_preadv(fd, &iov, 1, -1), EINVAL);
    CHECK_FAILS(lthread_io_readv(fd, &iov, -1), EINVAL);
    CHECK_FAILS(lthread_io_readv(fd, &iov, IOV_MAX + 1), EINVAL);
    CHECK_FAILS(lthread_io_writev(fd, NULL, 2), EFAULT);
    /* Addresses the kernel refuses. */
    CHECK_FAILS(lthread_io_pread(fd, (void *)8, 10, 0), EFAULT);
    CHECK_FAILS(lthread_io_pwrite(fd, (void *)8, 10, 0), EFAULT);
    /* A directory. */
    dfd = lthread_io_open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK_FAILS(lthread_io_read(dfd, buf, sizeof(buf)), EISDIR);
    CHECK_FAILS(lthread_io_pread(dfd, buf, sizeof(buf), 0), EISDIR);
    /* fsync of a pipe. */
    CHECK_EQ(pipe(p), 0);
    CHECK_FAILS(lthread_io_fsync(p[1]), EINVAL);
    CHECK_FAILS(lthread_io_fdatasync(p[1]), EINVAL);
    close(p[0]);
    close(p[1]);
    /* EIO: an address of the process that is not mapped, read through
     * /proc/self/mem. */
    {
        int mem = lthread_io_open("/proc/self/mem", O_RDONLY);

        if (mem < 0) {
            printf("SKIP EIO: no /proc/self/mem (%s)\n", strerror(errno));
        } else {
            CHECK_FAILS(lthread_io_pread(mem, buf, sizeof(buf), 4096), EIO);
            CHECK_EQ(lthread_io_close(mem), 0);
        }
    }
    /* Paths. */
    CHECK_FAILS(lthread_io_open(path, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
    {
        char missing[320];

        snprintf(missing, sizeof(missing), "%s/none/such", dir);
        CHECK_FAILS(lthread_io_open(missing, O_RDONLY), ENOENT);
        CHECK_FAILS(lthread_io_stat(missing, &st), ENOENT);
    }
    CHECK_FAILS(lthread_io_open(NULL, O_RDONLY), EFAULT);
    CHECK_FAILS(lthread_io_stat(path, NULL), EFAULT);
    /* openat, relative to the directory. */
    {
        int rel = lthread_io_openat(dfd, "errors", O_RDONLY);

        CHECK(rel >= 0);
        memset(buf, 0, sizeof(buf));
        CHECK_EQ(lthread_io_read(rel, buf, sizeof(buf)), 10);
        CHECK(memcmp(buf, "0123456789", 10) == 0);
        CHECK_EQ(lthread_io_close(rel), 0);
        CHECK_FAILS(lthread_io_fstat(rel, &st), EBADF);
    }
    /* stat and fstat agree with the kernel's. */
    {
        struct stat mine, theirs;

        CHECK_EQ(lthread_io_stat(path, &mine), 0);
        CHECK_EQ(stat(path, &theirs), 0);
        CHECK_EQ(mine.st_size, 10);
        CHECK_EQ(mine.st_ino, theirs.st_ino);
        CHECK_EQ(mine.st_dev, theirs.st_dev);
        CHECK_EQ(mine.st_mode, theirs.st_mode);
        CHECK_EQ(mine.st_nlink, theirs.st_nlink);
        CHECK_EQ(mine.st_uid, theirs.st_uid);
        CHECK_EQ(mine.st_blocks, theirs.st_blocks);
        CHECK_EQ(mine.st_mtim.tv_sec, theirs.st_mtim.tv_sec);
        CHECK_EQ(mine.st_mtim.tv_nsec, theirs.st_mtim.tv_nsec);
        memset(&mine, 0, sizeof(mine));
        CHECK_EQ(lthread_io_fstat(fd, &mine), 0);
        CHECK_EQ(mine.st_ino, theirs.st_ino);
        CHECK_EQ(mine.st_size, 10);
    }
    CHECK_EQ(lthread_io_close(dfd), 0);
    CHECK_EQ(lthread_io_close(ro), 0);
    CHECK_EQ(lthread_io_close(fd), 0);
    /* Closed: the fd is gone. */
    CHECK_FAILS(lthread_io_pread(fd, buf, sizeof(buf), 0), EBADF);
}

/* EFBIG past RLIMIT_FSIZE; the signal the kernel raises for it must not
 * kill the process. */
static void t_fsize(void)
{
    enum { LIMIT = 64 * 1024 };
    struct rlimit old, low;
    unsigned char *buf = calloc(1, 2 * LIMIT);
    char path[300];
    int fd;

    CHECK_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 2 * LIMIT) {
        printf("SKIP EFBIG: RLIMIT_FSIZE is already below the test's\n");
        free(buf);
        return;
    }
    path_of(path, sizeof(path), "fsize");
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    low = old;
    low.rlim_cur = LIMIT;
    CHECK_EQ(setrlimit(RLIMIT_FSIZE, &low), 0);
    /* Up to the limit, then the error: the count written comes back. */
    CHECK_EQ(lthread_io_pwrite(fd, buf, 2 * LIMIT, 0), LIMIT);
    CHECK_FAILS(lthread_io_pwrite(fd, buf, 100, LIMIT), EFBIG);
    CHECK_FAILS(lthread_io_pwrite(fd, buf, 100, 10 * LIMIT), EFBIG);
    CHECK_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
    printf("EFBIG past RLIMIT_FSIZE, and still alive\n");
    CHECK_EQ(lthread_io_close(fd), 0);
    free(buf);
}

/* ---- ENOSPC on a small tmpfs, in a child of its own -------------------------
 */

static int enospc_result;

static void enospc_body(void *arg)
{
    const char *mnt = arg;
    unsigned char *buf = calloc(1, 64 * 1024);
    char path[300];
    ssize_t n = 0;
    off_t off = 0;
    int fd;

    disk_check_backend();
    snprintf(path, sizeof(path), "%s/fill", mnt);
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    /* 256 KiB of tmpfs: a full 64 KiB write fails in time. */
    for (int i = 0; i < 64; i++) {
        n = lthread_io_pwrite(fd, buf, 64 * 1024, off);
        if (n < 64 * 1024)
            break;
        off += n;
    }
    printf("ENOSPC: %lld bytes went in, then a write returned %zd (%s)\n",
           (long long)off + (n > 0 ? n : 0), n,
           n < 0 ? strerror(errno) : "short");
    if (n >= 0) {
        /* A short count: the next write reports why. */
        off += n;
        n = lthread_io_pwrite(fd, buf, 64 * 1024, off);
    }
    CHECK_EQ(n, -1);
    CHECK_EQ(errno, ENOSPC);
    errno = 0;
    CHECK_EQ(lseek(fd, 0, SEEK_END), off);
    CHECK_EQ(lthread_io_write(fd, buf, 4096), -1);
    CHECK_EQ(errno, ENOSPC);
    CHECK_EQ(lthread_io_close(fd), 0);
    free(buf);
    enospc_result = 1;
}

#if defined(__linux__)
/* Makes this (single-threaded) process the root of a mount namespace of
 * its own, with a user namespace first when not root. Returns 0 or -1
 * with errno (and a word on what failed in *what). */
static int private_mounts(const char **what)
{
    if (geteuid() == 0) {
        *what = "unshare(CLONE_NEWNS)";
        if (unshare(CLONE_NEWNS) < 0)
            return -1;
    } else {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        char map[64];
        FILE *f;

        *what = "unshare(CLONE_NEWUSER | CLONE_NEWNS)";
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
            return -1;
        *what = "the user namespace's maps";
        if ((f = fopen("/proc/self/setgroups", "w"))) {
            fputs("deny", f);
            fclose(f);
        }
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
        if (!(f = fopen("/proc/self/uid_map", "w")))
            return -1;
        fputs(map, f);
        if (fclose(f) != 0)
            return -1;
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
        if (!(f = fopen("/proc/self/gid_map", "w")))
            return -1;
        fputs(map, f);
        if (fclose(f) != 0)
            return -1;
    }
    /* Nothing mounted here may reach the parent's namespace. */
    *what = "making / private";
    return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}
#endif

/* Returns 0 when it passed or was skipped (saying why), else 1. */
static int t_enospc(void)
{
#if defined(__linux__)
    char mnt[300];
    int status;
    pid_t pid;

    path_of(mnt, sizeof(mnt), "tmpfs");
    if (mkdir(mnt, 0700) < 0) {
        perror("mkdir");
        return 1;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        const char *what = "";
        lthread_t *lt;

        if (private_mounts(&what) < 0 ||
            (what = "mount -t tmpfs -o size=256k",
             mount("lthread-test", mnt, "tmpfs", 0, "size=256k") < 0)) {
            printf("SKIP ENOSPC on a small tmpfs: cannot mount one here "
                   "(%s: %s)\n",
                   what, strerror(errno));
            exit(0);
        }
        lthread_create(&lt, enospc_body, mnt);
        lthread_run();
        CHECK(enospc_result);
        umount(mnt);
        exit(check_summary("test_disk (ENOSPC)") ? 1 : 0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        perror("fork");
        rmdir(mnt);
        return 1;
    }
    rmdir(mnt);
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
    printf("SKIP ENOSPC on a small tmpfs: Linux only\n");
    return 0;
#endif
}

/* ---- outside an lthread, in compute sections, on other schedulers ----------
 */

/* The calls where they block: a plain pthread, main(), a compute section. */
static int plain_calls(const char *name)
{
    char path[300], buf[16] = {0};
    struct stat st;
    int fd, ok = 1;

    path_of(path, sizeof(path), name);
    ok &= strcmp(lthread_io_backend(), "blocking") == 0;
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ok &= fd >= 0;
    ok &= lthread_io_pwrite(fd, "plain call", 10, 0) == 10;
    ok &= lthread_io_pread(fd, buf, sizeof(buf), 0) == 10;
    ok &= memcmp(buf, "plain call", 10) == 0;
    ok &= lthread_io_fsync(fd) == 0;
    ok &= lthread_io_fstat(fd, &st) == 0 && st.st_size == 10;
    ok &= lthread_io_stat(path, &st) == 0 && st.st_size == 10;
    ok &= lthread_io_close(fd) == 0;
    return ok;
}

static void *plain_thread(void *arg)
{
    *(int *)arg = plain_calls("plain-thread");
    return NULL;
}

/* Errno and the calls belong in a function of their own in a compute
 * section (the header's caveat). */
static __attribute__((noinline)) int computing_calls(void)
{
    return plain_calls("compute");
}

static void t_outside(void)
{
    pthread_t t;
    int ok = 0;

    CHECK_EQ(pthread_create(&t, NULL, plain_thread, &ok), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(ok);
    if (lthread_compute_begin() == 0) {
        ok = computing_calls();
        lthread_compute_end();
        CHECK(ok);
    }
}

/* Two more schedulers, each with 20 lthreads writing and reading their
 * own part of one file. */
struct sched_job {
    int fd;
    int base;
    int ok;
};

static void xs_body(void *arg)
{
    struct sched_job *j = arg;
    unsigned char *buf = malloc(8192), *back = malloc(8192);
    off_t off = (off_t)j->base * 8192;

    disk_fill(buf, 8192, (unsigned long long)off, 7);
    if (lthread_io_pwrite(j->fd, buf, 8192, off) == 8192 &&
        lthread_io_pread(j->fd, back, 8192, off) == 8192 &&
        memcmp(buf, back, 8192) == 0)
        __atomic_add_fetch(&j->ok, 1, __ATOMIC_RELAXED);
    free(buf);
    free(back);
}

static void *xs_thread(void *arg)
{
    struct sched_job *j = arg;
    static struct sched_job each[2][20];
    int which = j->base / 20;
    lthread_t *lt;

    for (int i = 0; i < 20; i++) {
        each[which][i] = (struct sched_job){j->fd, j->base + i, 0};
        lthread_create(&lt, xs_body, &each[which][i]);
    }
    lthread_run();
    for (int i = 0; i < 20; i++)
        j->ok += each[which][i].ok;
    return NULL;
}

static void t_schedulers(void)
{
    struct sched_job jobs[2];
    pthread_t t[2];
    char path[300];
    int fd;

    path_of(path, sizeof(path), "scheds");
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    for (int i = 0; i < 2; i++) {
        jobs[i] = (struct sched_job){fd, i * 20, 0};
        CHECK_EQ(pthread_create(&t[i], NULL, xs_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK_EQ(jobs[i].ok, 20);
    }
    CHECK_EQ(lthread_io_close(fd), 0);
}

/* ---- more requests at once than a ring holds -------------------------------
 */

#define CROWD 700

static int crowd_fd, crowd_ok;

static void crowd_body(void *arg)
{
    int i = (int)(intptr_t)arg;
    unsigned char buf[512];

    if (lthread_io_pread(crowd_fd, buf, sizeof(buf), (off_t)i * 512) == 512 &&
        disk_diff(buf, sizeof(buf), (unsigned long long)i * 512, 9) ==
            sizeof(buf))
        crowd_ok++;
}

static void t_crowd(void)
{
    unsigned char *all = malloc(CROWD * 512);
    char path[300];
    lthread_t *lts[CROWD];

    path_of(path, sizeof(path), "crowd");
    crowd_fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(crowd_fd >= 0);
    disk_fill(all, CROWD * 512, 0, 9);
    CHECK_EQ(lthread_io_pwrite(crowd_fd, all, CROWD * 512, 0), CROWD * 512);
    for (int i = 0; i < CROWD; i++)
        CHECK_EQ(lthread_create(&lts[i], crowd_body, (void *)(intptr_t)i), 0);
    for (int i = 0; i < CROWD; i++)
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);
    printf("%d reads at once: %d right\n", CROWD, crowd_ok);
    CHECK_EQ(crowd_ok, CROWD);
    CHECK_EQ(lthread_io_close(crowd_fd), 0);
    free(all);
}

/* ---- the run ------------------------------------------------------------- */

static void main_lthread(void *arg)
{
    (void)arg;
    disk_check_backend();
    t_read_write();
    t_vectors();
    t_shared_stacks();
    t_direct();
    t_errors();
    t_fsize();
    t_outside();
    t_schedulers();
    t_crowd();
}

static void cleanup(void)
{
    static const char *const names[] = {
        "rw",     "vec",   "mates",        "direct",  "errors", "fsize",
        "scheds", "crowd", "plain-thread", "compute", "main"};
    char path[300];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        path_of(path, sizeof(path), names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int run(void)
{
    lthread_t *lt;
    int rc;

    if (disk_tmpdir(dir, sizeof(dir), "disk") < 0) {
        perror("mkdtemp");
        return 1;
    }
    /* First, while this process has no thread but its own. */
    CHECK_EQ(t_enospc(), 0);
    /* One shared region: every stack buffer has region-mates. */
    setenv("LTHREAD_REGIONS", "1", 1);
    /* main(), before the scheduler runs: the plain calls. */
    CHECK(plain_calls("main"));
    CHECK_EQ(lthread_create(&lt, main_lthread, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    cleanup();
    rc = check_summary(strcmp(disk_want, "pool") == 0 ? "test_disk (pool)"
                                                      : "test_disk (io_uring)");
    return rc;
}

/* ---- io_uring forbidden -------------------------------------------------- */

static void forbidden_body(void *arg)
{
    char path[300], buf[8] = {0};
    const char *got = lthread_io_backend();
    int fd;

    (void)arg;
    printf("io_uring_setup refused by seccomp: backend %s\n",
           got ? got : "(null)");
    CHECK(got && strcmp(got, "pool") == 0);
    path_of(path, sizeof(path), "forbidden");
    fd = lthread_io_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(lthread_io_pwrite(fd, "seccomp", 7, 0), 7);
    CHECK_EQ(lthread_io_pread(fd, buf, sizeof(buf), 0), 7);
    CHECK(memcmp(buf, "seccomp", 7) == 0);
    CHECK_EQ(lthread_io_close(fd), 0);
    unlink(path);
}

/* A filter that makes io_uring_setup fail with EPERM, as a container's
 * seccomp profile may. Returns 0, or -1 with errno. */
static int forbid_uring(void)
{
#if defined(__linux__) && defined(__NR_io_uring_setup) &&                      \
    (defined(__x86_64__) || defined(__aarch64__) ||                            \
     (defined(__riscv) && __riscv_xlen == 64))
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const unsigned arch = AUDIT_ARCH_AARCH64;
#else
    const unsigned arch = AUDIT_ARCH_RISCV64;
#endif
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static int run_forbidden(void)
{
    lthread_t *lt;
    int status;
    pid_t pid;

    if (getenv("LTHREAD_DISK"))
        return 0; /* one backend asked for: not this one */
    if (disk_tmpdir(dir, sizeof(dir), "disk-seccomp") < 0)
        return 1;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        printf("==== io_uring forbidden\n");
        if (forbid_uring() < 0) {
            printf("SKIP io_uring forbidden: no seccomp filter here (%s)\n",
                   strerror(errno));
            exit(0);
        }
        lthread_create(&lt, forbidden_body, NULL);
        lthread_run();
        exit(check_summary("test_disk (io_uring forbidden)"));
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return 1;
    rmdir(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(void)
{
    int rc = disk_run_backends(run);
    int rc2 = run_forbidden();

    if (rc2 == 1 || rc == 1)
        return 1;
    return rc ? rc : rc2;
}
