/*
 * sendfile(2) on FreeBSD and macOS: a regular file to a stream socket.
 * Both report a partial send with -1/EAGAIN (or EINTR) and the count sent,
 * which is what counts here. Other pairs (a pipe as the file, a pipe as
 * the destination, a file system without support) are refused with -ENOSYS
 * so that the caller copies instead, as on Linux they would be sent.
 */
#include "os/sendfile.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

ssize_t lthread__os_sendfile(int s, int fd, off_t *offset, size_t len)
{
    int rc;
#if defined(__APPLE__)
    /* int sendfile(int fd, int s, off_t offset, off_t *len, hdtr, flags):
     * *len in, the count to send (0: to the end); out, the count sent. */
    off_t sent = (off_t)len;

    rc = sendfile(fd, s, *offset, &sent, NULL, 0);
#else
    /* int sendfile(int fd, int s, off_t offset, size_t nbytes, hdtr,
     * off_t *sbytes, int flags): nbytes 0 means to the end. */
    off_t sent = 0;

    rc = sendfile(fd, s, *offset, len, NULL, &sent, 0);
#endif
    if (sent > 0) {
        *offset += sent;
        return (ssize_t)sent;
    }
    if (rc == 0)
        return 0; /* nothing left: the end of the file */
    switch (errno) {
    case ENOTSOCK:   /* s is not a socket */
    case EINVAL:     /* fd is not a regular file, or s not a stream */
    case EOPNOTSUPP: /* the file system cannot */
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
        return -ENOSYS;
    default:
        return -errno;
    }
}
