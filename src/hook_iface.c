/*
 * What liblthread_hook (src/hook/) needs from the core and the public API
 * does not give: whether the caller may park (an lthread on its scheduler,
 * not in a compute section), and keeping a scheduler's fd table right when
 * the hook library makes, detects or closes an fd. Exported, undocumented
 * for users: the contract is in src/hook/iface.h.
 *
 * The core calls libc (read, close, poll, fcntl, ...) through the PLT, so
 * when the hook library is loaded those calls reach its hooks. They are
 * all non-blocking (MSG_DONTWAIT, fds known to be O_NONBLOCK underneath,
 * polls of timeout 0) or made from the scheduler loop, and the hooks pass
 * such calls straight through: see "Recursion" in docs/INTEGRATION.md.
 */
/* lthread_int.h first, as in the other core files: its system headers come
 * before any thread-local (make check-targets, which has no SDK for
 * macOS, skips a file at its first missing system header). */
#include "lthread_int.h"

#include "hook/iface.h"

/* Kept equal to (lthread__tls_sched != NULL) by sched.c. */
LTHREAD_API __thread
    __attribute__((tls_model("initial-exec"))) int lthread_hook_scheduler;

LTHREAD_API int lthread_hook_parkable(void)
{
    struct lthread__sched *s = lthread__tls_sched;

    return s && s->host.current;
}

LTHREAD_API void lthread_hook_fd_set(int fd, unsigned kind)
{
    struct lthread__sched *s = lthread__tls_sched;
    unsigned flags = LTHREAD__FD_NONBLOCK | LTHREAD__FD_KNOWN;

    if (!s || fd < 0)
        return;
    flags |=
        (kind & LTHREAD_HOOK_FD_SOCKET) ? LTHREAD__FD_SOCKET : LTHREAD__FD_FIFO;
    if (kind & LTHREAD_HOOK_FD_TCP)
        flags |= LTHREAD__FD_TCP;
    if (fd < s->nfds) {
        /* Keeps the waiters, the registration and the hints. */
        if ((s->fds[fd].flags & flags) != flags)
            s->fds[fd].flags |= (uint16_t)flags;
        return;
    }
    lthread__io_fd_new(s, fd, flags); /* nothing can wait beyond nfds */
}

LTHREAD_API void lthread_hook_fd_forget(int fd)
{
    lthread__io_forget(lthread__tls_sched, fd);
}
