/*
 * The disk calls: lthread_io_*() (include/lthread.h, "Files and block
 * devices"). Each fills a request and parks the calling lthread until the
 * ring or the I/O pool has done it (disk.c); outside an lthread, and in a
 * compute section, each is its plain blocking twin.
 *
 * Decisions a user can see:
 *  - Reads make one operation and return what it gave (short at the end of
 *    the file, as POSIX says); writes loop until everything is written,
 *    returning the count written when an error comes after some (the next
 *    call reports it), as a partial write(2) does.
 *  - Buffers on a shared stack region. While the lthread is parked a
 *    region-mate may run, and its frames are then copied where the
 *    parked lthread's were: the kernel must not read or write there. A
 *    buffer (or part of an iovec array) that lies on a shared region of
 *    the caller's scheduler goes through a bounce buffer on the heap,
 *    with the caller's alignment (O_DIRECT keeps working): the caller's
 *    memory is touched only while the caller runs, before it parks
 *    (writes) and after it resumes (reads). Other buffers (heap, globals,
 *    private stacks, which never move) are handed to the kernel as they
 *    are. The iovec arrays and paths are always copied: the kernel reads
 *    them when the round submits, after the caller has parked.
 *  - Offsets: the p-calls refuse a negative one (EINVAL), as pread(2)
 *    does; internally -1 asks for the file position (io_uring's
 *    convention).
 *  - EINTR is retried; EAGAIN from the ring (a file opened O_NONBLOCK)
 *    makes the pool redo the call, blocking as read(2) would.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc.h"
#include "disk/disk.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* Linux's most bytes per read or write (also the ring's 32-bit length). */
#define MAX_RW ((size_t)0x7ffff000)
/* The largest alignment a bounce buffer keeps (O_DIRECT's). */
#define MAX_ALIGN ((size_t)4096)

static inline ssize_t put_result(int64_t r)
{
    if (lthread__likely(r >= 0))
        return (ssize_t)r;
    errno = (int)-r;
    return -1;
}

/* ---- buffers on shared stack regions ---------------------------------------
 */

/* Whether [p, p+len) meets a shared stack region of s: 1 on its usable
 * part, -1 on its guard page (the call fails with EFAULT, as the kernel
 * would say), 0 not at all. */
static int on_shared_stack(const struct lthread__sched *s, const void *p,
                           size_t len)
{
    uintptr_t a = (uintptr_t)p, e = a + len;
    int hit = 0;

    if (!len)
        return 0;
    if (e < a)
        e = UINTPTR_MAX;
    for (uint32_t i = 0; i < s->nregions; i++) {
        const struct lthread__region *r = s->regions[i];

        if (a < (uintptr_t)r->top && e > (uintptr_t)r->map) {
            if (a < (uintptr_t)r->base)
                return -1;
            hit = 1;
        }
    }
    return hit;
}

/* The alignment of p, up to MAX_ALIGN: what O_DIRECT may need of its copy. */
static size_t align_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;

    a &= -a;
    return (!a || a > MAX_ALIGN) ? MAX_ALIGN : (size_t)a;
}

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/*
 * Sets r's iovecs from the caller's iov[0..cnt) less their first `skip`
 * bytes. Those on a shared stack region of s are given bounce buffers,
 * filled from the caller's memory now when `out` (the kernel reads them).
 * Returns 0, -EFAULT or -ENOMEM.
 */
static int req_iov(struct lthread__sched *s, struct lthread__disk_req *r,
                   const struct iovec *iov, int cnt, size_t skip, bool out)
{
    size_t need = 0, at = 0;
    int first = 0, n, i, bounced = 0;
    char *block;

    while (first < cnt && skip && skip >= iov[first].iov_len)
        skip -= iov[first++].iov_len;
    n = cnt - first;
    if (n > LTHREAD__DISK_IOV_INLINE) {
        r->iov = lthread__malloc((size_t)n * sizeof(*r->iov));
        if (!r->iov) {
            r->iov = r->iov_inline;
            return -ENOMEM;
        }
    }
    r->iovcnt = n;
    for (i = 0; i < n; i++) {
        struct iovec *v = &r->iov[i];
        int where;

        *v = iov[first + i];
        if (i == 0) {
            v->iov_base = (char *)v->iov_base + skip;
            v->iov_len -= skip;
        }
        where = on_shared_stack(s, v->iov_base, v->iov_len);
        if (where < 0)
            return -EFAULT;
        if (where) {
            need = round_up(need, align_of(v->iov_base)) + v->iov_len;
            bounced++;
        }
    }
    if (!bounced)
        return 0;
    /* One block for all, page-aligned, each copy at its own alignment. */
    r->bounce = lthread__malloc(need + MAX_ALIGN - 1);
    if (!r->bounce)
        return -ENOMEM;
    block = (char *)round_up((size_t)(uintptr_t)r->bounce, MAX_ALIGN);
    for (i = 0; i < n; i++) {
        struct iovec *v = &r->iov[i];
        char *copy;

        if (on_shared_stack(s, v->iov_base, v->iov_len) <= 0)
            continue;
        at = round_up(at, align_of(v->iov_base));
        copy = block + at;
        if (out)
            memcpy(copy, v->iov_base, v->iov_len);
        v->iov_base = copy;
        at += v->iov_len;
    }
    /* Reads copy back to the caller's iovecs (skip is 0 for them). */
    r->user_iov = iov + first;
    return 0;
}

/* A read's bounced bytes, n of them in all, to the caller's buffers: the
 * caller runs, so its frames are in place. */
static void req_copy_back(const struct lthread__disk_req *r, size_t n)
{
    for (int i = 0; i < r->iovcnt && n; i++) {
        size_t len = r->iov[i].iov_len < n ? r->iov[i].iov_len : n;

        if (r->iov[i].iov_base != r->user_iov[i].iov_base)
            memcpy(r->user_iov[i].iov_base, r->iov[i].iov_base, len);
        n -= len;
    }
}

/* ---- one operation ------------------------------------------------------- */

/* The running lthread, with a new request of its scheduler's in *rp; NULL
 * outside an lthread (and in a compute section: the call then blocks), or
 * with *err set on ENOMEM. */
static struct lthread *req_start(struct lthread__sched **sp,
                                 struct lthread__disk_req **rp, int *err)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    struct lthread__disk *d;

    *err = 0;
    if (!self)
        return NULL;
    d = lthread__disk_get(s);
    *rp = d ? lthread__disk_req_new(s, d) : NULL;
    if (!*rp) {
        *err = -ENOMEM;
        return NULL;
    }
    *sp = s;
    return self;
}

/* Parks self until r is done; frees r. Returns its result, and for a
 * stat its answer in *st. */
static int64_t req_run(struct lthread__sched *s, struct lthread *self,
                       struct lthread__disk_req *r, struct stat *st)
{
    int64_t res = lthread__disk_queue(s, self, r);

    if (st && res == 0)
        *st = r->u.st;
    lthread__disk_req_free(s, r);
    return res;
}

/* rw_once() outside an lthread: the plain call, the request on the
 * caller's own stack (nothing else runs on it meanwhile). */
static int64_t rw_blocking(unsigned op, int fd, const struct iovec *iov,
                           int cnt, size_t skip, off_t off)
{
    struct lthread__disk_req r;
    struct iovec *rest = NULL;
    int first = 0;
    int64_t res;

    memset(&r, 0, offsetof(struct lthread__disk_req, u));
    while (first < cnt && skip && skip >= iov[first].iov_len)
        skip -= iov[first++].iov_len;
    r.op = (uint8_t)op;
    r.fd = fd;
    r.off = off;
    r.iovcnt = cnt - first;
    r.iov = (struct iovec *)(uintptr_t)(iov + first);
    if (skip) {
        rest = lthread__malloc((size_t)r.iovcnt * sizeof(*rest));
        if (!rest)
            return -ENOMEM;
        memcpy(rest, iov + first, (size_t)r.iovcnt * sizeof(*rest));
        rest[0].iov_base = (char *)rest[0].iov_base + skip;
        rest[0].iov_len -= skip;
        r.iov = rest;
    }
    res = lthread__disk_exec(&r);
    lthread__free(rest);
    return res;
}

/* A read or write (op) of iov[0..cnt) less its first `skip` bytes, at off
 * (-1: the file position): one operation. Returns its count or a negative
 * errno. */
static int64_t rw_once(unsigned op, int fd, const struct iovec *iov, int cnt,
                       size_t skip, off_t off)
{
    bool reading = op == LTHREAD__DISK_READ || op == LTHREAD__DISK_READV;
    struct lthread__disk_req *r = NULL;
    struct lthread__sched *s = NULL;
    struct lthread *self;
    int64_t res;
    int err;

    self = req_start(&s, &r, &err);
    if (!self)
        return err ? err : rw_blocking(op, fd, iov, cnt, skip, off);
    r->op = (uint8_t)op;
    r->fd = fd;
    r->off = off;
    err = req_iov(s, r, iov, cnt, skip, !reading);
    if (err) {
        lthread__disk_req_free(s, r);
        return err;
    }
    if ((op == LTHREAD__DISK_READ || op == LTHREAD__DISK_WRITE) &&
        r->iov[0].iov_len > MAX_RW)
        r->iov[0].iov_len = MAX_RW;
    res = lthread__disk_queue(s, self, r);
    if (reading && res > 0 && r->user_iov)
        req_copy_back(r, (size_t)res);
    lthread__disk_req_free(s, r);
    return res;
}

/* Checks an iovec array as readv(2) would. Returns 0 with the total length
 * in *total, or -EINVAL / -EFAULT. */
static int iov_check(const struct iovec *iov, int cnt, size_t *total)
{
    size_t sum = 0;

    if (cnt < 0 || cnt > IOV_MAX)
        return -EINVAL;
    if (cnt && !iov)
        return -EFAULT;
    for (int i = 0; i < cnt; i++) {
        if (iov[i].iov_len > (size_t)SSIZE_MAX - sum)
            return -EINVAL;
        sum += iov[i].iov_len;
    }
    *total = sum;
    return 0;
}

/* Writes all of iov[0..cnt) (op WRITE or WRITEV), looping over short
 * writes, from off (-1: the file position). Returns the count written
 * (short only when an error came after some), or a negative errno. */
static int64_t write_all(unsigned op, int fd, const struct iovec *iov, int cnt,
                         off_t off)
{
    size_t total, done = 0;
    int64_t n;
    int err = iov_check(iov, cnt, &total);

    if (err)
        return err;
    for (;;) {
        n = rw_once(op, fd, iov, cnt, done, off < 0 ? -1 : off + (off_t)done);
        if (n < 0)
            return done ? (int64_t)done : n;
        done += (size_t)n;
        if (done >= total || n == 0)
            return (int64_t)done;
    }
}

/* ---- reads and writes ---------------------------------------------------- */

LTHREAD_API ssize_t lthread_io_read(int fd, void *buf, size_t len)
{
    struct iovec one = {buf, len};

    return put_result(rw_once(LTHREAD__DISK_READ, fd, &one, 1, 0, -1));
}

LTHREAD_API ssize_t lthread_io_pread(int fd, void *buf, size_t len,
                                     off_t offset)
{
    struct iovec one = {buf, len};

    if (offset < 0)
        return put_result(-EINVAL);
    return put_result(rw_once(LTHREAD__DISK_READ, fd, &one, 1, 0, offset));
}

LTHREAD_API ssize_t lthread_io_readv(int fd, const struct iovec *iov,
                                     int iovcnt)
{
    size_t total;
    int err = iov_check(iov, iovcnt, &total);

    if (err)
        return put_result(err);
    return put_result(rw_once(LTHREAD__DISK_READV, fd, iov, iovcnt, 0, -1));
}

LTHREAD_API ssize_t lthread_io_preadv(int fd, const struct iovec *iov,
                                      int iovcnt, off_t offset)
{
    size_t total;
    int err = iov_check(iov, iovcnt, &total);

    if (!err && offset < 0)
        err = -EINVAL;
    if (err)
        return put_result(err);
    return put_result(rw_once(LTHREAD__DISK_READV, fd, iov, iovcnt, 0, offset));
}

LTHREAD_API ssize_t lthread_io_write(int fd, const void *buf, size_t len)
{
    struct iovec one = {(void *)(uintptr_t)buf, len};

    return put_result(write_all(LTHREAD__DISK_WRITE, fd, &one, 1, -1));
}

LTHREAD_API ssize_t lthread_io_pwrite(int fd, const void *buf, size_t len,
                                      off_t offset)
{
    struct iovec one = {(void *)(uintptr_t)buf, len};

    if (offset < 0)
        return put_result(-EINVAL);
    return put_result(write_all(LTHREAD__DISK_WRITE, fd, &one, 1, offset));
}

LTHREAD_API ssize_t lthread_io_writev(int fd, const struct iovec *iov,
                                      int iovcnt)
{
    return put_result(write_all(LTHREAD__DISK_WRITEV, fd, iov, iovcnt, -1));
}

LTHREAD_API ssize_t lthread_io_pwritev(int fd, const struct iovec *iov,
                                       int iovcnt, off_t offset)
{
    if (offset < 0)
        return put_result(-EINVAL);
    return put_result(write_all(LTHREAD__DISK_WRITEV, fd, iov, iovcnt, offset));
}

/* ---- everything else ----------------------------------------------------- */

/* An operation on fd alone (fsync, fdatasync, close, fstat). */
static int64_t fd_op(unsigned op, int fd, struct stat *st)
{
    struct lthread__disk_req *r = NULL, blocking;
    struct lthread__sched *s = NULL;
    struct lthread *self;
    int err;

    self = req_start(&s, &r, &err);
    if (!self) {
        if (err)
            return err;
        r = &blocking;
        memset(r, 0, offsetof(struct lthread__disk_req, u));
        r->op = (uint8_t)op;
        r->fd = fd;
        err = (int)lthread__disk_exec(r);
        if (st && err == 0)
            *st = r->u.st;
        return err;
    }
    r->op = (uint8_t)op;
    r->fd = fd;
    return req_run(s, self, r, st);
}

/* An operation on a path (openat, stat); the path is copied. */
static int64_t path_op(unsigned op, int dirfd, const char *path, int flags,
                       mode_t mode, struct stat *st)
{
    struct lthread__disk_req *r = NULL, blocking;
    struct lthread__sched *s = NULL;
    struct lthread *self;
    size_t len;
    int err;

    if (!path)
        return -EFAULT;
    self = req_start(&s, &r, &err);
    if (!self) {
        if (err)
            return err;
        r = &blocking;
        memset(r, 0, offsetof(struct lthread__disk_req, u));
        r->path = (char *)(uintptr_t)path;
    } else {
        len = strlen(path) + 1;
        r->path = lthread__malloc(len);
        if (!r->path) {
            lthread__disk_req_free(s, r);
            return -ENOMEM;
        }
        memcpy(r->path, path, len);
    }
    r->op = (uint8_t)op;
    r->fd = dirfd;
    r->flags = flags;
    r->mode = mode;
    if (!self) {
        err = (int)lthread__disk_exec(r);
        if (st && err == 0)
            *st = r->u.st;
        return err;
    }
    return req_run(s, self, r, st);
}

LTHREAD_API int lthread_io_fsync(int fd)
{
    return (int)put_result(fd_op(LTHREAD__DISK_FSYNC, fd, NULL));
}

LTHREAD_API int lthread_io_fdatasync(int fd)
{
    return (int)put_result(fd_op(LTHREAD__DISK_FDATASYNC, fd, NULL));
}

LTHREAD_API int lthread_io_fstat(int fd, struct stat *st)
{
    if (!st)
        return (int)put_result(-EFAULT);
    return (int)put_result(fd_op(LTHREAD__DISK_FSTAT, fd, st));
}

LTHREAD_API int lthread_io_stat(const char *path, struct stat *st)
{
    if (!st)
        return (int)put_result(-EFAULT);
    return (int)put_result(
        path_op(LTHREAD__DISK_STAT, AT_FDCWD, path, 0, 0, st));
}

/* open(2)'s mode argument: read only when the flags say it is there. */
#define OPEN_MODE(flags, ap, mode)                                             \
    do {                                                                       \
        (mode) = 0;                                                            \
        if ((flags) & (O_CREAT | OPEN_TMPFILE)) {                              \
            va_start((ap), flags);                                             \
            (mode) = (mode_t)va_arg((ap), int);                                \
            va_end(ap);                                                        \
        }                                                                      \
    } while (0)
#ifdef O_TMPFILE
#define OPEN_TMPFILE O_TMPFILE
#else
#define OPEN_TMPFILE 0
#endif

/* A new fd of the calling pthread: its entry in the fd table is reset, as
 * lthread_socket() does (its number may have been closed with close(2)). */
static int opened(int64_t fd)
{
    struct lthread__sched *s = lthread__sched_get();

    if (fd >= 0 && s)
        lthread__io_fd_new(s, (int)fd, 0);
    return (int)put_result(fd);
}

LTHREAD_API int lthread_io_open(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    OPEN_MODE(flags, ap, mode);
    return opened(
        path_op(LTHREAD__DISK_OPENAT, AT_FDCWD, path, flags, mode, NULL));
}

LTHREAD_API int lthread_io_openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    OPEN_MODE(flags, ap, mode);
    return opened(
        path_op(LTHREAD__DISK_OPENAT, dirfd, path, flags, mode, NULL));
}

LTHREAD_API int lthread_io_close(int fd)
{
    /* Before the close: unregistering needs the fd still open. Wakes the
     * lthreads of this pthread waiting on fd (EBADF), as lthread_close(). */
    lthread__io_forget(lthread__sched_get(), fd);
    return (int)put_result(fd_op(LTHREAD__DISK_CLOSE, fd, NULL));
}

LTHREAD_API const char *lthread_io_backend(void)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);
    struct lthread__disk *d;

    if (!self)
        return "blocking";
    d = lthread__disk_get(s);
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    return d->ring ? "io_uring" : "pool";
}
