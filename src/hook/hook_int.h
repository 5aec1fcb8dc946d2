/*
 * liblthread_hook internals: the next definitions of the hooked calls and
 * the table of what the hook library knows about each fd.
 */
#ifndef LTHREAD_HOOK_INT_H
#define LTHREAD_HOOK_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hook/iface.h"

/* lthread_hook_parkable() behind the inline test that a pthread running
 * no scheduler stops at: one thread-local load, no call into liblthread. */
static inline bool hook_parkable(void)
{
    return __builtin_expect(lthread_hook_scheduler != 0, 0) &&
           lthread_hook_parkable();
}

/* Non-zero once the hooks have managed an fd anywhere in the process (made
 * it O_NONBLOCK underneath, fdtab.c); never cleared. Set before the first
 * such fd is published in the table and before its O_NONBLOCK is set. */
extern __attribute__((visibility("hidden"))) _Atomic int hook_managing;

/* True when a data call (read, write, recv, send and their vector forms)
 * may go straight to libc as a tail call: the caller runs no scheduler and
 * no fd is managed, so the call cannot have to park or to emulate
 * blocking. This is the whole cost of the hooks for a program that does
 * not use lthreads: two loads and two branches, and no frame of their own
 * on the stack while the kernel has the call (its return is libc's). */
static inline bool hook_passing(void)
{
    return __builtin_expect(
        !lthread_hook_scheduler &&
            !atomic_load_explicit(&hook_managing, memory_order_relaxed),
        1);
}

/*
 * The table: one entry per fd number, in chunks of HOOK_CHUNK entries
 * mapped on first use (mmap: async-signal-safe) and never freed; at most
 * HOOK_CHUNKS chunks (4 Mi fds; numbers beyond pass straight through).
 * Entries are read and written with relaxed atomics: pthreads racing on
 * one fd see one of the states written, as they would see one of the
 * kernel's answers.
 *
 *   chunks[fd / HOOK_CHUNK] --> [ state | rcv_ms | snd_ms ] x HOOK_CHUNK
 */
#define HOOK_CHUNK 4096
#define HOOK_CHUNKS 1024

#define HOOK_KNOWN 0x1u   /* detected, or made by a hook: the rest holds */
#define HOOK_MANAGED 0x2u /* a socket or FIFO, O_NONBLOCK underneath */
#define HOOK_USER_NB 0x4u /* the user's view: non-blocking */
#define HOOK_SOCKET 0x8u  /* a socket (else a pipe or FIFO) */
#define HOOK_TCP 0x10u    /* a TCP socket */
#define HOOK_TIMEO 0x20u  /* a timeout was set through setsockopt() */

struct hook_fd {
    _Atomic uint32_t state;  /* HOOK_* */
    _Atomic uint32_t rcv_ms; /* SO_RCVTIMEO in ms, 0: none */
    _Atomic uint32_t snd_ms; /* SO_SNDTIMEO in ms, 0: none */
};

/* The entry of fd, mapping its chunk if `create`; NULL for a negative or
 * too large fd, or (without create) an unmapped chunk. */
struct hook_fd *hook_fd_entry(int fd, bool create);

/* The entry of fd when the hooks must emulate blocking on it (managed,
 * blocking in the user's view), detecting an fd not seen before; else
 * NULL (pass through). Called only where the caller may park. */
struct hook_fd *hook_fd_blocking(int fd);

/* Forgets what is known about fd (closed, or made by an unhooked call). */
void hook_fd_reset(int fd);

/* Records fd as a managed socket made by a hook (O_NONBLOCK underneath);
 * `state` adds HOOK_USER_NB and HOOK_TCP as they apply. */
void hook_fd_made(int fd, uint32_t state, uint32_t rcv_ms, uint32_t snd_ms);

/* Copies what is known of `from` to `to` (dup). */
void hook_fd_copy(int from, int to);

/* The state of an entry (0 for NULL). */
static inline uint32_t hook_state(struct hook_fd *e)
{
    return e ? atomic_load_explicit(&e->state, memory_order_relaxed) : 0;
}

/* The kind of a managed fd, as src/hook/iface.h wants it. */
unsigned hook_fd_kind(uint32_t state);

/* ---- the next definitions, from dlsym(RTLD_NEXT) ----------------------- */

/* Resolves name or aborts with a message (a libc without it cannot run
 * the program that called it). */
void *hook_next(const char *name);

/* The next definition of name: a relaxed load, resolved on first use (the
 * constructors resolve every one at load time; a call made before them,
 * from another library's constructor, resolves it here). */
#define HOOK_REAL(name)                                                        \
    (*({                                                                       \
        __typeof__(hook_real_##name) f_ =                                      \
            __atomic_load_n(&hook_real_##name, __ATOMIC_RELAXED);              \
        if (__builtin_expect(!f_, 0)) {                                        \
            f_ = (__typeof__(hook_real_##name))hook_next(#name);               \
            __atomic_store_n(&hook_real_##name, f_, __ATOMIC_RELAXED);         \
        }                                                                      \
        f_;                                                                    \
    }))

/* The start of a data call's hook: a tail call to libc when hook_passing()
 * and the next definition is resolved; else the hook goes on to its slow
 * path (which resolves it), as a tail call too: nothing to save around
 * either, so no frame. */
#define HOOK_PASS(name, ...)                                                   \
    do {                                                                       \
        __typeof__(hook_real_##name) f_ =                                      \
            __atomic_load_n(&hook_real_##name, __ATOMIC_RELAXED);              \
        if (hook_passing() && __builtin_expect(f_ != NULL, 1))                 \
            return f_(__VA_ARGS__);                                            \
    } while (0)

#endif
