/*
 * Internal structures shared by the library's files. Nothing here is part
 * of the API: include/lthread.h is.
 *
 * Naming: public calls are lthread_*; internal functions shared between
 * files are lthread__* (hidden by -fvisibility=hidden); file-local ones are
 * static. Internal functions return 0 or a negative errno; only the public
 * wrapper sets errno, once.
 */
#ifndef LTHREAD_INT_H
#define LTHREAD_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debug_hooks.h"
#include "lthread.h"

struct lthread__sched;
struct lthread__region;
struct lthread__wgroup;
struct lthread__poller;
struct lthread__disk;

/* Internal result of a wait whose timeout expired. Not -2 (what the public
 * calls return), which is also -ENOENT; outside the errno range, and
 * within an int16_t (struct lthread's wake_result). */
#define LTHREAD__TIMEDOUT (-0x4000)

/*
 * Invariant checks, compiled in sanitizer builds and with -DLTHREAD_DEBUG:
 * a failed check prints which invariant of docs/DESIGN.md broke, where,
 * and aborts. In other builds they cost nothing.
 */
#if defined(LTHREAD__ASAN) || defined(LTHREAD__TSAN) || defined(LTHREAD_DEBUG)
#define LTHREAD__CHECKS 1
#define LTHREAD__CHECK(cond, invariant)                                        \
    (lthread__likely(cond)                                                     \
         ? (void)0                                                             \
         : lthread__check_failed((invariant), __FILE__, __LINE__))
#else
#define LTHREAD__CHECKS 0
#define LTHREAD__CHECK(cond, invariant) ((void)0)
#endif
void lthread__check_failed(const char *invariant, const char *file, int line)
    __attribute__((noreturn, cold));

#define lthread__likely(x) __builtin_expect(!!(x), 1)
#define lthread__unlikely(x) __builtin_expect(!!(x), 0)

/* ---- Queues ----------------------------------------------------------- */

/* A FIFO of lthreads linked through their next/prev fields. An lthread is
 * in at most one queue at a time: the ready queue, a condition variable's
 * waiters, a region's waiters, an fd's waiters (io.c) or the scheduler's
 * zombies. In a queue, the head's prev and the tail's next are NULL; an
 * empty queue's head is NULL and its tail means nothing (left as it was
 * by the pop or removal that emptied it). Out of every queue an lthread's
 * prev is NULL (it left as the head, or through lthread__queue_remove, or
 * was never queued) and its next means nothing: a pop leaves it as it
 * was. (Clearing what means nothing was four of every cond hand-off's
 * instructions.) */
struct lthread__queue {
    struct lthread *head;
    struct lthread *tail;
};

/* A link of a scheduler's list of conds that have waiters (cond.c):
 * circular, the scheduler's own link its head, so that a cond is linked
 * and unlinked without a branch. */
struct lthread__cond_link {
    struct lthread__cond_link *next;
    struct lthread__cond_link *prev;
};

/* ---- lthreads --------------------------------------------------------- */

enum lthread__state {
    LTHREAD__READY,   /* in the ready queue (never run yet: sp == NULL) */
    LTHREAD__RUNNING, /* sched->current */
    LTHREAD__WAITING, /* suspended; `wait` says on what */
    LTHREAD__COMPUTE, /* away on a compute pthread, or on its way back */
    LTHREAD__EXITED,  /* finished, waiting to be joined */
    LTHREAD__DEAD,    /* freed, its block kept while posts may name it */
};

/*
 * What a WAITING lthread waits for. Each kind belongs to one module, which
 * links the lthread into its own structure before parking it and knows how
 * to unlink it again (struct lthread__wait_ops, table in wait.c): the
 * scheduler cancels any wait (timeout, destroy, failure to arm a timer)
 * through lthread__wait_cancel() without knowing what it is.
 */
enum lthread__wait {
    LTHREAD__WAIT_NONE,
    LTHREAD__WAIT_SLEEP,  /* only its timer (lthread.c) */
    LTHREAD__WAIT_COND,   /* wait_obj: the cond, whose queue holds it */
    LTHREAD__WAIT_JOIN,   /* wait_obj: the lthread it joins (lthread.c) */
    LTHREAD__WAIT_IO,     /* wait_obj: NULL for one fd (io_fd, queued in
                           * sched->fds[io_fd]), or the lthread_poll()
                           * set of fds (io.c), freed by whoever wakes or
                           * cancels the wait */
    LTHREAD__WAIT_REGION, /* in its region's waiters: a mate computes */
    LTHREAD__WAIT_MEMORY, /* in sched->starved: see there */
    LTHREAD__WAIT_XJOIN,  /* wait_obj: a join of another scheduler's
                           * lthread (lthread.c, struct xjoin) */
    LTHREAD__WAIT_SYNC,   /* wait_obj: a mutex or channel wait group
                           * (src/sync/) */
    LTHREAD__WAIT_DISK,   /* wait_obj: a disk request (src/disk/) */
    LTHREAD__WAIT_POLL,   /* in sched->pollers; wait_obj: what it polls
                           * (a channel: src/sync/chan.c), which its
                           * kind's poll op looks at */
    LTHREAD__WAIT_NKINDS
};

/* How a module's kind of wait is undone. */
struct lthread__wait_ops {
    const char *name; /* for messages and introspection */
    /* Unlinks lt (WAITING on this kind, on its own scheduler s) from what
     * it waits on. Leaves its timer, state and wake_result alone. Returns
     * false when it cannot: another pthread has already taken the wait
     * and its wake is on the way (lt then stays parked until it comes).
     * NULL: nothing to unlink. */
    bool (*cancel)(struct lthread__sched *s, struct lthread *lt);
    /* For a polled wait (POLL) only: true once lt should run again and
     * retry (what it polls changed). Called on lt's scheduler's pthread,
     * while other pthreads may be changing what it polls. */
    bool (*poll)(const struct lthread *lt);
};

/* Forms of the entry function, in io_fd until the first run. */
#define LTHREAD__ENTRY_SEED 0 /* fn(lt, arg): lthread_func */
#define LTHREAD__ENTRY_ARG 1  /* fn(arg): lthread_func_arg */

/* lthread flags */
#define LTHREAD__F_DETACHED 0x1u /* free at exit */
#define LTHREAD__F_PRIVATE 0x2u  /* region is its own private stack */
#define LTHREAD__F_TIMER 0x4u    /* in the timer heap */
#define LTHREAD__F_BOUND 0x8u    /* `region` is its region for life */
#define LTHREAD__F_SAVED 0x10u   /* its frames are in `image`, not in place */
/* Woken with an outcome it has not taken yet (it has not run since):
 * io_fd says which kind, wait_obj names it. LTHREAD__DONE_JOIN: the exit
 * of the lthread it joins (whose `joiner` is this one) — destroying either
 * side unties the pair (lthread.c); LTHREAD__DONE_SYNC: a served mutex or
 * channel wait group — destroying it undoes what was done for it
 * (src/sync/); LTHREAD__DONE_POLL: a polled wait ended (sched.c,
 * sched_poll), wait_obj what it polled, which counts it until it has run
 * (it retries there) — destroying it releases that (src/sync/chan.c). */
#define LTHREAD__F_JOIN_DONE 0x20u
#define LTHREAD__DONE_JOIN 1
#define LTHREAD__DONE_SYNC 2
#define LTHREAD__DONE_XJOIN                                                    \
    3 /* a join of another scheduler's lthread:                                \
       * wait_obj is its record (lthread.c) */
#define LTHREAD__DONE_POLL 4
/* `joiner` is a struct xjoin: a join from another scheduler (lthread.c). */
#define LTHREAD__F_XJOIN 0x40u
/* Destroyed while its wake was on its way from another pthread: the wake's
 * delivery finishes the destroy (lthread.c). */
#define LTHREAD__F_DESTROY 0x80u

/* Bounds of stack sizes (lthread_init, private stacks). */
#define LTHREAD__MIN_STACK (16u * 1024)
#define LTHREAD__MAX_STACK ((size_t)1 << 30)
#define LTHREAD__DEFAULT_STACK (256u * 1024)

/*
 * One lthread. Kept small: a million suspended lthreads cost a million of
 * these plus their saved stack images. (There is deliberately no list of
 * all lthreads: teardown finds the leftovers through the zombies, the
 * joiners and the conds that have waiters.)
 */
struct lthread {
    /* Saved stack pointer while not running: points at the switch frame,
     * inside the region if the image is in place, else where it will be. */
    void *sp;
    struct lthread__sched *sched; /* owner, for life */
    /* Stack region the lthread is bound to from its first run on. Its
     * frames can only ever live there. Before the first run (sp == NULL) of
     * an lthread without a private stack it names the creator's region,
     * which the binding avoids, or NULL. */
    struct lthread__region *region;
    /* Queue links (see struct lthread__queue). */
    struct lthread *next;
    struct lthread *prev;
    /* Copy of [sp, region->top) while another lthread uses the region
     * (flag F_SAVED). The buffer, of image_cap bytes, is kept for the next
     * save while the frames are in place. */
    char *image;
    uint32_t image_cap;
    uint8_t state;     /* enum lthread__state */
    uint8_t wait;      /* enum lthread__wait */
    uint8_t flags;     /* LTHREAD__F_* */
    uint8_t io_events; /* LTHREAD__POLL_* awaited (WAIT_IO) */
    /* errno of the lthread while switched out. 16 bits: every errno value
     * of the systems supported fits (a program that stores a larger
     * number in errno gets it truncated across a switch). */
    int16_t saved_errno;
    /* Result of the last wait: 0 woken, LTHREAD__TIMEDOUT, or a negative
     * errno. */
    int16_t wake_result;
    /* When it entered its state (introspection: lthread_info's
     * state_ms): its scheduler's clock in ms, modulo 2^32, with the low
     * bit set (0: never stamped); see lthread__stamp. Where 16 bits of
     * errno made room: the control block stays within 120 bytes, one
     * malloc size class. */
    uint32_t since_ms;
    uint32_t timer_slot; /* index in sched->timers while F_TIMER */
    /* The fd awaited (WAIT_IO); before the first run, the form of fn
     * (LTHREAD__ENTRY_*: lthread_create() or lthread_create_arg()). */
    int io_fd;
    uint64_t id;
    /* Fields used in disjoint periods of the lthread's life share room. */
    union {
        lthread_func fn;  /* entry function, until it exits (also
                           * compute learning) */
        void *exit_value; /* lthread_exit()'s value, once exited */
    };
    union {
        void *arg;      /* fn's argument, until it starts */
        void *wait_obj; /* once started: see enum lthread__wait */
    };
    void *data;             /* lthread_set_data() */
    struct lthread *joiner; /* lthread waiting in join on us */
    const char *funcname;
    /* Sanitizer state: present in sanitizer builds only. */
    LTHREAD__ASAN_FIELDS
    LTHREAD__TSAN_FIELDS
#if LTHREAD__CHECKS
    bool queued; /* in a queue (the fd table's queues move: no address) */
#endif
};

/* A timer heap entry: the deadline lives here, not in struct lthread,
 * so lthreads that wait without a timeout do not pay for it. */
struct lthread__timer {
    uint64_t deadline; /* CLOCK_MONOTONIC ns */
    struct lthread *lt;
};

/* ---- Stack regions ---------------------------------------------------- */

/*
 * A stack region: an mmap'd range with a guard page below it. A shared
 * region serves many lthreads, one at a time; a private one serves one.
 *
 *   map                base                              top
 *   | guard page (none) | ... free ... | frames of owner  |
 *                                      ^ owner->sp
 *
 * Invariants:
 *  - owner is the only lthread whose frames are in the region now; every
 *    other lthread bound here and started has its frames saved in its
 *    image (flag F_SAVED);
 *  - an lthread bound here that computes stays owner until it is back:
 *    mates that become ready meanwhile wait in `waiters`.
 */
struct lthread__region {
    char *map; /* mmap() result, guard page included */
    size_t map_len;
    char *base; /* lowest usable byte */
    char *top;  /* one past the highest byte; 16-aligned */
    struct lthread *owner;
    uint32_t nbound; /* lthreads bound here, not yet exited */
    bool is_private;
    uint16_t index;    /* in sched->regions, shared ones only */
    size_t high_water; /* deepest stack saved from it, bytes */
    struct lthread__queue waiters;
    unsigned valgrind_id;
};

/* ---- Per-fd state ----------------------------------------------------- */

struct lthread__io_node;

/* fd flags (struct lthread__fd) */
#define LTHREAD__FD_REGISTERED 0x1u /* watched by the poller */
#define LTHREAD__FD_NONBLOCK 0x2u   /* O_NONBLOCK is known to be set */
#define LTHREAD__FD_KNOWN 0x4u      /* the kind below is known */
#define LTHREAD__FD_SOCKET 0x8u     /* kind: a socket */
#define LTHREAD__FD_FIFO 0x10u      /* kind: a pipe or FIFO (SIGPIPE) */
#define LTHREAD__FD_TCP 0x20u       /* kind: a TCP socket (see DRAINED) */
/* The last recv() on this TCP socket returned less than asked: its receive
 * queue was empty then, so the next recv() parks before trying, saving a
 * syscall that would fail with EAGAIN. Any readiness the poller reports
 * for the fd afterwards clears it. */
#define LTHREAD__FD_DRAINED 0x40u
/* Urgent data, the peer's close or an error was seen: a read may then stop
 * short with more to read (data past the urgent mark, the EOF or error
 * behind the last bytes) and no further readiness report would come, so
 * DRAINED is never used again for this fd. */
#define LTHREAD__FD_NOHINT 0x80u
/* timeo_rcv_ms/timeo_snd_ms hold the socket's SO_RCVTIMEO/SO_SNDTIMEO,
 * read the first time a call on it waits (0 for a non-socket). */
#define LTHREAD__FD_TIMEO 0x100u

/*
 * What the scheduler knows of one fd, indexed by fd in sched->fds: the
 * lthreads parked on it and what earlier calls learnt about it. Any number
 * of lthreads may wait on one fd; a readiness edge wakes every waiter of
 * its direction (each retries its call; those that lose the race park
 * again). The flags are cleared when the fd is closed by lthread_close()
 * or created anew by lthread_socket(), lthread_accept() or lthread_pipe().
 *
 * An fd closed with close(2) and its number reused by a file made outside
 * the library leaves stale flags here. What keeps that from hanging
 * anyone (io.c): every park that follows a failed attempt re-registers
 * the fd with the poller (EEXIST: it was registered), and a success means
 * a new file, whose stale flags are then dropped; parks made on the
 * drained hint alone (no attempt, no syscall) are re-checked by a sweep
 * once they have waited a while (lthread__io_sweep).
 */
struct lthread__fd {
    struct lthread__queue readers;    /* single-fd waits for input */
    struct lthread__queue writers;    /* single-fd waits for output */
    struct lthread__io_node *pollers; /* lthread_poll() waits (io.c) */
    uint16_t flags;                   /* LTHREAD__FD_* */
    uint32_t timeo_rcv_ms;            /* see LTHREAD__FD_TIMEO */
    uint32_t timeo_snd_ms;
};

/* ---- Hosts ------------------------------------------------------------ */

/*
 * A host is a pthread context that runs lthreads: a scheduler, or a compute
 * pthread. A running lthread switches back to the host of the pthread it
 * runs on (found through thread-local storage, never cached across a
 * switch, since a compute section changes the pthread).
 */
struct lthread__host {
    void *sp;                /* host's own context while an lthread runs */
    struct lthread *current; /* lthread running on this host, or NULL */
    /* The host's stack as ASan reports it, and its saved fake stack. */
    const void *asan_bottom;
    size_t asan_size;
    void *asan_fake_stack;
    void *tsan_fiber; /* the host's own TSan fiber */
    int *errno_loc;   /* the host pthread's errno, cached */
    /* Sanitizer calls owed by the switch being made (sched.c). */
    struct lthread__san_switch san_pending;
};

/* initial-exec: a plain %fs-relative load, no __tls_get_addr call. */
#define LTHREAD__TLS __thread __attribute__((tls_model("initial-exec")))
extern LTHREAD__TLS struct lthread__sched *lthread__tls_sched;
extern LTHREAD__TLS struct lthread__host *lthread__tls_host;

/* The calling pthread's host, or NULL if it runs no lthreads. */
struct lthread__host *lthread__host_get(void);
/* Installs h as the calling pthread's host (NULL to remove). */
void lthread__host_set(struct lthread__host *h);

/*
 * Switches from the running lthread `self` back to its host. Returns when
 * a host resumes self (perhaps the host of another pthread). (An exiting
 * lthread leaves through lthread__exit_self, sched.c.) The suspend and the
 * yield take s, self's scheduler (self->sched), from the caller, who has
 * it from the pthread's own (lthread__sched_self): not loading it again
 * from self takes two dependent loads (current, then sched) off the way
 * to the next lthread.
 */
int lthread__switch_suspend(struct lthread *self, struct lthread__sched *s);
/* lthread_sleep(0): self (RUNNING, on its scheduler) to the back of the
 * ready queue, and the switch. */
int lthread__switch_yield(struct lthread *self, struct lthread__sched *s);
static inline void lthread__switch_out(struct lthread *self)
{
    lthread__switch_suspend(self, self->sched);
}

/* Switches from host h into lt, whose frames are in place. Returns the
 * lthread that switches back to h: lt, or one that lt (or its successors)
 * handed over to directly. */
struct lthread *lthread__switch_in(struct lthread__host *h, struct lthread *lt);

/* ---- The inbox: work from other pthreads (inbox.c) -------------------- */

/* A message for a scheduler, posted from any pthread, handled on the
 * scheduler's own pthread by handle(), which owns m from then on. */
struct lthread__msg {
    struct lthread__msg *next;
    void (*handle)(struct lthread__sched *s, struct lthread__msg *m);
};

struct lthread__inbox {
    _Atomic(struct lthread__msg *) msgs; /* posted, newest first */
    _Atomic(struct lthread *) back;      /* back from compute, linked by next */
    /* Something was posted since the scheduler last looked: the first
     * poster of a batch wakes the poller, the others do not. */
    _Atomic bool armed;
    /* Posters between looking up the scheduler and their last touch of it:
     * it is not freed, nor is any of its lthreads, while this is not 0. */
    _Atomic unsigned nposting;
    bool closing;  /* lthread_run() is returning: under lthread__xs_lock */
    bool draining; /* handling a batch (the scheduler's pthread only) */
};

/* Guards what pthreads share about schedulers: their list, and `closing`. */
extern __attribute__((visibility("hidden"))) pthread_mutex_t lthread__xs_lock;

/* s, if it has not begun to finish, ready to take a post (as below). The
 * caller holds lthread__xs_lock. */
struct lthread__sched *lthread__inbox_open_locked(struct lthread__sched *s);

/* The scheduler of lt, ready to take a post from another pthread (its
 * nposting raised), or NULL when it has finished (-ESRCH). lt must be
 * alive: the caller's promise, as for any call on an lthread. */
struct lthread__sched *lthread__inbox_open(struct lthread *lt);
/* Posts m to s, opened with lthread__inbox_open, and closes s for the
 * caller: s may be gone once this returns. */
void lthread__inbox_post(struct lthread__sched *s, struct lthread__msg *m);
/* A compute pthread hands lt back to its scheduler. */
void lthread__inbox_post_back(struct lthread__sched *s, struct lthread *lt);
/* Handles what was posted, on s's pthread; false if nothing was. */
bool lthread__inbox_drain(struct lthread__sched *s);
/* Before the poller's wait, while lthreads of s wait on what another
 * pthread will likely post soon (a channel, a mutex, a remote join): polls
 * the inbox for up to `ns` instead of sleeping at once, so that a reply
 * costs no kernel wake-up on either side (posters see the inbox armed and
 * write nothing to the poller). True when something was posted (then
 * drain it); false when the time ran out (then wait in the poller). */
bool lthread__inbox_spin(struct lthread__sched *s, uint64_t ns);
/* The two halves of such a spin, for spins that also poll something else
 * (sched.c: the pollers' channels), on s's pthread. _hold arms the inbox
 * so that posts wake no poller meanwhile; false when it was armed already
 * (something came: drain it, do not spin). Between the two,
 * lthread__inbox_pending (below: a relaxed hint for the spin loop) says
 * whether something came. _release disarms it unless something came
 * (then true: it stays armed, the next drain takes it). */
bool lthread__inbox_hold(struct lthread__sched *s);
bool lthread__inbox_release(struct lthread__sched *s);
static inline bool lthread__inbox_pending(struct lthread__sched *s);

/* A spin-wait's pause. */
static inline void lthread__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
/* s is finishing: waits for its posters, then handles what is left. */
void lthread__inbox_close(struct lthread__sched *s);

/* ---- The scheduler ---------------------------------------------------- */

struct lthread__sched {
    struct lthread__host host; /* first: the pthread's own context */
    struct lthread__queue ready;
    size_t nready;
    size_t round_left; /* runs left in this round (see lthread_run) */
    /* Switches into lthreads, which are the runs the rounds granted:
     * those of the rounds before this one, and this round's (round_runs,
     * what round_left started at). A switch counts itself by taking its
     * run (round_left--), with nothing else to write (lthread__switches). */
    uint64_t switches_before;
    size_t round_runs;
    struct lthread__queue zombies; /* exited, not yet joined */
    /* lthreads waiting in lthread_join() on an lthread of another
     * scheduler, and conds that have waiters: with the zombies, and the
     * joiners of lthreads found there (lthread__join_waiter), all a
     * deadlocked scheduler must free. */
    struct lthread__queue joining;
    struct lthread__cond_link busy_conds; /* (empty: links to itself) */
    /* Counts that decide whether lthread_run() can still make progress. */
    size_t nlive;            /* lthreads not exited */
    size_t nwaiting_forever; /* WAITING with no timer on cond or join */
    size_t ncompute;         /* away in compute sections */
    /* Timer heap: lthreads ordered by deadline (timer.c). */
    struct lthread__timer *timers;
    uint32_t ntimers;
    uint32_t timers_cap;
    /* Shared regions, created on demand up to max_regions. */
    struct lthread__region **regions;
    uint32_t nregions;
    uint32_t max_regions;
    size_t region_size;
    /* A shared region no lthread is bound to: the last one emptied, or
     * NULL (a hint for the next start, checked: region.c). */
    struct lthread__region *region_free;
    /* Poller and per-fd waiters (io.c). */
    struct lthread__poller *poller;
    struct lthread__fd *fds;
    int nfds; /* entries in fds */
    size_t nio_waiting;
    /* Waits that only another pthread can end: on mutexes and channels
     * (src/sync/), on joins of another scheduler's lthreads. They are
     * never taken for a deadlock. */
    size_t nxwaiting;
    /* Lthreads away in compute sections (compute.c), for introspection. */
    struct lthread__queue computing;
    /* The registry of this scheduler's wait groups (src/sync/): every group
     * made by its lthreads, in use or in its cache, so that introspection
     * finds the lthreads waiting on mutexes and channels without a list
     * kept per wait (lthread__sync_each_waiter). */
    struct lthread__wgroup *sync_waits;
    /* Counters (introspection: lthread_stats()); only this scheduler's
     * pthread writes and reads them (switches: lthread__switches). */
    struct {
        uint64_t copies;
        uint64_t bytes_copied;
        uint64_t polls;
        uint64_t compute_sections;
        uint64_t messages;
    } stats;
    /* What runs now, for the watchdog: the id and name of the lthread
     * last switched in (id 0 while none), and the switches it saw (its
     * sign of progress), relaxed atomics written only while it runs. */
    _Atomic uint64_t running_id;
    _Atomic(const char *) running_name;
    _Atomic uint64_t watched_switches;
    /* The watchdog's own notes, under lthread__xs_lock. */
    uint64_t wd_switches;
    uint64_t wd_since;
    bool wd_reported;
    /* A dump was asked for (LTHREAD_DUMP_SIGNAL). */
    _Atomic bool dump_wanted;
    /* Disk I/O (src/disk/): its state, made on first use, and the
     * requests queued or in flight, each of which keeps the loop going. */
    struct lthread__disk *disk;
    size_t ndisk;
    /* Waiters parked on the drained hint, not re-checked yet, and when
     * the next sweep looks at them (io.c). */
    size_t nhint_waiting;
    uint64_t hint_sweep_at;
    /* Work from other pthreads: lthreads back from compute sections,
     * wakeups, signals, joins, destroys (inbox.c). */
    struct lthread__inbox inbox;
    /* Control blocks freed while a post could still name them: released
     * after the next drain (lthread__lt_free). */
    struct lthread *freed_later;
    /* Every scheduler of the process, under lthread__xs_lock (sched.c). */
    struct lthread__sched *xs_next;
    struct lthread__sched *xs_prev;
    bool running; /* inside lthread_run() */
    /* Where an lthread that exits by switching straight into another
     * saves its sp, which nobody resumes (it freed itself first). */
    void *dead_sp;
    /* Freed control blocks kept for reuse (linked by next). */
    struct lthread *lt_cache;
    uint32_t nlt_cache;
    /* READY lthreads that could not enter their region because a mate's
     * image could not be saved (ENOMEM), and how they are retried: a few
     * at a time at starved_retry_at, twice as many after a batch that all
     * got in, one after a delay that doubles (to 128 ms) while any fails
     * (sched.c, sched_retry_starved). */
    struct lthread__queue starved;
    uint64_t starved_retry_at; /* CLOCK_MONOTONIC ns */
    uint32_t starved_batch;
    uint32_t starved_delay_ms;
    uint64_t nstarve_fails;   /* failures to enter, ever */
    uint64_t starve_fails_at; /* nstarve_fails when the batch was sent */
    /* The clock the lthreads' state stamps read (CLOCK_MONOTONIC_COARSE in
     * ms, modulo 2^32, low bit set): the loop reads it when it starts,
     * after each poll and every 64 rounds (clock_rounds counts them), so
     * a stamp is a load and a store, and never later than the time it
     * stands for, nor earlier by more than 64 rounds or the last poll.
     * (Reading it at the first stamp of each round cost 2.4% more
     * instructions on the switch benchmark.) */
    uint32_t clock_ms;
    uint32_t clock_rounds;
    /* The ids this scheduler hands out next, [id_next, id_end): a block
     * taken from the process's counter at a time (lthread.c), so that a
     * create does no atomic operation on a line all schedulers share. */
    uint64_t id_next, id_end;
    /* Wait groups of one waiter, kept for reuse (src/sync/wait.c): a
     * malloc/free pair was a quarter of a mutex hand-off. wg_hot: one
     * more, the first taken and the first refilled (src/sync/sync.h). */
    struct lthread__wgroup *wg_cache;
    struct lthread__wgroup *wg_hot;
    uint32_t nwg_cache;
    /* How long the next spin before a poll may last (sched.c, sched_spin):
     * doubled when a spin ends with a post, halved when it runs out. */
    uint64_t spin_ns;
    /* Polled waits (LTHREAD__WAIT_POLL, oldest first): lthreads waiting
     * for what another pthread will soon provide, which the loop polls
     * before it sleeps (sched_poll). poll_ns: how long the pollers may go
     * without one of them waking before they all park for real; adapts
     * between 1 us and LTHREAD_CHAN_SPIN_US (0 until first used).
     * poll_until: when that happens, 0 while nobody polls. poll_shared:
     * the last poll that paid was answered only after a yield of ours
     * gave the CPU away (the other side runs on our CPU): the pollers
     * yield early (sched_poll). */
    struct lthread__queue pollers;
    uint64_t poll_ns;
    uint64_t poll_until;
    bool poll_shared;
};

static inline bool lthread__inbox_pending(struct lthread__sched *s)
{
    return atomic_load_explicit(&s->inbox.msgs, memory_order_relaxed) ||
           atomic_load_explicit(&s->inbox.back, memory_order_relaxed);
}

/* ---- lthread.c ------------------------------------------------------- */

/* What every lthread runs, through the arch trampoline: the prologue,
 * then its function, then the epilogue, which exits and never returns.
 * (The epilogue is not declared noreturn: so declared, its tail call of
 * lthread__exit_joined would be a call; the x86-64 trampoline reaches it
 * by a jump, the others by a call, after which they trap.) */
void lthread__entry_prologue(void *lt);
void lthread__entry_epilogue(void *lt);
/* The body of an lthread made by lthread_create_arg(): calls fn(arg). */
void lthread__entry_arg(void *lt, void *arg);

/* Ends the running lthread with exit value `value` (sched.c). */
void lthread__exit_self(struct lthread *self, void *value)
    __attribute__((noreturn));
/* lthread__exit_self(self, NULL) at the return of self's function, self
 * having a joiner (sched.c), on self's scheduler's pthread (the epilogue
 * came home from any compute section first); never returns. (Not
 * declared noreturn, so that the epilogue reaches it by a jump: see
 * there.) */
void lthread__exit_joined(struct lthread *self);

/* ---- sched.c ---------------------------------------------------------- */

/* The calling pthread's scheduler, or NULL. Not inlined, so that code
 * running across a compute section never caches the TLS address of the
 * pthread it started on. */
struct lthread__sched *lthread__sched_get(void);

/* The calling pthread's scheduler, created if needed; NULL on ENOMEM (or
 * when the pthread is a compute pthread: errno EPERM). */
struct lthread__sched *lthread__sched_get_or_create(int *err);

/* The running lthread of the calling pthread, or NULL. */
struct lthread *lthread__self(void);

/*
 * The running lthread and its scheduler, when the calling pthread is a
 * scheduler (not a compute pthread); else NULL. Inline, for the entry of
 * public calls: the compiler may keep the TLS address for the rest of the
 * calling function, so use it only before any switch (afterwards, use the
 * lthread's own `sched` or the noinline getters above).
 */
static inline struct lthread *lthread__sched_self(struct lthread__sched **s)
{
    struct lthread__sched *sched = lthread__tls_sched;

    *s = sched;
    return sched ? sched->host.current : NULL;
}

/* Unlinks a WAITING lt from whatever it waits on (timer excluded), through
 * its kind's cancel (wait.c), and clears its wait; false (nothing changed)
 * when the wait cannot be cancelled because its wake is on the way. */
bool lthread__wait_cancel(struct lthread__sched *s, struct lthread *lt);
/* A polled wait's poll (wait.c: its kind's poll op). */
bool lthread__wait_poll(const struct lthread *lt);

/* The kinds' cancel operations, each defined by the module that owns the
 * kind (sleep and none have nothing to undo). */
extern const struct lthread__wait_ops lthread__wait_ops_cond;
extern const struct lthread__wait_ops lthread__wait_ops_join;
extern const struct lthread__wait_ops lthread__wait_ops_io;
extern const struct lthread__wait_ops lthread__wait_ops_region;
extern const struct lthread__wait_ops lthread__wait_ops_memory;
extern const struct lthread__wait_ops lthread__wait_ops_xjoin;
extern const struct lthread__wait_ops lthread__wait_ops_sync;
extern const struct lthread__wait_ops lthread__wait_ops_disk;
extern const struct lthread__wait_ops lthread__wait_ops_chan_poll;

/* The name of lt's wait kind ("sleep", "cond", ...; "none"). */
const char *lthread__wait_name(const struct lthread *lt);

/* Frees s if no lthread was ever added to it (after a failed create). */
void lthread__sched_release_if_idle(struct lthread__sched *s);

/*
 * The lthread waiting in lthread_join() on lt, of lt's scheduler, or NULL.
 * Such a joiner is on no list: its joinee names it (a push and an unlink
 * per join were 20 of create + run + join's 387 instructions), so walks
 * and a deadlocked scheduler's teardown find it from its joinee, which
 * is found where it is (or through its own joinee).
 */
static inline struct lthread *lthread__join_waiter(const struct lthread *lt)
{
    struct lthread *j = lt->joiner;

    if (!j || (lt->flags & LTHREAD__F_XJOIN) || j->wait != LTHREAD__WAIT_JOIN ||
        j->wait_obj != lt)
        return NULL;
    return j;
}

/* lt exits and its joiner waits in lthread_join(): wakes the joiner, which
 * takes lt when it runs (lthread.c). Defined below (it needs the queues);
 * inline in the exit. */
static inline void lthread__join_exited(struct lthread__sched *s,
                                        struct lthread *lt);
/* The same for a joiner of another scheduler: completes its join and frees
 * lt, unless the joiner gave up (lthread.c). */
void lthread__join_exited_xs(struct lthread__sched *s, struct lthread *lt);
/* lt, joined from another scheduler, is freed unfinished (destroyed at a
 * teardown): that join fails with ECANCELED. */
void lthread__xjoin_orphan(struct lthread__sched *s, struct lthread *lt);

/* A zeroed control block, recycled or new; NULL on ENOMEM. */
struct lthread *lthread__lt_alloc(struct lthread__sched *s);

/*
 * Zeroes n bytes at p (n a constant multiple of 8, p 8-byte aligned) with
 * plain stores, 16 bytes at a time where the target has them. Not memset:
 * for a control block gcc makes that `rep stosq`, whose start-up cost
 * measured 17-19 ns per 120 bytes on an AMD EPYC guest against 6-12 for
 * stores. (The empty asm keeps the loop from being turned back into a
 * memset.)
 */
typedef uint64_t lthread__zero16
    __attribute__((vector_size(16), aligned(8), may_alias));
static inline __attribute__((always_inline)) void lthread__zero(void *p,
                                                                size_t n)
{
    lthread__zero16 *v = p;

#pragma GCC unroll 32
    for (size_t i = 0; i < n / 16; i++) {
        v[i] = (lthread__zero16){0};
        __asm__("" : "+r"(v));
    }
    if (n % 16)
        *(uint64_t __attribute__((may_alias)) *)((char *)p + n - 8) = 0;
}
/* X(i) for i = 0 .. n/16 - 1 (n a constant of at most 256): straight
 * code, no loop to be made a memset. */
#define LTHREAD__ZERO_STEP(k, v, n)                                            \
    if ((k) < (n) / 16)                                                        \
        (v)[k] = (lthread__zero16)                                             \
        {                                                                      \
            0                                                                  \
        }
static inline __attribute__((always_inline)) void lthread__zero_small(void *p,
                                                                      size_t n)
{
    lthread__zero16 *v = p;

    LTHREAD__ZERO_STEP(0, v, n);
    LTHREAD__ZERO_STEP(1, v, n);
    LTHREAD__ZERO_STEP(2, v, n);
    LTHREAD__ZERO_STEP(3, v, n);
    LTHREAD__ZERO_STEP(4, v, n);
    LTHREAD__ZERO_STEP(5, v, n);
    LTHREAD__ZERO_STEP(6, v, n);
    LTHREAD__ZERO_STEP(7, v, n);
    LTHREAD__ZERO_STEP(8, v, n);
    LTHREAD__ZERO_STEP(9, v, n);
    LTHREAD__ZERO_STEP(10, v, n);
    LTHREAD__ZERO_STEP(11, v, n);
    LTHREAD__ZERO_STEP(12, v, n);
    LTHREAD__ZERO_STEP(13, v, n);
    LTHREAD__ZERO_STEP(14, v, n);
    LTHREAD__ZERO_STEP(15, v, n);
    if (n % 16)
        *(uint64_t __attribute__((may_alias)) *)((char *)p + n - 8) = 0;
}

/* A recycled control block, zeroed; the recycling list must not be empty
 * (s->lt_cache). Inline: the common create calls nothing. */
static inline struct lthread *lthread__lt_reuse(struct lthread__sched *s)
{
    struct lthread *lt = s->lt_cache;

    _Static_assert(sizeof(struct lthread) % 8 == 0, "lthread__zero");
    s->lt_cache = lt->next;
    s->nlt_cache--;
    if (sizeof(*lt) <= 256)
        lthread__zero_small(lt, sizeof(*lt));
    else
        lthread__zero(lt, sizeof(*lt));
    return lt;
}
/* Gives back a control block (to the recycling list, or to malloc). */
void lthread__lt_release(struct lthread__sched *s, struct lthread *lt);

/* Control blocks are recycled through a short per-scheduler list: a
 * malloc/free pair was a third of the cost of create + join. Not under
 * ASan, which must see every use of a freed lthread. */
#ifdef LTHREAD__ASAN
#define LTHREAD__LT_CACHE_MAX 0
#else
#define LTHREAD__LT_CACHE_MAX 64
#endif

/* Puts lt on the recycling list (which has room). */
static inline void lthread__lt_cache_push(struct lthread__sched *s,
                                          struct lthread *lt)
{
    lt->next = s->lt_cache;
    s->lt_cache = lt;
    s->nlt_cache++;
}

/* A post in flight to s's inbox may name an lthread of s (inbox.c): one
 * freed meanwhile must stay a dead control block until the batch is
 * handled, not be freed or reused (lthread__lt_free). */
static inline bool lthread__inbox_busy(struct lthread__sched *s)
{
    return atomic_load_explicit(&s->inbox.nposting, memory_order_acquire) ||
           atomic_load_explicit(&s->inbox.armed, memory_order_acquire) ||
           s->inbox.draining;
}

/* Unlinks and frees an lthread that will never run again (exited or
 * destroyed; already out of every queue and wait). */
void lthread__lt_free(struct lthread__sched *s, struct lthread *lt);

/* lthread__lt_free() of a joined zombie, inline where it goes straight
 * back to the recycling list (nothing else to release, no post in
 * flight, room in the list): nearly always. */
static inline void lthread__lt_free_joined(struct lthread__sched *s,
                                           struct lthread *lt)
{
#if LTHREAD__LT_CACHE_MAX > 0 && !LTHREAD__HAVE_TSAN
    if (lthread__likely(!lt->image &&
                        !(lt->flags & (LTHREAD__F_XJOIN | LTHREAD__F_BOUND |
                                       LTHREAD__F_SAVED)) &&
                        s->nlt_cache < LTHREAD__LT_CACHE_MAX &&
                        !lthread__inbox_busy(s))) {
        lthread__lt_cache_push(s, lt);
        return;
    }
#endif
    lthread__lt_free(s, lt);
}

/* lthread_init(): sets the region size of the calling pthread's scheduler,
 * now or when it is created. Returns 0, -EINVAL or -EBUSY. */
int lthread__sched_set_region_size(size_t size);

/* Now, in CLOCK_MONOTONIC nanoseconds. */
uint64_t lthread__now_ns(void);

/* lt, destroyed, was woken by a served mutex/channel wait it had not
 * taken yet: undoes what was done for it and frees the group (src/sync/). */
void lthread__sync_abandon(struct lthread *lt);
/* lt, destroyed, was woken from a polled wait and had not run since: what
 * it polled no longer counts it (src/sync/chan.c). */
void lthread__poll_abandon(struct lthread *lt);

/* Finishes a destroy asked from another pthread while lt computed. */
void lthread__destroy_back(struct lthread__sched *s, struct lthread *lt);

/* An lthread back from a compute section is ready again (inbox.c). */
void lthread__sched_back(struct lthread__sched *s, struct lthread *lt);

/* ---- queue helpers (inline: they sit on every switch) ------------------ */

#if LTHREAD__CHECKS
#define LTHREAD__QUEUE_IN(lt, q)                                               \
    ((void)(q),                                                                \
     LTHREAD__CHECK(!(lt)->queued, "an lthread is in at most one queue"),      \
     LTHREAD__CHECK(!(lt)->prev, "out of every queue an lthread's prev is "    \
                                 "NULL"),                                      \
     (lt)->queued = true)
#define LTHREAD__QUEUE_OUT(lt, q)                                              \
    ((void)(q),                                                                \
     LTHREAD__CHECK((lt)->queued, "an lthread leaves a queue only if in one"), \
     (lt)->queued = false)
#else
#define LTHREAD__QUEUE_IN(lt, q) ((void)0)
#define LTHREAD__QUEUE_OUT(lt, q) ((void)0)
#endif

/* lthread__queue_push() of lt whose next is NULL already (a zeroed
 * control block). */
static inline void lthread__queue_push_clear(struct lthread__queue *q,
                                             struct lthread *lt)
{
    struct lthread *tail = q->tail; /* (stale when empty) */

    LTHREAD__QUEUE_IN(lt, q);
    LTHREAD__CHECK(!lt->next, "a cleared lthread's next is NULL");
    if (q->head) {
        lt->prev = tail;
        tail->next = lt;
    } else {
        q->head = lt; /* (lt->prev is NULL: out of every queue) */
    }
    q->tail = lt;
}

static inline void lthread__queue_push(struct lthread__queue *q,
                                       struct lthread *lt)
{
    struct lthread *tail = q->tail; /* (stale when empty) */

    LTHREAD__QUEUE_IN(lt, q);
    lt->next = NULL;
    if (q->head) {
        lt->prev = tail;
        tail->next = lt;
    } else {
        q->head = lt; /* (lt->prev is NULL: out of every queue) */
    }
    q->tail = lt;
}

/* lthread__queue_push() onto q known to be empty: no look at its head. */
static inline void lthread__queue_push_empty(struct lthread__queue *q,
                                             struct lthread *lt)
{
    LTHREAD__CHECK(!q->head, "the queue is empty");
    LTHREAD__QUEUE_IN(lt, q);
    lt->next = NULL;
    q->head = q->tail = lt;
}

static inline struct lthread *lthread__queue_pop(struct lthread__queue *q)
{
    struct lthread *lt = q->head;

    if (lt) {
        LTHREAD__QUEUE_OUT(lt, q);
        q->head = lt->next;
        if (q->head)
            q->head->prev = NULL;
        /* (The tail is left stale when q is empty; lt->prev is NULL, the
         * head's; lt->next is left stale: see struct lthread__queue.) */
    }
    return lt;
}

static inline void lthread__queue_remove(struct lthread__queue *q,
                                         struct lthread *lt)
{
    LTHREAD__QUEUE_OUT(lt, q);
    if (lt->prev)
        lt->prev->next = lt->next;
    else
        q->head = lt->next;
    if (lt->next)
        lt->next->prev = lt->prev;
    else
        q->tail = lt->prev;
    lt->next = lt->prev = NULL;
}

/* ---- timer.c: a binary min-heap on deadline ---------------------------- */

/* Adds lt to fire at `deadline` (ns). Returns 0 or -ENOMEM. */
int lthread__timer_add(struct lthread__sched *s, struct lthread *lt,
                       uint64_t deadline);
/* Removes lt if it is in the heap. */
void lthread__timer_remove(struct lthread__sched *s, struct lthread *lt);
/* The earliest deadline, or UINT64_MAX when the heap is empty. */
uint64_t lthread__timer_next(const struct lthread__sched *s);
/* Removes and returns the earliest lthread if its deadline <= now. */
struct lthread *lthread__timer_pop_expired(struct lthread__sched *s,
                                           uint64_t now);
/* Adds lt to fire `timeout_ms` from now (saturating). Out of line: it
 * keeps the untimed wait paths lean. Returns 0 or -ENOMEM. */
int lthread__timer_arm(struct lthread__sched *s, struct lthread *lt,
                       uint64_t timeout_ms);

/* ---- waiting and waking (inline: they sit on every hand-off) ---------- */

/* Whether the watchdog runs (debug/watchdog.c: set once, before any
 * scheduler exists). Only then does a switch note which lthread runs
 * (running_id, running_name): nothing else reads them, and the two
 * stores were some 5% of a sleep(0) hand-off (BENCHMARKS.md). */
extern __attribute__((visibility("hidden"))) _Atomic bool lthread__watching;

/* A switch into `lt` (which has taken its run of the round: that counts
 * it for lthread_stats(), lthread__switches): tells the watchdog, if one
 * runs, who runs and that something switched (plain stores: relaxed
 * atomics, one writer). The counter's load, add and store on every
 * switch were 3 of a sleep(0) hand-off's 101 instructions. */
static inline void lthread__count_switch(struct lthread__sched *s,
                                         const struct lthread *lt)
{
    if (lthread__unlikely(
            atomic_load_explicit(&lthread__watching, memory_order_relaxed))) {
        atomic_store_explicit(&s->running_name, lt->funcname,
                              memory_order_relaxed);
        atomic_store_explicit(&s->running_id, lt->id, memory_order_relaxed);
        atomic_store_explicit(
            &s->watched_switches,
            atomic_load_explicit(&s->watched_switches, memory_order_relaxed) +
                1,
            memory_order_relaxed);
    }
}

/* Switches into lthreads since s was created (its pthread only). */
static inline uint64_t lthread__switches(const struct lthread__sched *s)
{
    return s->switches_before + (s->round_runs - s->round_left);
}

/* ---- debug/: introspection, dump, watchdog ------------------------------ */

/* Reads LTHREAD_DUMP_SIGNAL / LTHREAD_WATCHDOG_MS once, starting their
 * helper pthreads if asked for. */
void lthread__dump_init(void);
void lthread__watchdog_init(void);
/* The stack overflow report (overflow.c): installs the SIGSEGV handler
 * once per process and an alternate signal stack for the calling pthread
 * (on by default; LTHREAD_OVERFLOW_REPORT=0 turns it off); _fini removes
 * the pthread's alternate stack again. */
void lthread__overflow_thread_init(void);
void lthread__overflow_thread_fini(void);
/* Prints s's summary to stderr (on s's pthread). */
void lthread__sched_dump(struct lthread__sched *s);
/* Asks every scheduler to print its summary (sched.c). */
void lthread__sched_each_dump(void);
/* The watchdog's look at every scheduler (sched.c). */
void lthread__sched_each_watch(uint64_t now_ns, uint64_t limit_ns);

/* Reads the clock into s->clock_ms (the loop: see there). */
void lthread__sched_clock(struct lthread__sched *s);

/* Notes that lt enters a new state now, for introspection: a load and a
 * store of the clock the loop keeps (s->clock_ms). On lt's scheduler's
 * pthread only. */
static inline void lthread__stamp(struct lthread__sched *s, struct lthread *lt)
{
    lt->since_ms = s->clock_ms;
}

/* lt, woken, will take an outcome of kind `kind` (LTHREAD__DONE_*, its
 * wait_obj naming it) when it runs; destroyed before that, it is undone
 * (LTHREAD__F_JOIN_DONE). */
static inline void lthread__outcome_hold(struct lthread *lt, int kind)
{
    lt->io_fd = kind;
    lt->flags |= LTHREAD__F_JOIN_DONE;
}

/* lt took its outcome (it ran), or it was undone: nothing is held. Its
 * wait_obj goes stale, read again only once it is set anew (by a park, or
 * by a wake that holds an outcome): one store of every join. */
static inline void lthread__outcome_taken(struct lthread *lt)
{
    lt->flags &= (uint8_t)~LTHREAD__F_JOIN_DONE;
}

/* Appends lt to the ready queue and sets it READY. */
static inline void lthread__ready(struct lthread__sched *s, struct lthread *lt)
{
    LTHREAD__CHECK(s == lthread__tls_sched,
                   "only the scheduler's own pthread touches its queues");
    lt->state = LTHREAD__READY;
    lthread__queue_push(&s->ready, lt);
    s->nready++;
}

/*
 * Parks `self` as WAITING on `kind` (already linked into what it waits on
 * by the caller, wait_obj naming it) with a timeout in ms (0: none) and
 * suspends. Returns self->wake_result: 0 when woken, LTHREAD__TIMEDOUT, or
 * a negative errno when the wait was cancelled. When no timer can be
 * added it does not park: it undoes the caller's linking through the
 * kind's cancel and returns -ENOMEM.
 */
int lthread__park_arm(struct lthread__sched *s, struct lthread *self,
                      uint64_t timeout);

static inline int lthread__park(struct lthread__sched *s, struct lthread *self,
                                enum lthread__wait kind, void *wait_obj,
                                uint64_t timeout)
{
    self->wait = (uint8_t)kind;
    self->wait_obj = wait_obj;
    if (timeout) {
        if (lthread__park_arm(s, self, timeout) < 0)
            return -ENOMEM;
        /* Loaded again after the call, so that s is kept in no register
         * across it (a register saved in every caller's frame: 16 B more
         * in every suspended lthread's image). */
        s = self->sched;
    }
    self->state = LTHREAD__WAITING;
    self->wake_result = 0;
    /* (Not through lthread__switch_out: one inline level less in the
     * backtrace of every suspended lthread.) */
    lthread__switch_suspend(self, s);
    return self->wake_result;
}

/* The longest the pollers of a scheduler may go without a wake before
 * they park for real (LTHREAD_CHAN_SPIN_US, in ns; 0: never poll). */
uint64_t lthread__poll_max_ns(void);

/* lthread__park() as a polled wait on obj (POLL): instead of being woken
 * by whoever changes obj, `self` is polled by its scheduler's loop,
 * through the kind's poll op, while nothing else is ready; it is woken (0)
 * when obj changed, or when the pollers went poll_ns without a wake (then
 * it waits for real), marked LTHREAD__DONE_POLL until it runs: the caller
 * clears that (lthread__outcome_taken). Its cancel op unlinks it from
 * sched->pollers. */
static inline int lthread__park_polled(struct lthread__sched *s,
                                       struct lthread *self, void *obj,
                                       uint64_t timeout)
{
    if (!s->pollers.head)
        s->poll_until = 0; /* the first: its time starts when polled */
    lthread__queue_push(&s->pollers, self);
    return lthread__park(s, self, LTHREAD__WAIT_POLL, obj, timeout);
}

/* lthread__unpark() of an lthread with a timer (timer.c): out of line, so
 * that the untimed wake calls nothing and its callers keep no frame. */
void lthread__unpark_timed(struct lthread__sched *s, struct lthread *lt,
                           int result);

/* Wakes a WAITING lthread with `result`: stops its timer and queues it.
 * The caller has already unlinked it from what it waited on. A parked
 * lthread's result is already 0 (lthread__park), so a wake with a
 * constant 0 (most: a cond's signal, a join's exit) stores none; its
 * wait_obj is left as it was (read only while it waits, or with an
 * outcome held, which sets it: lthread__outcome_hold). Two instructions
 * of every cond hand-off. */
static inline __attribute__((always_inline)) void
lthread__unpark(struct lthread__sched *s, struct lthread *lt, int result)
{
    if (lt->flags & LTHREAD__F_TIMER) {
        lthread__unpark_timed(s, lt, result);
        return;
    }
    LTHREAD__CHECK(lt->state == LTHREAD__WAITING && lt->wake_result == 0,
                   "a parked lthread's result is 0 until it is woken");
    lt->wait = LTHREAD__WAIT_NONE;
    if (!__builtin_constant_p(result) || result != 0)
        lt->wake_result = (int16_t)result;
    lthread__ready(s, lt);
}

static inline void lthread__join_exited(struct lthread__sched *s,
                                        struct lthread *lt)
{
    struct lthread *j = lt->joiner;

    LTHREAD__CHECK(j->wait == LTHREAD__WAIT_JOIN && j->wait_obj == lt,
                   "an lthread's joiner waits in join on it");
    lthread__unpark(s, j, 0);
    /* Until j runs, the pair stays tied both ways (its wait_obj still
     * names lt), so that destroying either side can untie it
     * (lthread_destroy). */
    lthread__outcome_hold(j, LTHREAD__DONE_JOIN);
}

/* ---- region.c --------------------------------------------------------- */

/* Reads the region knobs (LTHREAD_REGIONS) into a new scheduler. */
void lthread__regions_init(struct lthread__sched *s);
/* Remakes the regions of s (none bound) at `size` bytes; on -ENOMEM they
 * stay as they were. */
int lthread__regions_resize(struct lthread__sched *s, size_t size);
/* Unmaps every region of s. */
void lthread__regions_free(struct lthread__sched *s);

/* Makes sure s has at least one shared region, so that binding at first
 * run cannot fail. Returns 0 or -ENOMEM. */
int lthread__regions_reserve(struct lthread__sched *s);

/* Gives lt a private stack of `size` bytes (0: the region size) at
 * creation. Returns 0, -EINVAL or -ENOMEM. */
int lthread__region_private(struct lthread__sched *s, struct lthread *lt,
                            size_t size);

/* First run of lt (lt->sp still NULL): binds it to a region unless it has
 * one, builds its first frame and makes it the region's owner. Returns 0,
 * -EAGAIN (the owner computes: lt now waits on the region's waiters),
 * -ENOMEM (the owner's image could not be saved; try again later) or,
 * when !may_copy, -EBUSY if the region has another owner (lt stays
 * bound, ready to be started later). */
int lthread__region_start(struct lthread__sched *s, struct lthread *lt,
                          bool may_copy);

/*
 * Makes lt's frames present in its region, saving the current owner's
 * image first. Returns 0, -EAGAIN when the owner is away computing (lt is
 * then queued on the region's waiters) or -ENOMEM when the owner's image
 * cannot be saved.
 */
int lthread__region_enter(struct lthread__sched *s, struct lthread *lt);
/* lthread__region_enter() for a hand-over between region-mates, run by
 * lthread__switch_via on a borrowed stack (arg: lt, the mate to run): the
 * region's owner is the lthread that just switched out (not COMPUTE), lt's
 * frames are saved. Returns lt's sp, its frames in place; when the
 * owner's image cannot grow (ENOMEM: nothing changed), what
 * lthread__mate_undo() returns. */
void *lthread__region_swap(void *arg);
/* The same under valgrind (memcheck's requests made). */
void *lthread__region_swap_valgrind(void *arg);
/* The hand-over to region-mate lt undone (sched.c): lt first in the ready
 * queue again, the owner current again; returns the scheduler's sp (the
 * owner switched out to the scheduler, which deals with the shortage). */
void *lthread__mate_undo(struct lthread__sched *s, struct lthread *lt);

/* lthread__region_leave's work, when there is some (region.c). */
void lthread__region_release(struct lthread__sched *s, struct lthread *lt);

/* lthread__region_release() of lt bound to a shared region (not
 * private) with no image and none saved: the exit's case, inline. `owns`
 * (a constant): lt is known to own r, as an exiting lthread does (its
 * stack is there): r's owner is cleared without a look (3 instructions of
 * every exit: a compare, a branch out of line and one back). */
static inline __attribute__((always_inline)) void
lthread__region_release_shared(struct lthread__sched *s, struct lthread *lt,
                               bool owns)
{
    struct lthread__region *r = lt->region;

    LTHREAD__CHECK(!lt->image && !r->is_private &&
                       (lt->flags & (LTHREAD__F_BOUND | LTHREAD__F_SAVED |
                                     LTHREAD__F_PRIVATE)) == LTHREAD__F_BOUND,
                   "a plain release: a shared region, no image");
    LTHREAD__CHECK(!owns || r->owner == lt,
                   "a running lthread owns its shared region");
    lt->flags &= (uint8_t)~LTHREAD__F_BOUND;
    lt->region = NULL;
    if (owns || r->owner == lt)
        r->owner = NULL;
    if (--r->nbound == 0)
        s->region_free = r; /* the next start's (lthread__region_start_fast) */
}

/* lt is gone for good (exited or destroyed): release its region and its
 * image. Nothing to do, and no call, for an lthread that holds neither
 * (most: an exited lthread left its region when it was buried). */
static inline void lthread__region_leave(struct lthread__sched *s,
                                         struct lthread *lt)
{
    if (lt->image || (lt->flags & (LTHREAD__F_BOUND | LTHREAD__F_SAVED)))
        lthread__region_release(s, lt);
}

/* Requeues the lthreads that waited for region r's owner to come back. */
void lthread__region_wake_waiters(struct lthread__sched *s,
                                  struct lthread__region *r);

/* ---- io.c ------------------------------------------------------------- */

/* Creates the poller of a scheduler. Returns 0 or a negative errno. */
int lthread__io_init(struct lthread__sched *s);
void lthread__io_free(struct lthread__sched *s);

/* With LTHREAD__POLL_IN/_OUT in lthread__io_wait()'s `events`: the caller
 * parks on the drained hint, without a failed attempt (see struct
 * lthread__fd). Also kept in io_events while parked, with _SEEN once a
 * sweep has found it parked. */
#define LTHREAD__IO_HINTED 0x40u
#define LTHREAD__IO_SEEN 0x80u

/* Re-checks the registration of fds whose hint-parked waiters have waited
 * since the previous sweep; call when now >= s->hint_sweep_at. */
void lthread__io_sweep(struct lthread__sched *s, uint64_t now);

/*
 * Parks self until fd is ready for `events` (LTHREAD__POLL_IN or _OUT) or
 * timeout ms pass (0: never). Returns 0 when ready (also at once for a
 * regular file, which the poller refuses and which is always ready),
 * LTHREAD__TIMEDOUT on timeout, -EBADF when the fd is closed by
 * lthread_close() meanwhile, or a negative errno from registering it. Other
 * lthreads may wait on the same fd and direction.
 */
int lthread__io_wait(struct lthread__sched *s, struct lthread *self, int fd,
                     unsigned events, uint64_t timeout);
/* lthread__io_wait() bounded by the socket's own SO_RCVTIMEO/SO_SNDTIMEO
 * (lthread__io_sock_timeout), read once the fd's registration is known to
 * be this file's (a number reused outside the library must not keep the
 * old socket's timeouts). Sets *deadline_ns to when that timeout ends, or
 * to 1 when the socket has none. */
int lthread__io_wait_sock(struct lthread__sched *s, struct lthread *self,
                          int fd, unsigned events, uint64_t *deadline_ns);

/* Waits in the poller up to timeout_ns (negative: forever) and wakes the
 * lthreads whose fds are ready. */
void lthread__io_poll(struct lthread__sched *s, int64_t timeout_ns);

/* Calls fn for every lthread waiting on an fd of s, each once
 * (introspection); stops at fn's first non-zero result and returns it. */
int lthread__io_each_waiter(struct lthread__sched *s,
                            int (*fn)(struct lthread *lt, void *arg),
                            void *arg);

/* fd is going away (lthread_close): wakes its waiters with -EBADF (an
 * lthread_poll() waiter with 0: its poll(2) reports POLLNVAL), unregisters
 * it and clears its flags. s may be NULL. */
void lthread__io_forget(struct lthread__sched *s, int fd);

/*
 * fd was just created by the library (socket, accept, pipe): resets its
 * entry, which may be stale if its number was closed with close(2), and
 * sets its flags to `flags`. No syscall: the kernel dropped the old
 * registration with the old file (or keeps it keyed to that file).
 */
void lthread__io_fd_new(struct lthread__sched *s, int fd, unsigned flags);

/*
 * Makes sure the flags in `want` (LTHREAD__FD_NONBLOCK: set O_NONBLOCK;
 * LTHREAD__FD_KNOWN: learn the kind) hold for fd, caching them. Returns
 * the fd's flags, or a negative errno (-EBADF for a bad fd). The slow path
 * of the inline check in socket.c.
 */
int lthread__io_fd_prep(struct lthread__sched *s, int fd, unsigned want);

/* The socket's own SO_RCVTIMEO (dir LTHREAD__POLL_IN) or SO_SNDTIMEO in ms,
 * 0 for none or a non-socket; read once per fd and cached. */
uint64_t lthread__io_sock_timeout(struct lthread__sched *s, int fd,
                                  unsigned dir);

/*
 * Parks self until one of the n fds is ready for its pollfd events, an
 * error or hang-up happens on one, one is closed by lthread_close(), or
 * timeout ms pass (0: never). fds is only read before parking. Returns 0,
 * LTHREAD__TIMEDOUT, or a negative errno (-ENOMEM, or from registering).
 */
int lthread__io_wait_many(struct lthread__sched *s, struct lthread *self,
                          const struct pollfd *fds, nfds_t n, uint64_t timeout);

/* ---- src/disk/: the scheduler loop's hooks --------------------------- */

/* Once a round, while s->ndisk: hands the requests queued this round to
 * the kernel or the I/O pthreads, and wakes the lthreads whose requests
 * are done (no wait). */
void lthread__disk_round(struct lthread__sched *s);
/* lthread__io_poll() for a scheduler with disk requests in flight: also
 * returns when one completes. */
void lthread__disk_poll(struct lthread__sched *s, int64_t timeout_ns);
/* The scheduler is finishing (s->ndisk is 0): frees its disk state. */
void lthread__disk_free(struct lthread__sched *s);
/* Calls fn for every lthread of s waiting in a disk call (introspection);
 * stops at fn's first non-zero result and returns it. */
int lthread__disk_each_waiter(struct lthread__sched *s,
                              int (*fn)(struct lthread *lt, void *arg),
                              void *arg);
/* The fd of the disk request lt waits on (-1: none, as for a stat). */
int lthread__disk_fd(const struct lthread *lt);

/* ---- src/sync/ ------------------------------------------------------ */

/* The scheduler is finishing: frees its cached wait groups. */
void lthread__sync_sched_free(struct lthread__sched *s);

/* ---- cond.c ----------------------------------------------------------- */

/* Calls fn for every lthread waiting on a cond of s (introspection);
 * stops at fn's first non-zero result and returns it. */
int lthread__cond_each_waiter(struct lthread__sched *s,
                              int (*fn)(struct lthread *lt, void *arg),
                              void *arg);

/* Teardown after a deadlock: frees every lthread waiting on a cond of s. */
void lthread__cond_abandon(struct lthread__sched *s);

/* ---- compute.c -------------------------------------------------------- */

/* Set once any entry function has been learned: until then a new
 * lthread's start looks nothing up (the lookup hashes fn, some 17
 * instructions and a call on every create). */
extern __attribute__((
    visibility("hidden"))) _Atomic bool lthread__compute_learned_any;
/* Non-zero once every start must take region.c's path, for a reason of the
 * whole process: under valgrind (whose memcheck is told of the first
 * frame's bytes there: a call to its request from the inline start cost a
 * saved register and a frame natively, 6 instructions per create + run +
 * join), or once an entry function has been learned to compute (the start
 * looks fn up). One load per start for both (region.c; set before main, or
 * with lthread__compute_learned_any). */
extern __attribute__((
    visibility("hidden"))) _Atomic unsigned char lthread__start_slow;
bool lthread__compute_lookup(lthread_func fn);

/* True once an lthread running fn has entered a compute section. */
static inline bool lthread__compute_learned(lthread_func fn)
{
    return atomic_load_explicit(&lthread__compute_learned_any,
                                memory_order_relaxed) &&
           lthread__compute_lookup(fn);
}

/* lt switched out to enter a compute section (state COMPUTE): hands it to
 * a compute pthread. Runs on lt's scheduler. */
void lthread__compute_submit(struct lthread__sched *s, struct lthread *lt);

/* Sets errno from a negative internal result and returns -1 (or -2 for
 * a timeout, as the seed's API does). */
static inline int lthread__fail(int err)
{
    if (err == LTHREAD__TIMEDOUT) {
        errno = ETIMEDOUT;
        return -2;
    }
    errno = -err;
    return -1;
}

/* lthread__fail() out of line (lthread.c), for a wait that failed: its
 * callers keep no register for the error across the call that sets
 * errno. */
int lthread__fail_cold(int err);

#endif /* LTHREAD_INT_H */
