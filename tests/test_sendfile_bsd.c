/*
 * src/os/bsd/sendfile.c on Linux, against a double of the BSDs' sendfile(2)
 * (tests/sendfile_double/bsd_sendfile.h), in FreeBSD's and macOS's
 * variants (-D__APPLE__ for the second: built into
 * test_sendfile_bsd_macos). Checks what lthread__os_sendfile() makes of
 * each answer: sent all, sent part then EAGAIN or EINTR, nothing yet, end
 * of file, a pair the system cannot send (-ENOSYS: the caller copies),
 * other errors; and what it passes down.
 */
#include "os/sendfile.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

#if defined(__APPLE__)
#define FLAVOUR "test_sendfile_bsd (macOS)"
#else
#define FLAVOUR "test_sendfile_bsd (FreeBSD)"
#endif

struct sf_hdtr;

/* What the next call answers, and what the last call was given. */
static struct {
    int rc, err;    /* return value, and errno when -1 */
    off_t sent;     /* bytes it reports sent */
    int calls;      /* calls made */
    int fd, s;      /* arguments of the last call */
    off_t offset;   /* ... */
    long long want; /* nbytes (FreeBSD) or *len on entry (macOS) */
    int hdtr_null, flags;
} sf;

#if defined(__APPLE__)
int sendfile_double(int fd, int s, off_t offset, off_t *len,
                    struct sf_hdtr *hdtr, int flags)
{
    sf.calls++;
    sf.fd = fd;
    sf.s = s;
    sf.offset = offset;
    sf.want = *len;
    sf.hdtr_null = hdtr == NULL;
    sf.flags = flags;
    *len = sf.sent;
    errno = sf.err;
    return sf.rc;
}
#else
int sendfile_double(int fd, int s, off_t offset, size_t nbytes,
                    struct sf_hdtr *hdtr, off_t *sbytes, int flags)
{
    sf.calls++;
    sf.fd = fd;
    sf.s = s;
    sf.offset = offset;
    sf.want = (long long)nbytes;
    sf.hdtr_null = hdtr == NULL;
    sf.flags = flags;
    if (sbytes)
        *sbytes = sf.sent;
    errno = sf.err;
    return sf.rc;
}
#endif

/* Scripts the next answer, calls lthread__os_sendfile(s 7, fd 5, *off,
 * len) and returns its result. */
static ssize_t attempt(int rc, int err, off_t sent, off_t *off, size_t len)
{
    memset(&sf, 0, sizeof(sf));
    sf.rc = rc;
    sf.err = err;
    sf.sent = sent;
    return lthread__os_sendfile(7, 5, off, len);
}

int main(void)
{
    static const int copy_errs[] = {ENOTSOCK, EINVAL, EOPNOTSUPP};
    static const int plain_errs[] = {EPIPE, EBADF, ENOTCONN, EIO};
    off_t off = 1000;

    /* Everything asked for: the count, the offset moves on. What goes
     * down: the file, then the socket, the offset, the length, no
     * headers, no flags. */
    CHECK_EQ(attempt(0, 0, 4096, &off, 4096), 4096);
    CHECK_EQ(off, 5096);
    CHECK_EQ(sf.calls, 1);
    CHECK_EQ(sf.fd, 5);
    CHECK_EQ(sf.s, 7);
    CHECK_EQ(sf.offset, 1000);
    CHECK_EQ(sf.want, 4096);
    CHECK(sf.hdtr_null);
    CHECK_EQ(sf.flags, 0);

    /* Part of it, then the socket is full (or a signal came): the part. */
    CHECK_EQ(attempt(-1, EAGAIN, 100, &off, 4096), 100);
    CHECK_EQ(off, 5196);
    CHECK_EQ(attempt(-1, EINTR, 50, &off, 4096), 50);
    CHECK_EQ(off, 5246);
    /* Nothing yet: -EAGAIN (the caller parks), the offset stays. */
    CHECK_EQ(attempt(-1, EAGAIN, 0, &off, 4096), -EAGAIN);
    CHECK_EQ(off, 5246);
    CHECK_EQ(attempt(-1, EINTR, 0, &off, 4096), -EINTR);
    /* Nothing left to send: the end of the file. */
    CHECK_EQ(attempt(0, 0, 0, &off, 4096), 0);
    CHECK_EQ(off, 5246);

    /* Pairs the system cannot send (a pipe as the file, a pipe as the
     * destination, a file system without support): -ENOSYS, so that the
     * caller copies instead; nothing moved. */
    for (size_t i = 0; i < sizeof(copy_errs) / sizeof(copy_errs[0]); i++) {
        CHECK_EQ(attempt(-1, copy_errs[i], 0, &off, 4096), -ENOSYS);
        CHECK_EQ(off, 5246);
    }
    /* Other errors are the caller's. */
    for (size_t i = 0; i < sizeof(plain_errs) / sizeof(plain_errs[0]); i++)
        CHECK_EQ(attempt(-1, plain_errs[i], 0, &off, 4096), -plain_errs[i]);
    /* An error after part was sent: the part counts (the error comes
     * again on the next call). */
    CHECK_EQ(attempt(-1, EPIPE, 10, &off, 4096), 10);
    CHECK_EQ(off, 5256);

    /* A large length goes down as it is. */
    off = 0;
    CHECK_EQ(attempt(0, 0, 1 << 20, &off, (size_t)1 << 30), 1 << 20);
    CHECK_EQ(sf.want, 1LL << 30);
    return check_summary(FLAVOUR);
}
