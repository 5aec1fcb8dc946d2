/*
 * Test double of the BSDs' sendfile(2), for tests/test_sendfile_bsd.c: the
 * build force-includes this header into src/os/bsd/sendfile.c, compiled on
 * Linux (with -D__APPLE__ for macOS's variant), so that its calls go to
 * the test's sendfile_double() with the prototype of the system it is
 * built for (FreeBSD's, or macOS's with the length in and out).
 */
#ifndef LTHREAD_TEST_BSD_SENDFILE_H
#define LTHREAD_TEST_BSD_SENDFILE_H

#include <stddef.h>
#include <sys/types.h>

struct sf_hdtr;

#define sendfile sendfile_double
#if defined(__APPLE__)
int sendfile_double(int fd, int s, off_t offset, off_t *len,
                    struct sf_hdtr *hdtr, int flags);
#else
int sendfile_double(int fd, int s, off_t offset, size_t nbytes,
                    struct sf_hdtr *hdtr, off_t *sbytes, int flags);
#endif

#endif
