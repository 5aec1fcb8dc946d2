/*
 * The kernel's file-to-socket copy: one implementation per system, in
 * src/os/<os>/sendfile.c (linux; bsd: FreeBSD and macOS; generic: none);
 * the Makefile builds the target's. lthread_sendfile() (socket.c) drives
 * it: it blocks SIGPIPE around the call, parks on EAGAIN, and copies with
 * pread() and send() where the system cannot send from this fd to this s.
 */
#ifndef LTHREAD_OS_SENDFILE_H
#define LTHREAD_OS_SENDFILE_H

#include <sys/types.h>

/*
 * One non-blocking attempt to send up to len (> 0) bytes of file fd,
 * starting at *offset, to s. Returns the count sent (> 0; *offset is
 * advanced by it), 0 at the end of the file, or a negative errno: -EAGAIN
 * when s has no room, -ENOSYS when this system cannot send from fd to s at
 * all (nothing was sent: the caller copies instead).
 */
ssize_t lthread__os_sendfile(int s, int fd, off_t *offset, size_t len);

#endif /* LTHREAD_OS_SENDFILE_H */
