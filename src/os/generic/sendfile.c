/* Systems without a sendfile(2) the library knows: lthread_sendfile()
 * always copies. (Also linked into a Linux test, test_socket_sendfile_copy,
 * so that the copying path runs in make check.) */
#include "os/sendfile.h"

#include <errno.h>

ssize_t lthread__os_sendfile(int s, int fd, off_t *offset, size_t len)
{
    (void)s;
    (void)fd;
    (void)offset;
    (void)len;
    return -ENOSYS;
}
