/*
 * The narrow interface between the core library and liblthread_hook
 * (src/hook/). Exported by liblthread (default visibility) but not part of
 * the public API: not in lthread.h, not documented for users, may change
 * with any release. Implemented in src/hook_iface.c.
 *
 * All of it is async-signal-safe only outside a scheduler's pthread; on a
 * scheduler's pthread the last two touch its fd table (see
 * docs/INTEGRATION.md).
 */
#ifndef LTHREAD_HOOK_IFACE_H
#define LTHREAD_HOOK_IFACE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Non-zero while the calling pthread has a scheduler (from its first
 * lthread_create() to the end of its lthread_run()), 0 on every other
 * pthread. Set by the core only where a scheduler is made and freed, never
 * per switch. initial-exec: the hooks read it with one %fs-relative load
 * and no call, so that a program that runs no lthreads pays a load and a
 * branch per hooked call (liblthread is loaded at startup wherever the
 * hook library is: it is linked against it). */
extern __thread
    __attribute__((tls_model("initial-exec"))) int lthread_hook_scheduler;

/* 1 when the caller is an lthread running on its scheduler's pthread (it
 * may park), 0 elsewhere: main(), a plain pthread, the scheduler loop
 * itself, a compute section. One thread-local load. */
int lthread_hook_parkable(void);

/* Kinds of lthread_hook_fd_new(). */
#define LTHREAD_HOOK_FD_SOCKET 1u /* a socket (else a pipe or FIFO) */
#define LTHREAD_HOOK_FD_TCP 2u    /* a TCP socket (the drained hint) */

/* fd is non-blocking underneath and of `kind`: the calling pthread's
 * scheduler (if any) records it, keeping its waiters and registration, so
 * that lthread_recv() and friends use it without fcntl(2). A load and a
 * test when already recorded. */
void lthread_hook_fd_set(int fd, unsigned kind);

/* fd is about to be closed, replaced (dup2) or was just made: the lthreads of
 * the calling pthread's scheduler waiting on it wake with EBADF, and the
 * scheduler forgets it. */
void lthread_hook_fd_forget(int fd);

#ifdef __cplusplus
}
#endif
#endif
