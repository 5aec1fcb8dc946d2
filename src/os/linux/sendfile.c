/* sendfile(2) on Linux: any file it can read, to any fd. */
#include "os/sendfile.h"

#include <errno.h>
#include <sys/sendfile.h>

ssize_t lthread__os_sendfile(int s, int fd, off_t *offset, size_t len)
{
    ssize_t n;

    if (len > 0x7ffff000)
        len = 0x7ffff000; /* the most Linux sends per call */
    n = sendfile(s, fd, offset, len);
    return n < 0 ? -errno : n;
}
