/*
 * The hook library's fd table (hook_int.h): the user's view of O_NONBLOCK
 * and the socket timeouts of every fd the hooks manage.
 *
 * An fd is learnt in one of two ways: a hook made it (socket, accept,
 * dup), or an lthread used it for the first time (made before the library
 * was loaded, inherited, made by a call that is not hooked): fcntl(F_GETFL)
 * and fstat() say what it is. Only sockets and pipes/FIFOs are managed:
 * regular files, ttys, eventfds and the rest pass straight through (a
 * read of a regular file never waits for the poller). A managed fd is made
 * O_NONBLOCK underneath once and stays so; the user's flag lives here.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hook/hook_int.h"
#include "hook/iface.h"

static _Atomic(struct hook_fd *) chunks[HOOK_CHUNKS];

_Atomic int hook_managing;

static int (*hook_real_fcntl)(int, int, ...);

void *hook_next(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);

    if (!f) {
        static const char msg[] = "liblthread_hook: a libc call is missing\n";

        (void)!write(2, msg, sizeof(msg) - 1);
        abort();
    }
    return f;
}

struct hook_fd *hook_fd_entry(int fd, bool create)
{
    struct hook_fd *c, *fresh;
    size_t size = HOOK_CHUNK * sizeof(struct hook_fd);

    if (fd < 0 || fd / HOOK_CHUNK >= HOOK_CHUNKS)
        return NULL;
    c = atomic_load_explicit(&chunks[fd / HOOK_CHUNK], memory_order_acquire);
    if (c || !create)
        return c ? &c[fd % HOOK_CHUNK] : NULL;
    /* Zeroed by the kernel; the loser of a race unmaps its copy. */
    fresh = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED)
        return NULL;
    if (!atomic_compare_exchange_strong_explicit(&chunks[fd / HOOK_CHUNK], &c,
                                                 fresh, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        munmap(fresh, size);
        return &c[fd % HOOK_CHUNK];
    }
    return &fresh[fd % HOOK_CHUNK];
}

static void entry_store(struct hook_fd *e, uint32_t state, uint32_t rcv_ms,
                        uint32_t snd_ms)
{
    if ((state & HOOK_MANAGED) &&
        !atomic_load_explicit(&hook_managing, memory_order_relaxed))
        atomic_store(&hook_managing, 1); /* before the state (seq_cst) */
    atomic_store_explicit(&e->rcv_ms, rcv_ms, memory_order_relaxed);
    atomic_store_explicit(&e->snd_ms, snd_ms, memory_order_relaxed);
    atomic_store_explicit(&e->state, state, memory_order_release);
}

void hook_fd_reset(int fd)
{
    struct hook_fd *e = hook_fd_entry(fd, false);

    if (e && hook_state(e))
        entry_store(e, 0, 0, 0);
}

void hook_fd_made(int fd, uint32_t state, uint32_t rcv_ms, uint32_t snd_ms)
{
    struct hook_fd *e = hook_fd_entry(fd, true);

    if (e)
        entry_store(e, state | HOOK_KNOWN | HOOK_MANAGED | HOOK_SOCKET, rcv_ms,
                    snd_ms);
}

void hook_fd_copy(int from, int to)
{
    struct hook_fd *f = hook_fd_entry(from, false), *t;
    uint32_t st = hook_state(f);

    if (!st) {
        hook_fd_reset(to);
        return;
    }
    t = hook_fd_entry(to, true);
    if (t)
        entry_store(t, st,
                    atomic_load_explicit(&f->rcv_ms, memory_order_relaxed),
                    atomic_load_explicit(&f->snd_ms, memory_order_relaxed));
}

unsigned hook_fd_kind(uint32_t state)
{
    return ((state & HOOK_SOCKET) ? LTHREAD_HOOK_FD_SOCKET : 0) |
           ((state & HOOK_TCP) ? LTHREAD_HOOK_FD_TCP : 0);
}

/* A socket option in ms (a timeval), 0 when unset or unreadable. */
static uint32_t sock_ms(int fd, int opt)
{
    struct timeval tv = {0, 0};
    socklen_t len = sizeof(tv);
    uint64_t ms;

    if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) < 0)
        return 0;
    ms = (uint64_t)tv.tv_sec * 1000u + ((uint64_t)tv.tv_usec + 999u) / 1000u;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* True for a TCP socket. */
static bool sock_is_tcp(int fd)
{
    int v[3] = {0, 0, 0}, opt[3] = {SO_DOMAIN, SO_TYPE, SO_PROTOCOL};

    for (int i = 0; i < 3; i++) {
        socklen_t len = sizeof(v[i]);

        if (getsockopt(fd, SOL_SOCKET, opt[i], &v[i], &len) < 0)
            return false;
    }
    return (v[0] == AF_INET || v[0] == AF_INET6) && v[1] == SOCK_STREAM &&
           v[2] == IPPROTO_TCP;
}

/* Learns what fd is; leaves e unknown when fd is not open. */
static void detect(int fd, struct hook_fd *e)
{
    struct stat st;
    uint32_t state = HOOK_KNOWN;
    int fl = HOOK_REAL(fcntl)(fd, F_GETFL);

    if (fl < 0 || fstat(fd, &st) < 0)
        return;
    if (!S_ISSOCK(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        entry_store(e, state, 0, 0);
        return;
    }
    if (fl & O_NONBLOCK)
        state |= HOOK_USER_NB;
    else if (HOOK_REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return; /* leave it to the plain call */
    state |= HOOK_MANAGED;
    if (S_ISSOCK(st.st_mode)) {
        state |= HOOK_SOCKET | (sock_is_tcp(fd) ? HOOK_TCP : 0);
        entry_store(e, state, sock_ms(fd, SO_RCVTIMEO),
                    sock_ms(fd, SO_SNDTIMEO));
        return;
    }
    entry_store(e, state, 0, 0);
}

struct hook_fd *hook_fd_blocking(int fd)
{
    struct hook_fd *e = hook_fd_entry(fd, true);
    uint32_t st = hook_state(e);
    int saved = errno;

    if (e && !st) {
        detect(fd, e);
        errno = saved;
        st = hook_state(e);
    }
    return (st & (HOOK_MANAGED | HOOK_USER_NB)) == HOOK_MANAGED ? e : NULL;
}
