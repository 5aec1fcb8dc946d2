/*
 * lthread: multicore coroutines for C.
 *
 * This is the whole public API. Everything else in the library is internal
 * and may change between releases; the types below are opaque so that their
 * layout can evolve without breaking the ABI.
 *
 * Conventions, for every call that returns int or ssize_t:
 *   - success returns 0 (or a count, for the I/O calls);
 *   - failure returns -1 and sets errno, as POSIX calls do;
 *   - an expired timeout returns -2 and sets errno to ETIMEDOUT (the seed's
 *     contract, kept for compatibility).
 * A timeout argument is in milliseconds; 0 means "wait forever".
 *
 * Threading: every lthread belongs to the scheduler of the pthread that
 * created it. lthread_wakeup(), lthread_destroy(), lthread_join() and the
 * cond signals work from any pthread (an lthread of another scheduler, a
 * compute section, a plain pthread): they are posted to the scheduler
 * concerned and done there. A pthread that names another's lthread must
 * know it is alive at the call. Other calls on an lthread_t belong to its
 * own scheduler's pthread.
 */
#ifndef LTHREAD_H
#define LTHREAD_H

/* The seed's examples, and programs written for every version of the
 * original library, use these declarations through <lthread.h> alone
 * (open(..., O_CREAT), errno, pthread_create, malloc, gettimeofday...). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LTHREAD_VERSION_MAJOR 1
#define LTHREAD_VERSION_MINOR 0
#define LTHREAD_VERSION_PATCH 0
/* One number that compares in order: 0xMMmmpp. */
#define LTHREAD_VERSION_HEX                                                    \
    ((LTHREAD_VERSION_MAJOR << 16) | (LTHREAD_VERSION_MINOR << 8) |            \
     LTHREAD_VERSION_PATCH)

#if defined(LTHREAD_BUILDING) && defined(__GNUC__)
#define LTHREAD_API __attribute__((visibility("default")))
#else
#define LTHREAD_API
#endif

/* Returned by calls whose timeout expired (errno is also set to ETIMEDOUT). */
#define LTHREAD_TIMEOUT (-2)

typedef struct lthread lthread_t;
typedef struct lthread_cond lthread_cond_t;

/* The body of an lthread. `lt` is the lthread itself, `arg` what was passed
 * to lthread_create(). Returning from it is the same as lthread_exit(NULL). */
typedef void (*lthread_func)(lthread_t *lt, void *arg);

/* The later original library's form of the body, fn(arg): accepted by
 * lthread_create() and lthread_create_ex() too (see there). */
typedef void (*lthread_func_arg)(void *arg);

/* Version of the library actually linked, as "MAJOR.MINOR.PATCH". */
LTHREAD_API const char *lthread_version(void);

/* ---- Lifecycle -------------------------------------------------------- */

/*
 * Sets the size in bytes of the shared stack regions of the calling
 * pthread's scheduler (default 256 KiB; rounded up to whole pages; 16 KiB
 * to 1 GiB). An lthread's deepest call chain must fit in it. Call it before
 * the first lthread_create() of the pthread, or between two lthread_run()s.
 * Returns 0, or -1 with EINVAL (size out of range), EBUSY (the scheduler
 * already has lthreads) or ENOMEM (its regions could not be remapped).
 */
LTHREAD_API int lthread_init(size_t size);

/*
 * Creates an lthread that will run fn(lt, arg) and stores it in *new_lt.
 * The scheduler of the calling pthread is created on its first call. The
 * new lthread first runs when the scheduler next picks it: inside
 * lthread_run(), or after the creating lthread suspends. Returns 0, or -1
 * with EINVAL (new_lt or fn NULL), ENOMEM, EPERM (inside a compute
 * section) or, when the scheduler is created, the error of its poller
 * (EMFILE, ENFILE).
 */
LTHREAD_API int lthread_create(lthread_t **new_lt, lthread_func fn, void *arg);

/* lthread_create() for a body of the later form, fn(arg). */
LTHREAD_API int lthread_create_arg(lthread_t **new_lt, lthread_func_arg fn,
                                   void *arg);

/* Attributes for lthread_create_ex(). Initialise with lthread_attr_init(). */
typedef struct lthread_attr {
    /* LTHREAD_ATTR_* flags. */
    unsigned flags;
    /* Size of a private stack, in bytes (16 KiB to 1 GiB); 0 means the
     * scheduler's region size. Must be 0 without LTHREAD_ATTR_PRIVATE_STACK
     * (EINVAL otherwise). */
    size_t stack_size;
    /* Kept zero (not checked); room to grow without changing the size. */
    void *reserved[6];
} lthread_attr_t;

/*
 * The lthread runs on a stack of its own (mmap with a guard page) instead
 * of a shared region: it is never copied, never waits for a region-mate and
 * can safely hand pointers to its locals to other lthreads. It costs at
 * least one page of memory for as long as it lives.
 */
#define LTHREAD_ATTR_PRIVATE_STACK 0x1u
/* The lthread starts detached: it is freed as soon as it exits. */
#define LTHREAD_ATTR_DETACHED 0x2u

/* Sets *attr to the defaults (shared stack, joinable). Returns 0, or -1 with
 * EINVAL if attr is NULL. */
LTHREAD_API int lthread_attr_init(lthread_attr_t *attr);

/* lthread_create() with attributes; attr NULL means the defaults. Returns
 * 0, or -1 with EINVAL (bad flags or stack size) or ENOMEM. */
LTHREAD_API int lthread_create_ex(lthread_t **new_lt, lthread_func fn,
                                  void *arg, const lthread_attr_t *attr);
/* lthread_create_ex() for a body of the later form, fn(arg). */
LTHREAD_API int lthread_create_ex_arg(lthread_t **new_lt, lthread_func_arg fn,
                                      void *arg, const lthread_attr_t *attr);

/*
 * Runs the calling pthread's scheduler until every lthread it owns has
 * exited, then frees the scheduler (and every lthread that was neither
 * joined nor detached), so that the pthread can create lthreads and call
 * lthread_run() again later. Returns 0; 0 at once if the pthread has no
 * lthreads; -1 with EPERM if called from inside an lthread; -1 with EDEADLK
 * if the remaining lthreads all wait for something that nothing can ever
 * deliver (a condition variable or a join with no timeout, no timer, no
 * socket and no compute section pending) while no other scheduler runs in
 * the process: they are then freed unfinished. With other schedulers
 * running it waits instead, since their lthreads may signal or destroy. A
 * plain pthread (with no scheduler) that means to wake such waiters must
 * not leave their scheduler alone with them: give them a timeout, or keep
 * an lthread there waiting on an fd, until it has.
 */
LTHREAD_API int lthread_run(void);

/*
 * Marks the calling lthread detached: it is freed as soon as it exits and
 * cannot be joined. Returns 0, or -1 with EPERM outside an lthread or
 * EINVAL if someone already waits in lthread_join() on it.
 */
LTHREAD_API int lthread_detach(void);

/*
 * Waits until lt exits, then stores its exit value in *ptr (if ptr is not
 * NULL) and frees lt. timeout is in ms, 0 waits forever. Returns 0;
 * -2 (errno ETIMEDOUT) if the timeout expired, leaving lt alive and joinable
 * again; -1 with EINVAL (lt NULL, detached, or already being joined),
 * EDEADLK (lt is the caller), EPERM (called outside an lthread), ECANCELED
 * (lt was destroyed while we waited), ESRCH (lt's scheduler has finished:
 * lt is gone) or ENOMEM (no memory for the wait; nothing changed). lt may
 * belong to another scheduler: the join is posted there, and lt is freed
 * there; an lthread nobody joins is freed when its scheduler finishes, so
 * a join from elsewhere must be made while lt's scheduler still runs (else
 * ESRCH). Joining an lthread that was already joined or destroyed is
 * undefined: its memory is gone.
 */
LTHREAD_API int lthread_join(lthread_t *lt, void **ptr, uint64_t timeout);

/*
 * Ends the calling lthread; ptr is what its joiner's *ptr receives (the
 * seed prints the parameter as `void **`, a typo: the value passed is the
 * exit value). ptr must not point into the lthread's own stack. Outside an
 * lthread it returns at once with errno EPERM.
 */
LTHREAD_API void lthread_exit(void *ptr);

/*
 * Destroys lt: it stops wherever it waits (sleep, condition variable, join,
 * socket), its events are cancelled and its memory is freed; a joiner
 * waiting on it returns -1 with ECANCELED. Whatever lt's own code had
 * allocated is not freed. Returns 0, or -1 with EINVAL (lt NULL), EDEADLK
 * (lt is the caller: use lthread_exit()) or EBUSY (lt is inside a compute
 * section). From another pthread it is posted to lt's scheduler and
 * returns 0 (or -1 with ENOMEM, or ESRCH when that scheduler has
 * finished); lt is destroyed when its scheduler handles the post, and an lt
 * in a compute section when it is back home. lt must not be used after.
 */
LTHREAD_API int lthread_destroy(lthread_t *lt);

/*
 * Suspends the calling lthread for msecs milliseconds; 0 only yields to the
 * other ready lthreads. lthread_wakeup() ends the sleep early. Returns 0, or
 * -1 with EPERM outside an lthread or ENOMEM (no room for its timer).
 */
LTHREAD_API int lthread_sleep(uint64_t msecs);

/*
 * Ends lt's lthread_sleep() now. An lthread that does not sleep is left
 * alone. From another pthread it is posted to lt's scheduler and ends the
 * sleep lt is in when the post is handled. Returns 0, or -1 with EINVAL (lt
 * NULL), ENOMEM or ESRCH (lt's scheduler has finished).
 */
LTHREAD_API int lthread_wakeup(lthread_t *lt);

/* ---- Condition variables ---------------------------------------------- */

/*
 * While lthreads wait on a condition variable it belongs to their
 * scheduler: lthreads of another scheduler cannot wait on it then (EPERM;
 * caught only sometimes when two schedulers race to be first: undefined).
 * Any pthread may signal or broadcast it: from elsewhere the signal is
 * posted to the waiters' scheduler and wakes the waiters present when it is
 * delivered. A cond has no memory: a signal with no waiter is lost, and
 * one that races a wait may or may not wake it. Without waiters it may
 * serve any scheduler.
 */

/* Creates a condition variable. Returns 0, or -1 with EINVAL or ENOMEM. */
LTHREAD_API int lthread_cond_create(lthread_cond_t **c);

/* Frees c (once any signal still on its way is delivered). Returns 0, or -1
 * with EINVAL (c NULL) or EBUSY (lthreads wait). */
LTHREAD_API int lthread_cond_destroy(lthread_cond_t *c);

/*
 * Suspends the calling lthread until c is signalled or timeout ms expire
 * (0: no timeout). Returns 0 if signalled, -2 on timeout, -1 with EINVAL
 * (c NULL), EPERM (outside an lthread, or c belongs to another scheduler)
 * or ENOMEM (no room for the timeout's timer; nothing changed).
 */
LTHREAD_API int lthread_cond_wait(lthread_cond_t *c, uint64_t timeout);

/* Wakes the lthread that has waited longest on c, if any. Returns 0, or -1
 * with EINVAL or ENOMEM (from another pthread: no memory for the post). */
LTHREAD_API int lthread_cond_signal(lthread_cond_t *c);

/* Wakes every lthread waiting on c, in the order they began to wait.
 * Returns 0, or -1 with EINVAL or ENOMEM. */
LTHREAD_API int lthread_cond_broadcast(lthread_cond_t *c);

/* ---- Names from the later original library --------------------------------
 */

/* lthread_destroy() under the later original library's name. */
LTHREAD_API int lthread_cancel(lthread_t *lt);

/* Detaches lt, another lthread of the calling pthread's scheduler: it is
 * freed when it exits, or now if it has exited. Returns 0, or -1 with
 * EINVAL (lt NULL, detached already, or being joined) or EPERM (lt belongs
 * to another scheduler). */
LTHREAD_API int lthread_detach2(lthread_t *lt);

/* The calling lthread, or NULL outside one: lthread_current(). */
LTHREAD_API lthread_t *lthread_self(void);

/* Receives exactly len bytes (recv(2) flags), parking as needed, within
 * timeout ms in all (0: none). Returns len; fewer at EOF (0 if none came);
 * -2 on timeout or -1 with errno on error, the bytes received then being
 * lost. (The original restarted its timeout at each wait.) */
LTHREAD_API ssize_t lthread_recv_exact(int fd, void *buf, size_t len, int flags,
                                       uint64_t timeout);

/* lthread_recv_exact() for any pollable fd, with read(2). */
LTHREAD_API ssize_t lthread_read_exact(int fd, void *buf, size_t len,
                                       uint64_t timeout);

/* Reads one line (up to and including '\n', at most max bytes) within
 * timeout ms in all. Returns its length with *buf a malloc'ed,
 * NUL-terminated copy that the caller frees; 0 at EOF with nothing read
 * (*buf NULL); -2 on timeout or -1 with errno (*buf NULL, what was read is
 * lost; EINVAL for buf NULL or max 0, ENOMEM). Reads one byte at a time,
 * as the original did, so nothing past the line is consumed. */
LTHREAD_API ssize_t lthread_readline(int fd, char **buf, size_t max,
                                     uint64_t timeout);

/* ---- Introspection
 * ----------------------------------------------------------- */

/* What one lthread is doing (lthread_walk()). Strings are static. */
struct lthread_info {
    uint64_t id;
    const char *name;  /* lthread_set_funcname()'s, or NULL */
    void *fn;          /* its entry function (for dladdr(3) or a debugger) */
    const char *state; /* "ready", "running", "waiting", "computing",
                        * "exited" (a zombie, not yet joined) */
    /* What a waiting lthread waits for: "sleep", "cond", "join", "fd",
     * "poll", "region" (a mate computes), "memory", "sync" (a mutex or a
     * channel), "join-remote" (an lthread of another scheduler), or ""
     * when it is not waiting. */
    const char *wait;
    int fd;             /* "fd": the fd, else -1 */
    int fd_write;       /* "fd": 1 when it waits to write */
    uint64_t join_id;   /* "join": the id of the lthread it joins */
    int64_t timeout_ms; /* ms until its wait times out (or its sleep
                         * ends), -1 when none */
    size_t stack_bytes; /* stack it holds: its saved image, or its frames
                         * in place (0 before its first run, and for the
                         * lthread that calls lthread_walk()) */
    int region;         /* its shared region's index; -1: its own stack,
                         * or not bound yet */
    int private_stack;
    int detached;
    /* Fields added later come last (programs built against an older
     * header still read the ones above). */
    uint64_t state_ms; /* how long since it last ran: for one waiting,
                        * computing or exited, the time in that state;
                        * for one ready, since it stopped running (its
                        * wait included); 0 for the running one and one
                        * that never ran. On the scheduler's coarse
                        * clock, read after each poll and every 64
                        * rounds: it may read long, never short */
};

/* Counters of the calling pthread's scheduler (lthread_stats()). */
struct lthread_stats {
    size_t ready, running, waiting, computing, exited; /* lthreads now */
    uint64_t switches;     /* into lthreads, since it was created */
    uint64_t copies;       /* stack images saved or restored */
    uint64_t bytes_copied; /* by those copies */
    uint64_t polls;        /* waits in the kernel's event poller */
    uint64_t compute_sections;
    uint64_t messages; /* posts from other pthreads handled */
    size_t regions;    /* shared stack regions mapped */
    size_t region_size;
    size_t stack_high_water; /* deepest stack saved from a shared region:
                              * size lthread_init() above it */
};

typedef int (*lthread_walk_fn)(const struct lthread_info *info, void *arg);

/*
 * Calls fn for every lthread of the calling pthread's scheduler, from an
 * lthread of it or from the pthread itself (between lthread_create() and
 * lthread_run(), say); fn must not create, switch or destroy. Stops at the
 * first non-zero return of fn and returns it; 0 after the last lthread;
 * -1 with EINVAL (fn NULL) or EPERM (no scheduler on this pthread, e.g. in
 * a compute section). Costs nothing until called: it finds the lthreads
 * where the scheduler keeps them, without a list of all of them.
 */
LTHREAD_API int lthread_walk(lthread_walk_fn fn, void *arg);

/* Fills *st for the calling pthread's scheduler. Returns 0, or -1 with
 * EINVAL or EPERM (as lthread_walk()). */
LTHREAD_API int lthread_stats(struct lthread_stats *st);

/* Prints the counters and a line per lthread (id, name, state, wait,
 * timeout, stack) to f (NULL: stderr), as the original library's
 * lthread_summary() did. Returns 0, or -1 with EPERM (as lthread_walk()).
 * With LTHREAD_DUMP_SIGNAL=SIGUSR2 (or another signal's name or number)
 * in the environment, every scheduler prints it to stderr when the process
 * gets that signal (off by default; the handler only sets a flag). */
LTHREAD_API int lthread_summary(FILE *f);

/* ---- Mutexes and channels ------------------------------------------------ */

/*
 * A mutex and a channel work within one scheduler and across schedulers,
 * from any pthread: an lthread that must wait is parked (its scheduler runs
 * the others); a plain pthread, or an lthread inside a compute section,
 * blocks its pthread. Timeouts are in ms, 0 waits forever; an expired one
 * returns -2 with errno ETIMEDOUT. Waiters are served in arrival order.
 * Man page: lthread_mutex(3), lthread_chan(3).
 */
typedef struct lthread_mutex lthread_mutex_t;

/* Creates an unlocked mutex. Returns 0, or -1 with EINVAL or ENOMEM. */
LTHREAD_API int lthread_mutex_create(lthread_mutex_t **m);

/* Frees m. Returns 0, or -1 with EINVAL (m NULL) or EBUSY (m is locked, or
 * someone waits for it). */
LTHREAD_API int lthread_mutex_destroy(lthread_mutex_t *m);

/* Locks m, waiting while another holds it. The holder is the calling
 * lthread (through compute sections too), or the calling pthread outside
 * an lthread. Returns 0, or -1 with EINVAL, EDEADLK (the caller holds it
 * already) or ENOMEM. */
LTHREAD_API int lthread_mutex_lock(lthread_mutex_t *m);

/* lthread_mutex_lock() that gives up after timeout ms (0: never): -2. */
LTHREAD_API int lthread_mutex_timedlock(lthread_mutex_t *m, uint64_t timeout);

/* Locks m if nobody holds it. Returns 0, or -1 with EBUSY (held, by the
 * caller too) or EINVAL. */
LTHREAD_API int lthread_mutex_trylock(lthread_mutex_t *m);

/* Unlocks m, handing it to the longest waiter if there is one. Returns 0,
 * or -1 with EINVAL or EPERM (the caller does not hold m). */
LTHREAD_API int lthread_mutex_unlock(lthread_mutex_t *m);

/*
 * A channel carries values of a fixed size by copy, in order, through a
 * buffer of `capacity` values (0: none, each send waits for a receiver:
 * a rendezvous). A value travels as bytes: a pointer in it must point to
 * memory that is valid in the receiver, i.e. heap memory or a private
 * stack's locals, never a local of an lthread on a shared stack region
 * (the README's caveat).
 */
typedef struct lthread_chan lthread_chan_t;

/* Creates a channel of values of elem_size bytes (1 to 65536). Returns 0,
 * or -1 with EINVAL or ENOMEM. */
LTHREAD_API int lthread_chan_create(lthread_chan_t **ch, size_t elem_size,
                                    size_t capacity);

/* Frees ch. Returns 0, or -1 with EINVAL or EBUSY (someone waits on it).
 * Destroying a channel while a call on it has not returned is undefined
 * (lthread_chan(3)). */
LTHREAD_API int lthread_chan_destroy(lthread_chan_t *ch);

/* Copies elem_size bytes from elem into ch, waiting up to timeout ms for
 * room (0: forever). Returns 0, -2 on timeout, or -1 with EPIPE (ch is
 * closed, also while waiting), EINVAL or ENOMEM. */
LTHREAD_API int lthread_chan_send(lthread_chan_t *ch, const void *elem,
                                  uint64_t timeout);

/* Takes the oldest value of ch into elem, waiting up to timeout ms for one
 * (0: forever). Returns 0, -2 on timeout, or -1 with EPIPE (ch is closed
 * and empty: the values sent before the close are received first), EINVAL
 * or ENOMEM. */
LTHREAD_API int lthread_chan_recv(lthread_chan_t *ch, void *elem,
                                  uint64_t timeout);

/* Closes ch: later sends fail with EPIPE, waiting senders wake with EPIPE,
 * receivers take what is buffered and then get EPIPE. Returns 0, or -1 with
 * EINVAL or EPIPE (closed already). */
LTHREAD_API int lthread_chan_close(lthread_chan_t *ch);

/* One operation of lthread_chan_select(). */
#define LTHREAD_CHAN_SEND 1
#define LTHREAD_CHAN_RECV 2
struct lthread_chan_op {
    lthread_chan_t *ch;
    int op;     /* LTHREAD_CHAN_SEND or LTHREAD_CHAN_RECV */
    void *elem; /* the value to send, or where to receive */
    int err;    /* set by lthread_chan_select for the one it returns: 0
                 * (done), or EPIPE (its channel is closed, as send and
                 * recv would say) */
};

/* Waits until one of the n operations can be done (or would fail with
 * EPIPE), does it, and returns its index, its `err` set; -2 after timeout
 * ms (0: forever); -1 with EINVAL (a NULL channel, a bad op, n 0) or
 * ENOMEM. When several are ready at once, the first in ops is chosen. */
LTHREAD_API int lthread_chan_select(struct lthread_chan_op *ops, size_t n,
                                    uint64_t timeout);

/* ---- Identity and per-lthread data ------------------------------------- */

/* The calling lthread's user data (NULL until set, or outside an lthread). */
LTHREAD_API void *lthread_get_data(void);

/* Sets the calling lthread's user data; outside an lthread it does nothing
 * and sets errno to EPERM. */
LTHREAD_API void lthread_set_data(void *data);

/* The calling lthread's id: unique in the process, from 1, larger than
 * those its scheduler created before it (not ordered across schedulers);
 * 0 outside an lthread. */
LTHREAD_API uint64_t lthread_id(void);

/* The calling lthread, or NULL outside an lthread. */
LTHREAD_API lthread_t *lthread_current(void);

/* Records the name of the function the calling lthread runs (a pointer to
 * a string that must outlive it, usually __func__). */
LTHREAD_API void lthread_set_funcname(const char *f);

/* The name recorded by lthread_set_funcname() for lt, or NULL. */
LTHREAD_API const char *lthread_get_funcname(const lthread_t *lt);

/* Records the enclosing function's name: `DEFINE_LTHREAD;` */
#define DEFINE_LTHREAD lthread_set_funcname(__func__)

/* ---- Compute sections ------------------------------------------------- */

/*
 * Moves the calling lthread to a compute pthread, so that an expensive
 * computation or a blocking call made before lthread_compute_end() does not
 * stall the other lthreads of its scheduler. Locals and pointers to them
 * stay valid. Between begin and end the lthread is on a pthread with no
 * scheduler: the calls that work from any pthread do (cond signals,
 * wakeup, destroy of another lthread, mutexes and channels, which block
 * the compute pthread, lthread_socket/pipe/close), the calls that would
 * park it fail with EPERM, and lthread_compute_end() ends the section.
 * (An lthread on a shared region that blocks on a mutex or channel here
 * keeps its region: a region-mate that would unlock or send must not be
 * the one it waits for. Use private stacks for that.) Returns 0, or -1 with
 * EPERM (outside an lthread), EDEADLK (already inside a compute section),
 * or ENOMEM/EAGAIN (no compute pthread exists and none could be started:
 * the lthread then simply continues on its own scheduler).
 *
 * Caveat: the section runs on another pthread, but a compiler may keep
 * thread-local addresses it computed before the call (&errno, the result
 * of pthread_self()) in the same function. Read errno and other
 * thread-locals inside a section only in a function called from it (mark
 * it noinline), not in the function that calls lthread_compute_begin().
 */
LTHREAD_API int lthread_compute_begin(void);

/* Moves the calling lthread back to its own scheduler. Returns 0, or -1
 * with EPERM when not inside a compute section. */
LTHREAD_API int lthread_compute_end(void);

/* ---- Sockets and file descriptors ------------------------------------- */

/*
 * Each call below behaves like its POSIX twin, except that where the twin
 * would block, the calling lthread is suspended and the scheduler runs the
 * others. The fds they read or write are switched to non-blocking mode
 * (lthread_wait_read/write and lthread_poll leave the mode alone). When the
 * wait itself cannot be set up they fail with ENOMEM. Man pages:
 * lthread_socket(3) and the pages it names.
 *
 * Outside an lthread (main() before lthread_run(), a plain pthread, a
 * compute section): lthread_socket, lthread_pipe and lthread_close do the
 * plain call (non-blocking and close-on-exec, as inside) and keep the
 * calling pthread's fd table right; lthread_getaddrinfo blocks the caller;
 * every other call here fails with EPERM and leaves the fd as it was.
 *
 * Timeouts: a call with a timeout argument of 0, and the send family, which
 * has none, are bounded by the socket's own SO_RCVTIMEO (receiving,
 * accept) or SO_SNDTIMEO (sending, connect), read the first time a call on
 * the fd waits: set them before that. On expiry they return -2 with errno
 * ETIMEDOUT, like the timeout arguments (a send then has sent part of the
 * data; close the stream). lthread_wait_read/write and lthread_poll
 * ignore them, as poll(2) does.
 *
 * Fds that pass between the library and plain calls: any fd may be used
 * here, whoever made it. Close fds that lthreads may wait on with
 * lthread_close(): it wakes them with -1/EBADF. A plain close(2) wakes
 * nobody (an lthread waiting on it then waits for its timeout), and if the
 * number is reused by a file made outside the library, the library finds
 * out when it next waits on it: a wait after a failed attempt notices at
 * once; a TCP receive that waits without trying (after a short read, the
 * "drained hint") notices within half a second.
 */

/* socket(2), returning a non-blocking socket. Works outside an lthread. */
LTHREAD_API int lthread_socket(int domain, int type, int protocol);

/* accept(2); the new socket is non-blocking. */
LTHREAD_API int lthread_accept(int fd, struct sockaddr *addr,
                               socklen_t *addrlen);

/* close(2); lthreads of the calling pthread waiting on fd wake with -1 and
 * EBADF. Works outside an lthread. */
LTHREAD_API int lthread_close(int fd);

/* connect(2) with a timeout. Returns 0, -2 on timeout, or -1. */
LTHREAD_API int lthread_connect(int fd, const struct sockaddr *addr,
                                socklen_t addrlen, uint64_t timeout);

/* recv(2) with a timeout: the bytes received (0 at EOF), -2 or -1. */
LTHREAD_API ssize_t lthread_recv(int fd, void *buf, size_t len, int flags,
                                 uint64_t timeout);

/* recvfrom(2) with a timeout. MSG_WAITALL on a stream socket gathers len
 * bytes (fewer at EOF, or when an error or the timeout comes after some),
 * in all three receive calls. */
LTHREAD_API ssize_t lthread_recvfrom(int fd, void *buf, size_t len, int flags,
                                     struct sockaddr *addr, socklen_t *addrlen,
                                     uint64_t timeout);

/* recvmsg(2) with a timeout. */
LTHREAD_API ssize_t lthread_recvmsg(int fd, struct msghdr *msg, int flags,
                                    uint64_t timeout);

/* read(2) with a timeout, for any pollable fd (pipes, ttys, eventfds). */
LTHREAD_API ssize_t lthread_read(int fd, void *buf, size_t len,
                                 uint64_t timeout);

/* The send family sends everything, looping over partial writes, or fails
 * with -1; they never raise SIGPIPE (EPIPE is returned instead). */
LTHREAD_API ssize_t lthread_send(int fd, const void *buf, size_t len,
                                 int flags);
/* sendmsg(2) (the seed's prototype is a typo of this one). */
LTHREAD_API ssize_t lthread_sendmsg(int fd, const struct msghdr *msg,
                                    int flags);
LTHREAD_API ssize_t lthread_sendto(int fd, const void *buf, size_t len,
                                   int flags, const struct sockaddr *addr,
                                   socklen_t addrlen);
LTHREAD_API ssize_t lthread_writev(int fd, const struct iovec *iov, int iovcnt);
/* write(2) that writes everything, for any pollable fd. */
LTHREAD_API ssize_t lthread_write(int fd, const void *buf, size_t len);

/* pipe(2), both ends non-blocking and close-on-exec. Works outside an
 * lthread. */
LTHREAD_API int lthread_pipe(int fds[2]);

/* Suspends until fd is readable (writable). Returns 0, -2 on timeout or -1
 * (EBADF when fd is closed by lthread_close() meanwhile). */
LTHREAD_API int lthread_wait_read(int fd, uint64_t timeout);
LTHREAD_API int lthread_wait_write(int fd, uint64_t timeout);

/* poll(2), with poll's own timeout convention (ms; -1 forever; 0 checks
 * and returns at once). Returns the number of ready fds, 0 on timeout. */
LTHREAD_API int lthread_poll(struct pollfd *fds, nfds_t nfds, int timeout);

#if defined(__FreeBSD__) || defined(__APPLE__) || defined(__DragonFly__)
#include <sys/uio.h>
#else
/* Headers and trailers sent around the file range, as FreeBSD defines. */
struct sf_hdtr {
    struct iovec *headers;
    int hdr_cnt;
    struct iovec *trailers;
    int trl_cnt;
};
#endif

/*
 * Sends nbytes of file fd, starting at offset, to socket s (nbytes 0: up
 * to the end of the file; a shorter file sends what there is), preceded
 * and followed by hdtr's iovecs if hdtr is not NULL. The seed's FreeBSD
 * call, on every platform. Returns 0 or -1 (EINVAL for a negative offset
 * or a header or trailer count below 0 or above IOV_MAX, checked before
 * anything is sent).
 */
LTHREAD_API int lthread_sendfile(int fd, int s, off_t offset, size_t nbytes,
                                 struct sf_hdtr *hdtr);

struct addrinfo; /* (strict C11 builds: <netdb.h> declares it only for
                  * POSIX, and this prototype must not declare it anew) */

/* getaddrinfo(3) run in a compute section, so that a slow resolver does
 * not stall the scheduler (outside an lthread, or when no compute pthread
 * can be had, it simply blocks the caller). Returns what getaddrinfo
 * returns. */
LTHREAD_API int lthread_getaddrinfo(const char *node, const char *service,
                                    const struct addrinfo *hints,
                                    struct addrinfo **res);

/* ---- Files and block devices ------------------------------------------ */

/*
 * Disk I/O that parks only the calling lthread: its scheduler runs the
 * others while the kernel reads, writes, syncs, opens or stats. The
 * operations are done by io_uring (one ring per scheduler, Linux) where
 * the kernel allows it, else by a small pool of I/O pthreads;
 * lthread_io_backend() says which, and LTHREAD_DISK=pool in the
 * environment forces the pool. Man page: lthread_io(3).
 *
 * Each call behaves like its POSIX twin: -1 with errno as the twin sets it
 * (EBADF, EINVAL, EISDIR, EFAULT, EIO, ENOSPC, EFBIG past RLIMIT_FSIZE,
 * which raises no SIGXFSZ, ...) or ENOMEM when the request cannot be
 * made. There are no timeouts: an operation ends when the kernel ends it.
 *
 *  - Reads (read, pread, readv, preadv) make one operation and return its
 *    count: fewer bytes than asked at the end of the file (0 at EOF), as
 *    POSIX gives them; read and pread at most 0x7ffff000 bytes at once.
 *  - Writes (write, pwrite, writev, pwritev) loop until everything is
 *    written. When an error comes after part was written they return the
 *    count written (a later call reports the error), else -1.
 *  - The p-calls take an offset (negative: EINVAL) and leave the file
 *    position alone; the others use and move it, so lthreads sharing an
 *    fd should not use them at the same time.
 *  - Buffers. While the caller is parked, the kernel (or an I/O pthread)
 *    reads or writes its buffer directly, unless the buffer lies on a
 *    shared stack region of the caller's scheduler (a local of an lthread
 *    without LTHREAD_ATTR_PRIVATE_STACK): a region-mate may run meanwhile
 *    and have its frames copied where the buffer is, so such a buffer is
 *    copied through the heap, and the caller's memory is touched only
 *    while the caller runs (before it parks for a write, after it resumes
 *    for a read). A buffer that another lthread handed over (a pointer to
 *    its local) is therefore read or written at those two moments, as if
 *    the caller had used it itself: valid when the README's stack rule
 *    allows the caller to use it then. Heap buffers and private-stack
 *    locals must stay valid until the call returns.
 *  - Destroying an lthread that waits in one of these calls returns at
 *    once; where the kernel can, the operation is cancelled. The lthread
 *    (its stack included) is freed only once the operation has ended, so
 *    nothing is written into freed memory; a heap buffer it passed may be
 *    written until then. lthread_run() does not return while an operation
 *    is in flight.
 *  - Outside an lthread (main(), a plain pthread) and in a compute section
 *    each call is its plain blocking twin.
 *  - Meant for regular files and block devices. Other fds work (a read of
 *    a pipe waits for data, holding one I/O pthread under the pool), but
 *    the socket calls above wait for them without any thread.
 */

/* read(2) and pread(2): one read; fewer bytes at the end of the file. */
LTHREAD_API ssize_t lthread_io_read(int fd, void *buf, size_t len);
LTHREAD_API ssize_t lthread_io_pread(int fd, void *buf, size_t len,
                                     off_t offset);
/* readv(2) and preadv(2): one read into the iovecs. */
LTHREAD_API ssize_t lthread_io_readv(int fd, const struct iovec *iov,
                                     int iovcnt);
LTHREAD_API ssize_t lthread_io_preadv(int fd, const struct iovec *iov,
                                      int iovcnt, off_t offset);

/* write(2), pwrite(2), writev(2), pwritev(2) that write everything. */
LTHREAD_API ssize_t lthread_io_write(int fd, const void *buf, size_t len);
LTHREAD_API ssize_t lthread_io_pwrite(int fd, const void *buf, size_t len,
                                      off_t offset);
LTHREAD_API ssize_t lthread_io_writev(int fd, const struct iovec *iov,
                                      int iovcnt);
LTHREAD_API ssize_t lthread_io_pwritev(int fd, const struct iovec *iov,
                                       int iovcnt, off_t offset);

/* fsync(2) and fdatasync(2). */
LTHREAD_API int lthread_io_fsync(int fd);
LTHREAD_API int lthread_io_fdatasync(int fd);

/* open(2) and openat(2) (a mode follows the flags when they have O_CREAT
 * or O_TMPFILE). The path is copied: it may be a local. */
LTHREAD_API int lthread_io_open(const char *path, int flags, ...);
LTHREAD_API int lthread_io_openat(int dirfd, const char *path, int flags, ...);

/* close(2); like lthread_close(), wakes the calling pthread's lthreads that
 * wait on fd with EBADF. Close an fd only once no disk call on it is in
 * flight. */
LTHREAD_API int lthread_io_close(int fd);

/* stat(2) and fstat(2). */
LTHREAD_API int lthread_io_stat(const char *path, struct stat *st);
LTHREAD_API int lthread_io_fstat(int fd, struct stat *st);

/* Which backend the calling lthread's disk calls use: "io_uring" or
 * "pool"; "blocking" outside an lthread and in a compute section; NULL
 * with errno ENOMEM. */
LTHREAD_API const char *lthread_io_backend(void);

#ifdef __cplusplus
}

/* Both forms of the body, type-checked: one overload each. */
inline int lthread_create(lthread_t **new_lt, lthread_func_arg fn, void *arg)
{
    return lthread_create_arg(new_lt, fn, arg);
}
inline int lthread_create_ex(lthread_t **new_lt, lthread_func_arg fn, void *arg,
                             const lthread_attr_t *attr)
{
    return lthread_create_ex_arg(new_lt, fn, arg, attr);
}
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
/*
 * Both forms of the body, type-checked: the seed's fn(lt, arg) and the
 * later original library's fn(arg) both compile without a warning and are
 * each called as they are declared; a function of any other type is a
 * compile error (no _Generic association), not a silent cast. NULL is
 * passed through (EINVAL at run time). (lthread_create)(...) names the
 * function itself.
 */
#define lthread_create(new_lt, fn, arg)                                        \
    _Generic((fn),                                                             \
        lthread_func: lthread_create,                                          \
        lthread_func_arg: lthread_create_arg,                                  \
        void *: lthread_create)((new_lt), (fn), (arg))
#define lthread_create_ex(new_lt, fn, arg, attr)                               \
    _Generic((fn),                                                             \
        lthread_func: lthread_create_ex,                                       \
        lthread_func_arg: lthread_create_ex_arg,                               \
        void *: lthread_create_ex)((new_lt), (fn), (arg), (attr))
#endif

#endif /* LTHREAD_H */
