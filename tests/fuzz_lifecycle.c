/*
 * A lifecycle fuzzer: seeded random sequences of lthread calls, each one
 * checked against a model of what it must return.
 *
 *   fuzz_lifecycle [-v] SEED
 *       runs one seed in this process, under the LTHREAD_REGIONS of the
 *       environment (the command line a failure prints); -v traces every
 *       action;
 *   fuzz_lifecycle [-n SEEDS] [-s FIRST] [-j JOBS] [-r 1|2|default] [-c] [-v]
 *                  [-x] [-w SECONDS] [-K SEED,...]
 *       runs SEEDS seeds from FIRST (default 300 from 1), each in a child
 *       process, under LTHREAD_REGIONS=1, =2 and unset in turn (or the one
 *       -r names), JOBS at a time (default 4); prints every failure with
 *       its output and the command that reproduces it, with -c how often
 *       the seeds reached each state, and as the last line
 *       "fuzz_lifecycle: N passed, N failed", counting seeds. -x stops at
 *       the first failure, -w sets the per-seed watchdog (default 20 s
 *       times LTHREAD_TEST_SLOW), -K skips the seeds listed
 *       (tests/mutants.sh skips those that fail without a mutant).
 *   -m  in either form: the multi-scheduler mode (fuzz_multi.h), 2 or 3
 *       schedulers and a plain pthread acting on each other's lthreads,
 *       conds, mutexes and channels; -D adds the actions that hit the
 *       defects it found (tests/README.md).
 *
 * One lthread, the controller, draws actions from the seed; the others are
 * puppets that run one command at a time, handed over through a condition
 * variable of their own (their mailbox): sleep, wait on a shared condition
 * variable, join, read or poll a pipe or socket, a compute section, exit
 * (inside a compute section too), detach, create a child. The controller
 * also acts on them: destroy, wakeup, signal and broadcast, writes and
 * closes, joins of its own. Every pthread's scheduler is torn down and made
 * again between epochs (one or two per seed).
 *
 * The model knows what each puppet is doing and which outcomes may end its
 * call now, and the puppet checks its own result when the call returns.
 * What depends on timing is allowed for, never guessed: a short timeout may
 * expire or not, a compute section ends when it ends (destroy may then see
 * EBUSY or 0). But a wait that nothing released must not end, a released
 * one must end by the next quiescent point (nothing computing, every ready
 * lthread run), a reader must not stay parked on readable data then, and
 * the run ends with every puppet finished (lthread_run() returns 0), or,
 * when the seed leaves puppets waiting forever on purpose, with EDEADLK.
 * Pointers are never used after the model says they were freed: a failure
 * is the library's, or the model's (then fix the model, not the check).
 */
#include <lthread.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ACTORS 40   /* puppet slots per epoch, never reused */
#define MAX_LIVE 24     /* puppets alive at once */
#define NCONDS 3        /* shared conds; only cond 0 sees short timeouts */
#define NCHANS 3        /* pipes and sockets, made at the start of an epoch */
#define NFNS 64         /* distinct entry functions (compute learning) */
#define LONG_MS 100000u /* a timeout or sleep that never expires here */
#define CTRL MAX_ACTORS /* the controller, as a joiner */
#define NOBODY (-1)
#define SENTINEL ((void *)(uintptr_t)0x5e5e5e5e)

/* ---- the run ------------------------------------------------------------ */

static struct {
    uint64_t seed;
    const char *regions; /* LTHREAD_REGIONS, or NULL: unset */
    const char *argv0;
    bool verbose;
    bool multi;   /* -m: several schedulers (fuzz_multi.h) */
    bool defects; /* -D: -m also does what hits the known defect */
    int epoch;
    int step;
    long slow;
} run;

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* splitmix64: each step draws from its own stream, so that a step which
 * found the model in another state does not shift every later one. */
struct rng {
    uint64_t s;
};

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rnd(struct rng *r)
{
    return mix(r->s += 0x9e3779b97f4a7c15ull);
}

static unsigned below(struct rng *r, unsigned n)
{
    return n ? (unsigned)(rnd(r) % n) : 0;
}

static bool pct(struct rng *r, unsigned p)
{
    return below(r, 100) < p;
}

static struct rng rng_for(int epoch, int step)
{
    struct rng r = {mix(run.seed * 0x9e3779b97f4a7c15ull +
                        (uint64_t)epoch * 1000003u + (uint64_t)step + 1)};
    return r;
}

/* ---- trace and failure -------------------------------------------------- */

#define TRACE_LINES 64
#define TRACE_LEN 128
static char trace_ring[TRACE_LINES][TRACE_LEN];
static unsigned trace_n;
/* With several schedulers (-m): who traces (a scheduler's pthread, the
 * plain pthread), at which step of its own; the ring is then written under
 * the model's lock. */
static __thread const char *trace_tag;
static __thread int trace_step;
/* Run first by a failure (-m: takes the model's lock and describes the
 * puppets), and by the watchdog (-m: describes them, unlocked). */
static void (*fail_hook)(void);
static void (*alarm_hook)(void);

static void tracef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tracef(const char *fmt, ...)
{
    char *line = trace_ring[trace_n++ % TRACE_LINES];
    va_list ap;
    int n;

    if (run.multi)
        n = snprintf(line, TRACE_LEN,
                     "%s %d: ", trace_tag ? trace_tag : "compute", trace_step);
    else
        n = snprintf(line, TRACE_LEN, "e%d s%d: ", run.epoch, run.step);
    va_start(ap, fmt);
    vsnprintf(line + n, (size_t)(TRACE_LEN - n), fmt, ap);
    va_end(ap);
    if (run.verbose)
        printf("  %s\n", line);
}

static void dump_trace(int fd)
{
    unsigned first = trace_n > TRACE_LINES ? trace_n - TRACE_LINES : 0;

    if (!trace_n)
        return;
    dprintf(fd, "  last %u actions (-v prints all):\n", trace_n - first);
    for (unsigned i = first; i < trace_n; i++)
        dprintf(fd, "    %s\n", trace_ring[i % TRACE_LINES]);
}

static void print_repro(FILE *f, uint64_t seed, const char *regions)
{
    const char *asan = getenv("ASAN_OPTIONS");
    const char *ubsan = getenv("UBSAN_OPTIONS");

    fprintf(f, "  reproduce: %s", regions ? "" : "env -u LTHREAD_REGIONS ");
    if (regions)
        fprintf(f, "LTHREAD_REGIONS=%s ", regions);
    if (asan)
        fprintf(f, "ASAN_OPTIONS=%s ", asan);
    if (ubsan)
        fprintf(f, "UBSAN_OPTIONS=%s ", ubsan);
    fprintf(f, "%s %s%s%llu\n", run.argv0, run.multi ? "-m " : "",
            run.defects ? "-D " : "", (unsigned long long)seed);
}

static void failf(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
    va_list ap;

    if (fail_hook)
        fail_hook();
    fflush(stdout);
    if (run.multi)
        fprintf(
            stderr, "FAILED: seed %llu (-m), LTHREAD_REGIONS=%s, %s step %d: ",
            (unsigned long long)run.seed, run.regions ? run.regions : "unset",
            trace_tag ? trace_tag : "compute", trace_step);
    else
        fprintf(stderr,
                "FAILED: seed %llu, LTHREAD_REGIONS=%s, epoch %d, step %d: ",
                (unsigned long long)run.seed,
                run.regions ? run.regions : "unset", run.epoch, run.step);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    dump_trace(2);
    print_repro(stderr, run.seed, run.regions);
    fflush(stderr);
    _exit(1);
}

static void on_alarm(int sig)
{
    static const char msg[] = "FAILED: watchdog: the seed hangs\n";

    (void)sig;
    (void)!write(2, msg, sizeof(msg) - 1);
    if (alarm_hook)
        alarm_hook();
    dump_trace(2);
    _exit(2);
}

/* ---- coverage ------------------------------------------------------------ */

/* What the seeds did, summed over the children (shared memory): printed at
 * the end, so that a change that makes the fuzzer stop reaching a state
 * shows. */
enum stat_id {
    ST_EPOCHS,
    ST_DEADLOCKS,
    ST_CREATED,
    ST_NEVER_RAN,
    ST_DESTROYED,
    ST_DESTROY_BUSY,
    ST_DESTROY_WOKEN_JOINER,
    ST_DESTROY_JOINED_ZOMBIE,
    ST_SLEEPS,
    ST_WOKEN,
    ST_COND_OK,
    ST_COND_TIMEOUT,
    ST_JOIN_OK,
    ST_JOIN_TIMEOUT,
    ST_JOIN_CANCELED,
    ST_JOIN_CTRL,
    ST_READ_DATA,
    ST_READ_EOF,
    ST_READ_TIMEOUT,
    ST_READ_EBADF,
    ST_WAITRD,
    ST_POLL,
    ST_COMPUTE,
    ST_COMPUTE_EXIT,
    ST_EXIT,
    ST_DETACH,
    ST_SPAWN,
    ST_QUIESCE,
    ST_MAX_BLOCKED,
    /* -m */
    ST_MC_SCHEDS,
    ST_MC_PLAIN,
    ST_MC_XWAKE,
    ST_MC_XWOKEN,
    ST_MC_XDESTROY,
    ST_MC_XDESTROY_COMPUTING,
    ST_MC_XSIGNAL,
    ST_MC_COND_OK,
    ST_MC_COND_TIMEOUT,
    ST_MC_MUST_WAKE,
    ST_MC_XJOIN_OK,
    ST_MC_XJOIN_TIMEOUT,
    ST_MC_XJOIN_CANCELED,
    ST_MC_JOIN_CANCELED,
    ST_MC_MUTEX_HELD,
    ST_MC_MUTEX_BUSY,
    ST_MC_MUTEX_GHOST,
    ST_MC_SENT,
    ST_MC_RECEIVED,
    ST_MC_CHAN_TIMEOUT,
    ST_MC_EPIPE,
    ST_MC_CLOSES,
    ST_MC_SELECTS,
    ST_MC_LOSSY,
    ST_MC_COMPUTE_MUTEX,
    ST_MC_DEADLOCKS,
    NSTATS
};

static const char *stat_names[NSTATS] = {"epochs",
                                         "EDEADLK ends",
                                         "created",
                                         "never ran",
                                         "destroyed",
                                         "destroy EBUSY",
                                         "destroyed woken joiners",
                                         "destroyed joined zombies",
                                         "sleeps",
                                         "woken",
                                         "cond 0",
                                         "cond -2",
                                         "join 0",
                                         "join -2",
                                         "join ECANCELED",
                                         "controller joins",
                                         "reads",
                                         "EOFs",
                                         "read -2",
                                         "read EBADF",
                                         "wait_reads",
                                         "polls",
                                         "compute sections",
                                         "returns in compute",
                                         "exits",
                                         "detaches",
                                         "spawns",
                                         "quiescent checks",
                                         "most blocked at once",
                                         "-m: schedulers",
                                         "plain pthreads",
                                         "wakeups from elsewhere",
                                         "sleeps cut by them",
                                         "destroys from elsewhere",
                                         "of computing lthreads",
                                         "signals from elsewhere",
                                         "cond 0",
                                         "cond -2",
                                         "signals that had to wake",
                                         "joins across 0",
                                         "joins across -2",
                                         "joins across ECANCELED",
                                         "joins ECANCELED",
                                         "mutex holds",
                                         "mutex busy",
                                         "mutex waiters destroyed",
                                         "values sent",
                                         "values received",
                                         "chan -2",
                                         "chan EPIPE",
                                         "chan closes",
                                         "selects",
                                         "receivers destroyed",
                                         "mutex in compute",
                                         "EDEADLK ends"};

static unsigned long local_stats[NSTATS];
static unsigned long *stats = local_stats;

static void count(enum stat_id st)
{
    __atomic_add_fetch(&stats[st], 1, __ATOMIC_RELAXED);
}

/* The counters of this mode: up to "most blocked at once", or the -m
 * ones after it. */
static void print_stats(void)
{
    int first = run.multi ? ST_MC_SCHEDS : 0;
    int end = run.multi ? NSTATS : ST_MC_SCHEDS;

    printf("coverage:");
    for (int i = first; i < end; i++)
        printf("%s %s %lu", i > first ? "," : "", stat_names[i], stats[i]);
    printf("\n");
}

/* ---- the model ---------------------------------------------------------- */

enum st {
    S_UNUSED,
    S_SPAWNING, /* a puppet was told to create it, and has not yet */
    S_ALIVE,
    S_ZOMBIE, /* exited, not joined */
    S_GONE,   /* joined, destroyed, or exited detached: freed */
};

/* A command, and what a puppet is doing (op). */
enum kind {
    K_IDLE, /* in its mailbox wait (or not run yet) */
    K_SLEEP,
    K_COND,
    K_JOIN,
    K_READ,
    K_WAITRD,
    K_POLL,
    K_COMPUTE,
    K_COMPUTE_EXIT, /* returns from its function inside the section */
    K_EXIT,
    K_RETURN,
    K_DETACH,
    K_SPAWN,
    K_SELF,
    K_NKINDS
};

static const char *kind_names[K_NKINDS] = {
    "idle",      "sleep",  "cond_wait", "join",           "read",
    "wait_read", "poll",   "compute",   "compute+return", "exit",
    "return",    "detach", "spawn",     "self-checks"};

enum tclass { T_NONE, T_SHORT, T_LONG };
static const char *tc_names[] = {"no timeout", "short timeout", "long timeout"};

/* Outcomes of a wait (join, cond, sleep), as bits. */
#define O_OK 1u
#define O_TIMEOUT 2u
#define O_CANCELED 4u

struct cmd {
    enum kind kind;
    int arg;  /* cond, chan, join target, spawned slot */
    int arg2; /* second chan of a poll (-1 none); spawn attributes */
    enum tclass tc;
    unsigned ms; /* sleep length or short timeout */
    unsigned n;  /* read length, compute microseconds, poll variant */
};

/* Spawn attributes (cmd.arg2 of K_SPAWN, and creation generally). */
#define AT_DETACHED 1
#define AT_PRIVATE 2
#define AT_EX 4

struct actor {
    int idx;
    enum st st;
    lthread_t *lt;
    lthread_cond_t *mailbox;
    int fn;
    unsigned attrs;
    bool detached;
    /* Will free itself at a time the model cannot know (a detached
     * puppet told to exit): never named again. */
    bool untouchable;
    bool ran;
    bool has_cmd;
    struct cmd cmd; /* the posted command, until taken */
    enum kind op;   /* what it does now */
    struct cmd opc; /* with these parameters */
    unsigned allow; /* outcomes that may end its wait now */
    bool released;  /* something the model did must end its wait */
    unsigned released_tick;
    bool woken; /* lthread_wakeup() during its sleep */
    bool cexit_pending;
    int joiner;        /* who waits in lthread_join() on it, or NOBODY */
    bool joiner_short; /* that join has a short timeout: may be over */
    int reserved_by;   /* a puppet told to join it, not started yet */
    void *exit_value;
};

struct chan {
    int kind; /* CH_* */
    int rd, wr;
    bool rd_open, wr_open;
    uint64_t written, readoff;
    unsigned char salt;
};

enum { CH_PIPE, CH_UNIX, CH_TCP };
static const char *ch_names[] = {"pipe", "unix", "tcp"};

static struct world {
    struct actor a[MAX_ACTORS];
    int nactors;
    lthread_cond_t *cond[NCONDS];
    int cq[NCONDS][MAX_ACTORS]; /* each cond's waiters, oldest first */
    int ncq[NCONDS];
    struct chan ch[NCHANS];
    lthread_t *ctrl;
    int nsteps;
    bool abandon; /* end by leaving puppets waiting forever: EDEADLK */
    bool ctrl_done;
    bool expect_deadlock;
    int computing; /* K_COMPUTE sections begun and not reported */
    int cexits;    /* K_COMPUTE_EXIT not yet seen to end */
    unsigned tick; /* the controller's resumptions */
    unsigned compute_end_tick;
    int target_live; /* how many puppets the controller keeps */
} W;

static const char *tmo_name(const struct cmd *c)
{
    return tc_names[c->tc];
}

static uint64_t tmo_ms(const struct cmd *c)
{
    return c->tc == T_NONE ? 0 : c->tc == T_SHORT ? c->ms : LONG_MS;
}

static bool touchable(const struct actor *a)
{
    return (a->st == S_ALIVE || a->st == S_ZOMBIE) && !a->untouchable;
}

static bool is_exit_kind(enum kind k)
{
    return k == K_EXIT || k == K_RETURN || k == K_COMPUTE_EXIT;
}

/* Will exit without anything more from the controller. */
static bool exiting(const struct actor *a)
{
    return a->st == S_ALIVE && ((a->has_cmd && is_exit_kind(a->cmd.kind)) ||
                                a->op == K_COMPUTE_EXIT);
}

static bool idle(const struct actor *a)
{
    return a->st == S_ALIVE && !a->untouchable && !a->has_cmd &&
           a->op == K_IDLE;
}

static void describe(const struct actor *a, char *buf, size_t len)
{
    static const char *st_names[] = {"unused", "spawning", "alive", "zombie",
                                     "gone"};

    snprintf(buf, len, "p%d %s%s%s, %s", a->idx, st_names[a->st],
             a->detached ? " detached" : "",
             a->untouchable ? " untouchable" : "", kind_names[a->op]);
    if (a->op == K_JOIN || a->op == K_COND || a->op == K_READ ||
        a->op == K_WAITRD || a->op == K_POLL)
        snprintf(buf + strlen(buf), len - strlen(buf), " %d (%s)", a->opc.arg,
                 tmo_name(&a->opc));
    if (a->has_cmd)
        snprintf(buf + strlen(buf), len - strlen(buf), ", told to %s",
                 kind_names[a->cmd.kind]);
    if (a->released)
        snprintf(buf + strlen(buf), len - strlen(buf), ", released at tick %u",
                 a->released_tick);
}

static void release(struct actor *a, unsigned outcome)
{
    a->allow |= outcome;
    if (!a->released) {
        a->released = true;
        a->released_tick = W.tick;
    }
}

static void cq_push(int k, int idx)
{
    W.cq[k][W.ncq[k]++] = idx;
}

static void cq_remove(int k, int idx)
{
    for (int i = 0; i < W.ncq[k]; i++) {
        if (W.cq[k][i] == idx) {
            memmove(&W.cq[k][i], &W.cq[k][i + 1],
                    (size_t)(W.ncq[k] - i - 1) * sizeof(int));
            W.ncq[k]--;
            return;
        }
    }
}

static bool cq_has_short(int k)
{
    for (int i = 0; i < W.ncq[k]; i++)
        if (W.a[W.cq[k][i]].opc.tc == T_SHORT)
            return true;
    return false;
}

static unsigned char pattern(const struct chan *c, uint64_t off)
{
    return (unsigned char)(c->salt + off * 13 + (off >> 8));
}

static bool readable(const struct chan *c)
{
    return c->rd_open && (c->written > c->readoff || !c->wr_open);
}

static const char *outcome_name(unsigned o)
{
    return o == O_OK ? "0" : o == O_TIMEOUT ? "-2/ETIMEDOUT" : "-1/ECANCELED";
}

static void allowed_names(unsigned allow, char *buf, size_t len)
{
    buf[0] = 0;
    if (!allow)
        snprintf(buf, len, "it to stay blocked");
    for (unsigned o = O_OK; o <= O_CANCELED; o <<= 1)
        if (allow & o)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
                     buf[0] ? " or " : "", outcome_name(o));
}

/* ---- puppets ------------------------------------------------------------ */

static lthread_func puppet_fns[NFNS];

/* The puppet functions are numbered 10..17, 20..27, ..., 80..87. */
static int fn_number(int i)
{
    return (i / 8 + 1) * 10 + i % 8;
}

/* Checks that the puppet now running is one the model expects to run. */
static void check_resumed(struct actor *a, const char *where)
{
    if (a->st != S_ALIVE)
        failf("p%d runs (%s) although the model says it is %s", a->idx, where,
              a->st == S_GONE ? "freed" : "not alive");
    if (lthread_current() != a->lt)
        failf("p%d (%s): lthread_current() is %p, not %p", a->idx, where,
              (void *)lthread_current(), (void *)a->lt);
    if (a->ran && lthread_get_data() != a)
        failf("p%d (%s): lthread_get_data() is %p, not %p", a->idx, where,
              lthread_get_data(), (void *)a);
}

/* Ends a wait with a result of the outcome kind `out` (0: none). */
static void end_wait(struct actor *a, const char *what, int r, int e,
                     unsigned out, double t0)
{
    char want[64];

    if (!out)
        failf("p%d: %s returned %d (errno %d %s)", a->idx, what, r, e,
              strerror(e));
    if (!(a->allow & out)) {
        allowed_names(a->allow, want, sizeof(want));
        failf("p%d: %s returned %s after %.2f ms; the model expects %s", a->idx,
              what, outcome_name(out), now_ms() - t0, want);
    }
    if (out == O_TIMEOUT && now_ms() - t0 + 0.01 < (double)tmo_ms(&a->opc))
        failf("p%d: %s timed out after %.3f ms, before its %llu ms", a->idx,
              what, now_ms() - t0, (unsigned long long)tmo_ms(&a->opc));
}

static unsigned outcome_of(int r, int e)
{
    if (r == 0)
        return O_OK;
    if (r == -2 && e == ETIMEDOUT)
        return O_TIMEOUT;
    if (r == -1 && e == ECANCELED)
        return O_CANCELED;
    return 0;
}

static void op_sleep(struct actor *a)
{
    unsigned ms = a->opc.ms;
    double t0 = now_ms(), dt;
    int r, e;

    a->allow = ms == LONG_MS ? 0 : O_OK;
    a->woken = false;
    tracef("p%d sleeps %u ms", a->idx, ms);
    r = lthread_sleep(ms);
    e = errno;
    dt = now_ms() - t0;
    check_resumed(a, "after lthread_sleep");
    if (r != 0)
        failf("p%d: lthread_sleep(%u) returned %d (errno %d)", a->idx, ms, r,
              e);
    if (!(a->allow & O_OK))
        failf("p%d: lthread_sleep(%u) returned after %.1f ms without a "
              "wakeup",
              a->idx, ms, dt);
    if (!a->woken && dt + 0.01 < (double)ms)
        failf("p%d: lthread_sleep(%u) returned after %.3f ms without a "
              "wakeup",
              a->idx, ms, dt);
    tracef("p%d slept %.1f ms%s", a->idx, dt, a->woken ? " (woken)" : "");
    count(a->woken ? ST_WOKEN : ST_SLEEPS);
}

static void op_cond(struct actor *a)
{
    int k = a->opc.arg;
    double t0 = now_ms();
    unsigned out;
    int r, e;

    a->allow = a->opc.tc == T_SHORT ? O_TIMEOUT : 0;
    cq_push(k, a->idx);
    tracef("p%d waits on cond %d (%s)", a->idx, k, tmo_name(&a->opc));
    r = lthread_cond_wait(W.cond[k], tmo_ms(&a->opc));
    e = errno;
    check_resumed(a, "after lthread_cond_wait");
    out = outcome_of(r, e);
    end_wait(a, "lthread_cond_wait", r, e, out == O_CANCELED ? 0 : out, t0);
    if (out == O_TIMEOUT)
        cq_remove(k, a->idx);
    count(out == O_OK ? ST_COND_OK : ST_COND_TIMEOUT);
    tracef("p%d: cond %d wait returned %s", a->idx, k, outcome_name(out));
}

static void op_join(struct actor *a)
{
    struct actor *t = &W.a[a->opc.arg];
    double t0 = now_ms();
    void *v = SENTINEL;
    unsigned out;
    int r, e;

    if (t->reserved_by != a->idx || !touchable(t) || t->detached ||
        t->joiner != NOBODY)
        failf("fuzzer bug: p%d joins p%d in a state it was not told to", a->idx,
              t->idx);
    t->reserved_by = NOBODY;
    if (t->st == S_ZOMBIE) {
        a->allow = O_OK;
    } else {
        t->joiner = a->idx;
        t->joiner_short = a->opc.tc == T_SHORT;
        a->allow =
            (a->opc.tc == T_SHORT ? O_TIMEOUT : 0) | (exiting(t) ? O_OK : 0);
    }
    tracef("p%d joins p%d (%s)%s", a->idx, t->idx, tmo_name(&a->opc),
           t->st == S_ZOMBIE ? ", which has exited" : "");
    r = lthread_join(t->lt, &v, tmo_ms(&a->opc));
    e = errno;
    check_resumed(a, "after lthread_join");
    out = outcome_of(r, e);
    end_wait(a, "lthread_join", r, e, out, t0);
    tracef("p%d: join of p%d returned %s", a->idx, t->idx, outcome_name(out));
    count(out == O_OK        ? ST_JOIN_OK
          : out == O_TIMEOUT ? ST_JOIN_TIMEOUT
                             : ST_JOIN_CANCELED);
    if (out == O_OK) {
        if (v != t->exit_value)
            failf("p%d: lthread_join(p%d) gave exit value %p, not %p", a->idx,
                  t->idx, v, t->exit_value);
        if (t->cexit_pending) {
            t->cexit_pending = false;
            W.cexits--;
        }
        t->st = S_GONE;
        t->joiner = NOBODY;
    } else if (out == O_TIMEOUT) {
        if (v != SENTINEL)
            failf("p%d: lthread_join(p%d) timed out but wrote *ptr", a->idx,
                  t->idx);
        if (t->joiner == a->idx)
            t->joiner = NOBODY;
    }
}

/* Checks a read's result against the chan: data in stream order, EOF only
 * after the writer closed and everything was read, EBADF only once the
 * reader's end is closed. */
static void check_read(struct actor *a, struct chan *c, const char *what,
                       ssize_t r, int e, const unsigned char *buf, size_t len,
                       double t0)
{
    if (r > 0) {
        if ((size_t)r > len || c->readoff + (uint64_t)r > c->written)
            failf("p%d: %s returned %zd bytes; %llu of %llu were read", a->idx,
                  what, r, (unsigned long long)c->readoff,
                  (unsigned long long)c->written);
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(c, c->readoff + (uint64_t)i))
                failf("p%d: %s: byte %llu of the stream is %u, not %u", a->idx,
                      what, (unsigned long long)(c->readoff + i), buf[i],
                      pattern(c, c->readoff + (uint64_t)i));
        c->readoff += (uint64_t)r;
        count(ST_READ_DATA);
    } else if (r == 0) {
        count(ST_READ_EOF);
        if (c->wr_open || c->readoff != c->written || !c->rd_open)
            failf("p%d: %s returned 0 (EOF) with the writer %s and %llu "
                  "bytes unread",
                  a->idx, what, c->wr_open ? "open" : "closed",
                  (unsigned long long)(c->written - c->readoff));
    } else if (r == -2 && e == ETIMEDOUT) {
        count(ST_READ_TIMEOUT);
        if (a->opc.tc != T_SHORT)
            failf("p%d: %s timed out (%s)", a->idx, what, tmo_name(&a->opc));
        if (now_ms() - t0 + 0.01 < (double)a->opc.ms)
            failf("p%d: %s timed out after %.3f ms, before its %u ms", a->idx,
                  what, now_ms() - t0, a->opc.ms);
    } else if (r == -1 && e == EBADF) {
        count(ST_READ_EBADF);
        if (c->rd_open)
            failf("p%d: %s failed with EBADF on an open fd", a->idx, what);
    } else {
        failf("p%d: %s returned %zd (errno %d %s)", a->idx, what, r, e,
              strerror(e));
    }
}

static void op_read(struct actor *a)
{
    struct chan *c = &W.ch[a->opc.arg];
    unsigned char buf[8];
    size_t len = a->opc.n;
    bool use_recv = c->kind != CH_PIPE && (a->idx + a->opc.ms) % 2;
    double t0 = now_ms();
    ssize_t r;
    int e;

    tracef("p%d %s %zu from chan %d (%s)", a->idx, use_recv ? "recv" : "read",
           len, a->opc.arg, tmo_name(&a->opc));
    if (use_recv)
        r = lthread_recv(c->rd, buf, len, 0, tmo_ms(&a->opc));
    else
        r = lthread_read(c->rd, buf, len, tmo_ms(&a->opc));
    e = errno;
    check_resumed(a, "after a read");
    check_read(a, c, use_recv ? "lthread_recv" : "lthread_read", r, e, buf, len,
               t0);
    tracef("p%d: read of chan %d returned %zd", a->idx, a->opc.arg, r);
}

static void op_waitrd(struct actor *a)
{
    struct chan *c = &W.ch[a->opc.arg];
    double t0 = now_ms();
    int r, e;

    tracef("p%d wait_read chan %d (%s)", a->idx, a->opc.arg, tmo_name(&a->opc));
    r = lthread_wait_read(c->rd, tmo_ms(&a->opc));
    e = errno;
    check_resumed(a, "after lthread_wait_read");
    tracef("p%d: wait_read of chan %d returned %d", a->idx, a->opc.arg, r);
    count(ST_WAITRD);
    if (r == 0) {
        if (!readable(c))
            failf("p%d: lthread_wait_read returned 0 on chan %d, which is "
                  "not readable",
                  a->idx, a->opc.arg);
    } else if (r == -2 && e == ETIMEDOUT) {
        if (a->opc.tc != T_SHORT)
            failf("p%d: lthread_wait_read timed out (%s)", a->idx,
                  tmo_name(&a->opc));
        if (now_ms() - t0 + 0.01 < (double)a->opc.ms)
            failf("p%d: lthread_wait_read timed out early", a->idx);
    } else if (r == -1 && e == EBADF) {
        if (c->rd_open)
            failf("p%d: lthread_wait_read: EBADF on an open fd", a->idx);
    } else {
        failf("p%d: lthread_wait_read returned %d (errno %d %s)", a->idx, r, e,
              strerror(e));
    }
}

/* poll variants (cmd.n) */
#define PV_TWICE 1 /* the first fd twice */
#define PV_ZERO 2  /* timeout 0: look and return */

static void op_poll(struct actor *a)
{
    struct pollfd p[3];
    int chans[3], n = 0, r, e, timeout, ready = 0;
    double t0 = now_ms();

    chans[n] = a->opc.arg;
    p[n++] = (struct pollfd){.fd = W.ch[a->opc.arg].rd, .events = POLLIN};
    if (a->opc.n & PV_TWICE) {
        chans[n] = a->opc.arg;
        p[n++] = (struct pollfd){.fd = W.ch[a->opc.arg].rd, .events = POLLIN};
    }
    if (a->opc.arg2 >= 0) {
        chans[n] = a->opc.arg2;
        p[n++] = (struct pollfd){.fd = W.ch[a->opc.arg2].rd, .events = POLLIN};
    }
    timeout = (a->opc.n & PV_ZERO)  ? 0
              : a->opc.tc == T_NONE ? -1
                                    : (int)tmo_ms(&a->opc);
    tracef("p%d polls %d fds from chan %d, timeout %d", a->idx, n, chans[0],
           timeout);
    r = lthread_poll(p, (nfds_t)n, timeout);
    e = errno;
    check_resumed(a, "after lthread_poll");
    tracef("p%d: poll returned %d", a->idx, r);
    count(ST_POLL);
    if (r < 0)
        failf("p%d: lthread_poll returned %d (errno %d %s)", a->idx, r, e,
              strerror(e));
    for (int i = 0; i < n; i++) {
        struct chan *c = &W.ch[chans[i]];
        short ev = p[i].revents;

        if (ev)
            ready++;
        if (!c->rd_open != !!(ev & POLLNVAL))
            failf("p%d: poll: chan %d is %s but revents is %#x", a->idx,
                  chans[i], c->rd_open ? "open" : "closed", ev);
        if ((ev & POLLIN) && !readable(c))
            failf("p%d: poll: POLLIN on chan %d, which is not readable", a->idx,
                  chans[i]);
        if ((ev & POLLHUP) && c->wr_open)
            failf("p%d: poll: POLLHUP on chan %d, whose writer is open", a->idx,
                  chans[i]);
        if (ev & POLLERR)
            failf("p%d: poll: POLLERR on chan %d", a->idx, chans[i]);
        /* Loopback TCP may deliver later than the model writes; and a
         * poll whose timer fired first does not look again (see the
         * report in tests/README). */
        if (c->kind != CH_TCP && (r > 0 || timeout == 0) && readable(c) &&
            !(ev & (POLLIN | POLLHUP)))
            failf("p%d: poll: chan %d is readable but revents is %#x", a->idx,
                  chans[i], ev);
    }
    if (ready != r)
        failf("p%d: lthread_poll returned %d with %d entries ready", a->idx, r,
              ready);
    if (r == 0 && timeout > 0 && now_ms() - t0 + 0.01 < (double)timeout)
        failf("p%d: lthread_poll timed out early", a->idx);
    if (r == 0 && timeout < 0)
        failf("p%d: lthread_poll without timeout returned 0", a->idx);
    if (r == 0 && timeout == (int)LONG_MS)
        failf("p%d: lthread_poll timed out (long timeout)", a->idx);
}

/* Runs on a compute pthread: of the API, lthread_compute_end() may be
 * called there, and the calls that work from any pthread (wakeup, destroy
 * of another lthread); the others must fail with EPERM. Reads errno in its
 * own frame (see lthread_compute_begin()'s caveat). Returns a mask of the
 * checks that failed. */
static __attribute__((noinline)) unsigned section(unsigned us, bool checks,
                                                  lthread_t *self)
{
    unsigned bad = 0;
    lthread_t *lt;

    if (checks) {
        errno = 0;
        if (lthread_sleep(1) != -1 || errno != EPERM)
            bad |= 1;
        errno = 0;
        if (lthread_compute_begin() != -1 || errno != EDEADLK)
            bad |= 2;
        errno = 0;
        if (lthread_create(&lt, puppet_fns[0], NULL) != -1 || errno != EPERM)
            bad |= 4;
        errno = 0;
        if (lthread_join(self, NULL, 1) != -1 || errno != EPERM)
            bad |= 8;
        errno = 0;
        /* (Destroy and wakeup work from any pthread; on itself a destroy
         * is refused, and a wakeup finds no sleep to end.) */
        if (lthread_destroy(self) != -1 || errno != EDEADLK)
            bad |= 16;
        errno = 0;
        if (lthread_detach() != -1 || errno != EPERM)
            bad |= 32;
        if (lthread_wakeup(self) != 0)
            bad |= 64;
        errno = 0;
        if (lthread_run() != -1 || errno != EPERM)
            bad |= 128;
    }
    if (us)
        usleep(us);
    return bad;
}

static void op_compute(struct actor *a)
{
    bool checks = a->opc.arg;
    unsigned bad;
    int r, r2;

    tracef("p%d computes %u us%s", a->idx, a->opc.n,
           checks ? " (and calls the API there)" : "");
    W.computing++;
    r = lthread_compute_begin();
    if (r != 0)
        failf("p%d: lthread_compute_begin returned %d", a->idx, r);
    bad = section(a->opc.n, checks, a->lt);
    r2 = lthread_compute_end();
    check_resumed(a, "after its compute section");
    W.computing--;
    W.compute_end_tick = W.tick;
    if (r2 != 0)
        failf("p%d: lthread_compute_end returned %d", a->idx, r2);
    if (bad)
        failf("p%d: in a compute section, calls that must fail with "
              "EPERM/EDEADLK did not (mask %#x: sleep 1, begin 2, create 4, "
              "join 8, destroy 16, detach 32, wakeup 64, run 128)",
              a->idx, bad);
    tracef("p%d: compute done", a->idx);
    count(ST_COMPUTE);
}

/* Returns from the puppet's function inside a compute section: the
 * library takes it home, then it exits. Touches no model after begin. */
static void op_compute_exit(struct actor *a)
{
    int r;

    tracef("p%d computes %u us and returns inside the section", a->idx,
           a->opc.n);
    a->cexit_pending = !a->detached;
    W.cexits++;
    count(ST_COMPUTE_EXIT);
    r = lthread_compute_begin();
    if (r != 0)
        failf("p%d: lthread_compute_begin returned %d", a->idx, r);
    (void)section(a->opc.n, a->opc.arg, a->lt);
}

static void op_exit(struct actor *a)
{
    if (a->detached) {
        a->st = S_GONE;
    } else {
        a->st = S_ZOMBIE;
        if (a->joiner != NOBODY && a->joiner != CTRL)
            release(&W.a[a->joiner], O_OK);
    }
    count(ST_EXIT);
    tracef("p%d %s, value %p", a->idx,
           a->op == K_RETURN ? "returns" : "calls lthread_exit", a->exit_value);
}

static void op_detach(struct actor *a)
{
    int r, e;

    r = lthread_detach();
    e = errno;
    tracef("p%d detaches: %d", a->idx, r);
    count(ST_DETACH);
    if (r == 0) {
        if (a->joiner != NOBODY && !a->joiner_short)
            failf("p%d: lthread_detach returned 0 while p%d waits in "
                  "lthread_join on it",
                  a->idx, a->joiner);
        if (a->joiner != NOBODY) {
            /* Its short join must have timed out already. */
            W.a[a->joiner].allow = O_TIMEOUT;
            a->joiner = NOBODY;
        }
        a->detached = true;
    } else if (r == -1 && e == EINVAL) {
        if (a->joiner == NOBODY)
            failf("p%d: lthread_detach failed with EINVAL; nobody joins it",
                  a->idx);
    } else {
        failf("p%d: lthread_detach returned %d (errno %d)", a->idx, r, e);
    }
}

static int create_puppet(struct actor *c)
{
    lthread_attr_t attr;

    if (!(c->attrs & AT_EX))
        return lthread_create(&c->lt, puppet_fns[c->fn], c);
    lthread_attr_init(&attr);
    if (c->attrs & AT_DETACHED)
        attr.flags |= LTHREAD_ATTR_DETACHED;
    if (c->attrs & AT_PRIVATE) {
        attr.flags |= LTHREAD_ATTR_PRIVATE_STACK;
        attr.stack_size = (size_t)(c->fn % 3) * 32768; /* 0: region size */
    }
    return lthread_create_ex(&c->lt, puppet_fns[c->fn], c, &attr);
}

static void op_spawn(struct actor *a)
{
    struct actor *c = &W.a[a->opc.arg];
    int r;

    r = create_puppet(c);
    tracef("p%d creates p%d (fn %d%s%s): %d", a->idx, c->idx, c->fn,
           c->detached ? ", detached" : "",
           (c->attrs & AT_PRIVATE) ? ", private stack" : "", r);
    if (r != 0)
        failf("p%d: creating p%d returned %d (errno %d)", a->idx, c->idx, r,
              errno);
    c->st = S_ALIVE;
    count(ST_CREATED);
    count(ST_SPAWN);
}

#define EXPECT_FAIL(call, err)                                                 \
    do {                                                                       \
        int r_;                                                                \
        errno = 0;                                                             \
        r_ = (call);                                                           \
        if (r_ != -1 || errno != (err))                                        \
            failf("%s returned %d (errno %d), not -1/%s", #call, r_, errno,    \
                  #err);                                                       \
    } while (0)

static void op_self(struct actor *a)
{
    static const char *name = "fuzz puppet";
    uint64_t id = lthread_id();

    tracef("p%d checks itself", a->idx);
    EXPECT_FAIL(lthread_join(a->lt, NULL, 0), EDEADLK);
    EXPECT_FAIL(lthread_destroy(a->lt), EDEADLK);
    EXPECT_FAIL(lthread_join(NULL, NULL, 0), EINVAL);
    EXPECT_FAIL(lthread_wakeup(NULL), EINVAL);
    EXPECT_FAIL(lthread_destroy(NULL), EINVAL);
    EXPECT_FAIL(lthread_cond_wait(NULL, 0), EINVAL);
    EXPECT_FAIL(lthread_cond_signal(NULL), EINVAL);
    EXPECT_FAIL(lthread_init(65536), EBUSY);
    EXPECT_FAIL(lthread_run(), EPERM);
    if (lthread_wakeup(a->lt) != 0) /* not sleeping: left alone */
        failf("p%d: lthread_wakeup of itself failed", a->idx);
    lthread_set_funcname(name);
    if (lthread_get_funcname(a->lt) != name)
        failf("p%d: lthread_get_funcname lost the name", a->idx);
    if (id == 0 || lthread_sleep(0) != 0 || lthread_id() != id)
        failf("p%d: lthread_id changed across a yield", a->idx);
    check_resumed(a, "after a yield");
}

/* Runs the command taken from the mailbox. Returns false when the puppet
 * must return from its function. */
static bool do_cmd(struct actor *a)
{
    switch (a->op) {
    case K_SLEEP:
        op_sleep(a);
        break;
    case K_COND:
        op_cond(a);
        break;
    case K_JOIN:
        op_join(a);
        break;
    case K_READ:
        op_read(a);
        break;
    case K_WAITRD:
        op_waitrd(a);
        break;
    case K_POLL:
        op_poll(a);
        break;
    case K_COMPUTE:
        op_compute(a);
        break;
    case K_COMPUTE_EXIT:
        op_compute_exit(a);
        return false;
    case K_EXIT:
        op_exit(a);
        lthread_exit(a->exit_value);
        failf("p%d: lthread_exit returned", a->idx);
    case K_RETURN:
        op_exit(a);
        return false;
    case K_DETACH:
        op_detach(a);
        break;
    case K_SPAWN:
        op_spawn(a);
        break;
    case K_SELF:
        op_self(a);
        break;
    case K_IDLE:
    case K_NKINDS:
        failf("fuzzer bug: p%d told to %s", a->idx, kind_names[a->op]);
    }
    a->op = K_IDLE;
    a->allow = 0;
    a->released = false;
    return true;
}

static __attribute__((noinline)) void puppet(struct actor *a, int fn)
{
    check_resumed(a, "its first run");
    if (fn_number(a->fn) != fn)
        failf("p%d runs entry function %d, not %d", a->idx, fn,
              fn_number(a->fn));
    lthread_set_data(a);
    a->ran = true;
    for (;;) {
        while (!a->has_cmd) {
            int r = lthread_cond_wait(a->mailbox, 0);

            check_resumed(a, "after its mailbox wait");
            if (r != 0)
                failf("p%d: its mailbox wait returned %d (errno %d)", a->idx, r,
                      errno);
            if (!a->has_cmd)
                failf("p%d woke from its mailbox wait with no command", a->idx);
        }
        a->has_cmd = false;
        a->op = a->cmd.kind;
        a->opc = a->cmd;
        if (!do_cmd(a))
            return;
    }
}

/* Distinct entry functions: once an lthread of a function has computed,
 * later ones of that function get private stacks, so a single function
 * would soon leave no region-mates to wait for a computing owner. */
#define PUPPET(n)                                                              \
    static void puppet_##n(lthread_t *lt, void *arg)                           \
    {                                                                          \
        (void)lt;                                                              \
        puppet(arg, n);                                                        \
    }
#define PUPPET8(n)                                                             \
    PUPPET(n##0)                                                               \
    PUPPET(n##1)                                                               \
    PUPPET(n##2)                                                               \
    PUPPET(n##3)                                                               \
    PUPPET(n##4)                                                               \
    PUPPET(n##5)                                                               \
    PUPPET(n##6)                                                               \
    PUPPET(n##7)
PUPPET8(1)
PUPPET8(2)
PUPPET8(3)
PUPPET8(4)
PUPPET8(5)
PUPPET8(6)
PUPPET8(7)
PUPPET8(8)
#define FNS8(n)                                                                \
    puppet_##n##0, puppet_##n##1, puppet_##n##2, puppet_##n##3, puppet_##n##4, \
        puppet_##n##5, puppet_##n##6, puppet_##n##7
static lthread_func puppet_fns[NFNS] = {FNS8(1), FNS8(2), FNS8(3), FNS8(4),
                                        FNS8(5), FNS8(6), FNS8(7), FNS8(8)};

/* ---- the controller's actions ------------------------------------------- */

static int live_count(void)
{
    int n = 0;

    for (int i = 0; i < W.nactors; i++)
        if (W.a[i].st == S_ALIVE || W.a[i].st == S_SPAWNING)
            n++;
    return n;
}

/* A new actor slot, with its mailbox; NULL when none is left. */
static struct actor *new_actor(struct rng *r)
{
    struct actor *c;

    if (W.nactors >= MAX_ACTORS || live_count() >= MAX_LIVE)
        return NULL;
    c = &W.a[W.nactors];
    memset(c, 0, sizeof(*c));
    c->idx = W.nactors++;
    c->joiner = c->reserved_by = NOBODY;
    c->op = K_IDLE;
    c->fn = (int)below(r, NFNS);
    if (pct(r, 35)) {
        c->attrs = AT_EX;
        if (pct(r, 40))
            c->attrs |= AT_DETACHED;
        if (pct(r, 50))
            c->attrs |= AT_PRIVATE;
    }
    c->detached = c->attrs & AT_DETACHED;
    if (lthread_cond_create(&c->mailbox) != 0)
        failf("lthread_cond_create failed (errno %d)", errno);
    return c;
}

static void create_from_here(struct rng *r)
{
    struct actor *c = new_actor(r);
    int rc;

    if (!c)
        return;
    c->st = S_SPAWNING;
    rc = create_puppet(c);
    tracef("create p%d (fn %d%s%s): %d", c->idx, c->fn,
           c->detached ? ", detached" : "",
           (c->attrs & AT_PRIVATE) ? ", private stack" : "", rc);
    if (rc != 0)
        failf("creating p%d returned %d (errno %d)", c->idx, rc, errno);
    c->st = S_ALIVE;
    count(ST_CREATED);
}

static void bad_creates(struct rng *r)
{
    lthread_attr_t attr;
    lthread_t *lt;

    lthread_attr_init(&attr);
    switch (below(r, 5)) {
    case 0:
        attr.flags = 0x80;
        EXPECT_FAIL(lthread_create_ex(&lt, puppet_fns[0], NULL, &attr), EINVAL);
        break;
    case 1:
        attr.stack_size = 65536; /* without LTHREAD_ATTR_PRIVATE_STACK */
        EXPECT_FAIL(lthread_create_ex(&lt, puppet_fns[0], NULL, &attr), EINVAL);
        break;
    case 2:
        attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
        attr.stack_size = 4096;
        EXPECT_FAIL(lthread_create_ex(&lt, puppet_fns[0], NULL, &attr), EINVAL);
        break;
    case 3:
        EXPECT_FAIL(lthread_create(NULL, puppet_fns[0], NULL), EINVAL);
        break;
    default:
        EXPECT_FAIL(lthread_create(&lt, NULL, NULL), EINVAL);
        break;
    }
    tracef("bad creates fail as they must");
}

/* Picks a random actor satisfying pred, or NULL. */
static struct actor *pick(struct rng *r, bool (*pred)(const struct actor *))
{
    int start, i;

    if (!W.nactors)
        return NULL;
    start = (int)below(r, (unsigned)W.nactors);
    for (i = 0; i < W.nactors; i++) {
        struct actor *a = &W.a[(start + i) % W.nactors];

        if (pred(a))
            return a;
    }
    return NULL;
}

/* Follows the joins (in progress or told) from a: true if they reach b. */
static bool joins_reach(const struct actor *a, const struct actor *b)
{
    for (int hops = 0; hops <= MAX_ACTORS; hops++) {
        int next;

        if (a == b)
            return true;
        if (a->has_cmd && a->cmd.kind == K_JOIN)
            next = a->cmd.arg;
        else if (a->op == K_JOIN)
            next = a->opc.arg;
        else
            return false;
        a = &W.a[next];
    }
    return true;
}

/* May a puppet be told to join t (and the call be valid then)? */
static bool joinable(const struct actor *t)
{
    return touchable(t) && !t->detached && t->joiner == NOBODY &&
           t->reserved_by == NOBODY && !(t->has_cmd && t->cmd.kind == K_DETACH);
}

static enum tclass pick_tc(struct rng *r, bool short_ok)
{
    unsigned x = below(r, 10);

    if (short_ok && x < 4)
        return T_SHORT;
    return x < 7 ? T_NONE : T_LONG;
}

static void post(struct actor *a, struct cmd c)
{
    a->cmd = c;
    a->has_cmd = true;
    if (c.kind == K_JOIN)
        W.a[c.arg].reserved_by = a->idx;
    if (is_exit_kind(c.kind)) {
        a->exit_value =
            c.kind == K_EXIT
                ? (void *)(uintptr_t)(0xE000 + a->idx * 16 + run.epoch)
                : NULL;
        if (a->detached)
            a->untouchable = true;
        /* Its joiner may see it exit from now on. */
        if (a->joiner != NOBODY && a->joiner != CTRL)
            W.a[a->joiner].allow |= O_OK;
    }
    tracef("tell p%d: %s (arg %d, %s, ms %u, n %u)", a->idx, kind_names[c.kind],
           c.arg, tmo_name(&c), c.ms, c.n);
    if (lthread_cond_signal(a->mailbox) != 0)
        failf("signalling p%d's mailbox failed (errno %d)", a->idx, errno);
}

static void act_post(struct rng *r)
{
    struct actor *a = pick(r, idle), *t, *child;
    struct cmd c = {.arg2 = -1};
    unsigned x = below(r, 100);

    if (!a)
        return;
    if (x < 14) {
        unsigned y = below(r, 10);

        c.kind = K_SLEEP;
        c.ms = y < 2   ? 0
               : y < 5 ? 1 + below(r, 3)
               : y < 8 ? 4 + below(r, 9)
                       : LONG_MS;
    } else if (x < 30) {
        c.kind = K_COND;
        c.arg = (int)below(r, NCONDS);
        c.tc = pick_tc(r, c.arg == 0);
        c.ms = 1 + below(r, 12);
    } else if (x < 42) {
        c.kind = K_JOIN;
        c.tc = pick_tc(r, true);
        c.ms = 1 + below(r, 12);
        t = pick(r, joinable);
        if (!t || t == a || joins_reach(t, a))
            return;
        c.arg = t->idx;
    } else if (x < 54) {
        c.kind = K_READ;
        c.arg = (int)below(r, NCHANS);
        c.tc = pick_tc(r, true);
        c.ms = 1 + below(r, 12);
        c.n = 1 + below(r, 4);
    } else if (x < 59) {
        c.kind = K_WAITRD;
        c.arg = (int)below(r, NCHANS);
        c.tc = pick_tc(r, true);
        c.ms = 1 + below(r, 12);
    } else if (x < 64) {
        c.kind = K_POLL;
        c.arg = (int)below(r, NCHANS);
        c.arg2 = pct(r, 50) ? (int)below(r, NCHANS) : -1;
        c.tc = pick_tc(r, true);
        c.ms = 1 + below(r, 12);
        c.n = (pct(r, 20) ? PV_TWICE : 0) | (pct(r, 10) ? PV_ZERO : 0);
    } else if (x < 73) {
        c.kind = K_COMPUTE;
        /* Sometimes long enough for region-mates to pile up behind it. */
        c.n = pct(r, 15) ? 1000 + below(r, 3000) : below(r, 400);
        c.arg = pct(r, 25);
    } else if (x < 75) {
        c.kind = K_COMPUTE_EXIT;
        c.n = below(r, 300);
        c.arg = pct(r, 25);
    } else if (x < 82) {
        c.kind = K_EXIT;
    } else if (x < 85) {
        c.kind = K_RETURN;
    } else if (x < 89) {
        if (a->reserved_by != NOBODY)
            return;
        c.kind = K_DETACH;
    } else if (x < 95) {
        child = new_actor(r);
        if (!child)
            return;
        child->st = S_SPAWNING;
        c.kind = K_SPAWN;
        c.arg = child->idx;
    } else {
        c.kind = K_SELF;
    }
    post(a, c);
}

/* What destroying t does to the model, once it returned 0. */
static void forget(struct actor *t)
{
    if (t->op == K_COMPUTE) {
        W.computing--;
        W.compute_end_tick = W.tick;
    }
    if (t->cexit_pending) {
        t->cexit_pending = false;
        W.cexits--;
    }
    if (t->op == K_COND)
        cq_remove(t->opc.arg, t->idx);
    if (t->op == K_JOIN && W.a[t->opc.arg].joiner == t->idx)
        W.a[t->opc.arg].joiner = NOBODY; /* an ordinary zombie again */
    if (t->has_cmd && t->cmd.kind == K_JOIN)
        W.a[t->cmd.arg].reserved_by = NOBODY;
    if (t->has_cmd && t->cmd.kind == K_SPAWN)
        W.a[t->cmd.arg].st = S_GONE; /* never created */
    if (t->joiner != NOBODY && t->joiner != CTRL) {
        struct actor *j = &W.a[t->joiner];

        /* Whether or not t had exited: its join now fails. */
        j->allow = O_CANCELED | (j->opc.tc == T_SHORT ? O_TIMEOUT : 0);
        release(j, O_CANCELED);
    }
    t->joiner = NOBODY;
    t->has_cmd = false;
    t->st = S_GONE;
}

static bool destroyable(const struct actor *t)
{
    return touchable(t) && t->reserved_by == NOBODY;
}

static void do_destroy(struct actor *t)
{
    bool computing =
        t->st == S_ALIVE && (t->op == K_COMPUTE || t->op == K_COMPUTE_EXIT);
    char d[160];
    int r, e;

    describe(t, d, sizeof(d));
    r = lthread_destroy(t->lt);
    e = errno;
    tracef("destroy %s: %d%s", d, r, r ? " (EBUSY)" : "");
    if (r == -1 && e == EBUSY && computing) {
        count(ST_DESTROY_BUSY);
        return;
    }
    if (r != 0)
        failf("lthread_destroy(%s) returned %d (errno %d %s)", d, r, e,
              strerror(e));
    count(ST_DESTROYED);
    if (!t->ran)
        count(ST_NEVER_RAN);
    if (t->op == K_JOIN && t->released)
        count(ST_DESTROY_WOKEN_JOINER);
    if (t->st == S_ZOMBIE && t->joiner != NOBODY)
        count(ST_DESTROY_JOINED_ZOMBIE);
    forget(t);
}

static bool sleeping(const struct actor *a)
{
    return touchable(a) && a->st == S_ALIVE && a->op == K_SLEEP;
}

static void do_wakeup(struct actor *t)
{
    int r = lthread_wakeup(t->lt);

    tracef("wakeup p%d (%s): %d", t->idx, kind_names[t->op], r);
    if (r != 0)
        failf("lthread_wakeup(p%d) returned %d (errno %d)", t->idx, r, errno);
    if (t->st == S_ALIVE && t->op == K_SLEEP) {
        t->woken = true;
        release(t, O_OK);
    }
}

static void do_signal(int k)
{
    int r = lthread_cond_signal(W.cond[k]);

    tracef("signal cond %d (%d waiters): %d", k, W.ncq[k], r);
    if (r != 0)
        failf("lthread_cond_signal returned %d (errno %d)", r, errno);
    if (W.ncq[k]) {
        struct actor *a = &W.a[W.cq[k][0]];

        cq_remove(k, a->idx);
        release(a, O_OK);
    }
}

static void do_broadcast(int k)
{
    int r = lthread_cond_broadcast(W.cond[k]);

    tracef("broadcast cond %d (%d waiters): %d", k, W.ncq[k], r);
    if (r != 0)
        failf("lthread_cond_broadcast returned %d (errno %d)", r, errno);
    while (W.ncq[k]) {
        struct actor *a = &W.a[W.cq[k][0]];

        cq_remove(k, a->idx);
        release(a, O_OK);
    }
}

static void act_cond(struct rng *r)
{
    int k = (int)below(r, NCONDS);

    for (int i = 0; i < NCONDS && !W.ncq[k] && pct(r, 80); i++)
        k = (k + 1) % NCONDS;

    /* A short waiter may have timed out unseen: who is oldest is then
     * unknown, so only broadcast. */
    if (!cq_has_short(k) && pct(r, 65))
        do_signal(k);
    else
        do_broadcast(k);
}

/* Destroys a cond with waiters (EBUSY) or without (then makes another). */
static void act_cond_cycle(struct rng *r)
{
    int k = (int)below(r, NCONDS), rc;

    if (cq_has_short(k))
        return;
    rc = lthread_cond_destroy(W.cond[k]);
    tracef("destroy cond %d (%d waiters): %d", k, W.ncq[k], rc);
    if (W.ncq[k]) {
        if (rc != -1 || errno != EBUSY)
            failf("lthread_cond_destroy of a cond with %d waiters returned "
                  "%d (errno %d)",
                  W.ncq[k], rc, errno);
        return;
    }
    if (rc != 0)
        failf("lthread_cond_destroy of an idle cond returned %d (errno %d)", rc,
              errno);
    if (lthread_cond_create(&W.cond[k]) != 0)
        failf("lthread_cond_create failed");
    (void)r;
}

static void write_pattern(struct chan *c, unsigned n, bool use_send)
{
    unsigned char buf[16];
    ssize_t rc;

    for (unsigned i = 0; i < n; i++)
        buf[i] = pattern(c, c->written + i);
    rc = use_send ? lthread_send(c->wr, buf, n, 0)
                  : lthread_write(c->wr, buf, n);
    if (rc != (ssize_t)n)
        failf("writing %u bytes to a %s returned %zd (errno %d %s)", n,
              ch_names[c->kind], rc, errno, strerror(errno));
    c->written += n;
}

static void act_write(struct rng *r)
{
    int k = (int)below(r, NCHANS);
    struct chan *c = &W.ch[k];
    unsigned n = 1 + below(r, 8);
    bool use_send = c->kind != CH_PIPE && pct(r, 50);
    char buf[8] = {0};
    ssize_t rc;

    if (!c->wr_open) {
        if (!pct(r, 10))
            return;
        rc = lthread_write(c->wr, buf, 1);
        tracef("write to chan %d's closed writer: %zd", k, rc);
        if (rc != -1 || errno != EBADF)
            failf("lthread_write on a closed fd returned %zd (errno %d)", rc,
                  errno);
    } else if (!c->rd_open) {
        if (c->kind == CH_TCP)
            return; /* a reset comes back later: no fixed answer */
        rc = use_send ? lthread_send(c->wr, buf, n, 0)
                      : lthread_write(c->wr, buf, n);
        tracef("write to chan %d whose reader is closed: %zd", k, rc);
        if (rc != -1 || errno != EPIPE)
            failf("writing to a %s whose reader is closed returned %zd "
                  "(errno %d %s), not -1/EPIPE",
                  ch_names[c->kind], rc, errno, strerror(errno));
    } else if (c->written - c->readoff + n <= 256) {
        write_pattern(c, n, use_send);
        tracef("write %u to chan %d (%llu unread)", n, k,
               (unsigned long long)(c->written - c->readoff));
    }
}

static void act_close(struct rng *r)
{
    int k = (int)below(r, NCHANS);
    struct chan *c = &W.ch[k];
    bool rd = pct(r, 50);
    bool *open = rd ? &c->rd_open : &c->wr_open;
    int fd = rd ? c->rd : c->wr, rc;

    if (!*open)
        return;
    rc = lthread_close(fd);
    tracef("close chan %d's %s: %d", k, rd ? "reader" : "writer", rc);
    if (rc != 0)
        failf("lthread_close returned %d (errno %d)", rc, errno);
    *open = false;
}

static bool zombie_free(const struct actor *t)
{
    return touchable(t) && t->st == S_ZOMBIE && t->joiner == NOBODY &&
           t->reserved_by == NOBODY;
}

/* Alive, and nothing can make it exit while the controller waits. */
static bool stays_alive(const struct actor *t)
{
    return touchable(t) && t->st == S_ALIVE && !t->detached &&
           t->joiner == NOBODY && t->reserved_by == NOBODY && !t->has_cmd &&
           t->op != K_COMPUTE_EXIT;
}

static bool detached_alive(const struct actor *t)
{
    return touchable(t) && t->st == S_ALIVE && t->detached;
}

static bool joined_surely(const struct actor *t)
{
    return touchable(t) && t->joiner != NOBODY && t->joiner != CTRL &&
           !t->joiner_short;
}

static bool compute_exiting(const struct actor *t)
{
    return touchable(t) && t->st == S_ALIVE && t->op == K_COMPUTE_EXIT &&
           t->joiner == NOBODY && t->reserved_by == NOBODY;
}

/* What a join by the controller must return. */
enum { J_OK, J_TIMEOUT, J_EINVAL };

/* The controller joins t, which must give `want`. */
static void ctrl_join(struct actor *t, uint64_t ms, int want, const char *why)
{
    void *v = SENTINEL;
    double t0 = now_ms();
    int rc, e;

    if (want != J_EINVAL) /* EINVAL leaves t alone */
        t->joiner = CTRL;
    rc = lthread_join(t->lt, &v, ms);
    e = errno;
    if (t->joiner == CTRL)
        t->joiner = NOBODY;
    tracef("controller joins p%d (%s, %llu ms): %d", t->idx, why,
           (unsigned long long)ms, rc);
    count(ST_JOIN_CTRL);
    if (want == J_OK) {
        if (rc != 0 || v != t->exit_value)
            failf("lthread_join(p%d, %s) returned %d (errno %d %s), value %p "
                  "(want 0, value %p)",
                  t->idx, why, rc, e, strerror(e), v, t->exit_value);
        if (t->cexit_pending) {
            t->cexit_pending = false;
            W.cexits--;
        }
        t->st = S_GONE;
    } else if (want == J_TIMEOUT) {
        if (rc != -2 || e != ETIMEDOUT || v != SENTINEL)
            failf("lthread_join(p%d, %s) returned %d (errno %d %s), not "
                  "-2/ETIMEDOUT",
                  t->idx, why, rc, e, strerror(e));
        if (now_ms() - t0 + 0.01 < (double)ms)
            failf("lthread_join(p%d) timed out early", t->idx);
    } else if (rc != -1 || e != EINVAL) {
        failf("lthread_join(p%d, %s) returned %d (errno %d %s), not -1/EINVAL",
              t->idx, why, rc, e, strerror(e));
    }
}

static void act_join(struct rng *r)
{
    struct actor *t;

    switch (below(r, 6)) {
    case 0:
    case 1:
        if ((t = pick(r, zombie_free)))
            ctrl_join(t, pct(r, 50) ? 0 : 1 + below(r, 3), J_OK, "exited");
        break;
    case 2:
        if ((t = pick(r, stays_alive)))
            ctrl_join(t, 1 + below(r, 3), J_TIMEOUT, "cannot exit meanwhile");
        break;
    case 3:
        if ((t = pick(r, detached_alive)))
            ctrl_join(t, 0, J_EINVAL, "detached");
        break;
    case 4:
        if ((t = pick(r, joined_surely)))
            ctrl_join(t, 0, J_EINVAL, "being joined");
        break;
    default:
        if ((t = pick(r, compute_exiting)))
            ctrl_join(t, LONG_MS, J_OK, "returns in a compute section");
        break;
    }
}

static void ctrl_sleep(uint64_t ms)
{
    int rc = lthread_sleep(ms);

    if (rc != 0)
        failf("the controller's lthread_sleep(%llu) returned %d",
              (unsigned long long)ms, rc);
    W.tick++;
}

/*
 * Lets everything that can run, run: a sleep (so that the round ends and
 * the poller is asked), then yields. Then, unless a compute section may
 * hold a region (its mates cannot run), checks liveness: every wait the
 * model released two ticks ago has returned, and no reader without a
 * short timeout stays parked on a pipe or Unix socket that is readable.
 */
static void quiesce(void)
{
    char d[160];

    ctrl_sleep(1);
    for (int i = 0; i < 3; i++)
        ctrl_sleep(0);
    if (W.computing || W.cexits || W.compute_end_tick + 3 > W.tick)
        return;
    tracef("quiescent: checking");
    count(ST_QUIESCE);
    for (int i = 0; i < W.nactors; i++) {
        struct actor *a = &W.a[i];
        const struct chan *c, *c2;

        if (a->st != S_ALIVE || a->untouchable)
            continue;
        if (a->released && a->released_tick + 2 <= W.tick) {
            describe(a, d, sizeof(d));
            failf("%s: released %u ticks ago, still has not returned", d,
                  W.tick - a->released_tick);
        }
        if ((a->op != K_READ && a->op != K_WAITRD && a->op != K_POLL) ||
            a->opc.tc == T_SHORT || (a->op == K_POLL && (a->opc.n & PV_ZERO)))
            continue;
        c = &W.ch[a->opc.arg];
        c2 = a->op == K_POLL && a->opc.arg2 >= 0 ? &W.ch[a->opc.arg2] : c;
        if (c->kind == CH_TCP || c2->kind == CH_TCP)
            continue;
        if (readable(c) || readable(c2)) {
            describe(a, d, sizeof(d));
            failf("%s: still parked although its chan is readable (%llu "
                  "bytes unread, writer %s)",
                  d, (unsigned long long)(c->written - c->readoff),
                  c->wr_open ? "open" : "closed");
        }
    }
}

static void act_misc(struct rng *r)
{
    lthread_cond_t *c;

    switch (below(r, 6)) {
    case 0:
        EXPECT_FAIL(lthread_init(65536), EBUSY);
        EXPECT_FAIL(lthread_init(1000), EINVAL);
        break;
    case 1:
        EXPECT_FAIL(lthread_run(), EPERM);
        EXPECT_FAIL(lthread_destroy(W.ctrl), EDEADLK);
        EXPECT_FAIL(lthread_join(W.ctrl, NULL, 0), EDEADLK);
        break;
    case 2:
        EXPECT_FAIL(lthread_cond_create(NULL), EINVAL);
        EXPECT_FAIL(lthread_cond_destroy(NULL), EINVAL);
        EXPECT_FAIL(lthread_cond_broadcast(NULL), EINVAL);
        if (lthread_cond_create(&c) != 0 || lthread_cond_signal(c) != 0 ||
            lthread_cond_wait(c, 1) != -2 || lthread_cond_destroy(c) != 0)
            failf("a cond of its own: create, signal, wait 1 ms, destroy");
        break;
    case 3:
        bad_creates(r);
        break;
    default:
        act_cond_cycle(r);
        break;
    }
    tracef("misc checks");
}

static void note_blocked(void)
{
    unsigned long n = 0, max;

    for (int i = 0; i < W.nactors; i++)
        if (W.a[i].st == S_ALIVE && W.a[i].op != K_IDLE)
            n++;
    max = __atomic_load_n(&stats[ST_MAX_BLOCKED], __ATOMIC_RELAXED);
    while (n > max &&
           !__atomic_compare_exchange_n(&stats[ST_MAX_BLOCKED], &max, n, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

static void ctrl_step(struct rng *r)
{
    unsigned x = below(r, 1000);
    struct actor *t;

    note_blocked();
    if (live_count() < W.target_live && pct(r, 30)) {
        create_from_here(r);
    } else if (x < 460) {
        act_post(r);
    } else if (x < 510) {
        if ((t = pick(r, destroyable)))
            do_destroy(t);
    } else if (x < 570) {
        if ((t = pick(r, sleeping)) || (pct(r, 20) && (t = pick(r, touchable))))
            do_wakeup(t);
    } else if (x < 650) {
        act_cond(r);
    } else if (x < 740) {
        act_write(r);
    } else if (x < 743) {
        act_close(r);
    } else if (x < 790) {
        act_join(r);
    } else if (x < 880) {
        ctrl_sleep(0);
    } else if (x < 930) {
        ctrl_sleep(1 + below(r, 2));
    } else if (x < 970) {
        quiesce();
    } else {
        act_misc(r);
    }
}

/* ---- the epoch's channels -------------------------------------------------
 */

static void make_tcp(struct chan *c)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int l, one = 1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l = lthread_socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(l, 4) != 0 || getsockname(l, (struct sockaddr *)&sin, &len))
        failf("loopback listener: errno %d", errno);
    c->wr = lthread_socket(AF_INET, SOCK_STREAM, 0);
    if (c->wr < 0 ||
        lthread_connect(c->wr, (struct sockaddr *)&sin, len, 5000) != 0)
        failf("loopback connect: errno %d", errno);
    c->rd = lthread_accept(l, NULL, NULL);
    if (c->rd < 0)
        failf("loopback accept: errno %d", errno);
    setsockopt(c->wr, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (lthread_close(l) != 0)
        failf("closing the listener: errno %d", errno);
}

static void make_chans(struct rng *r)
{
    for (int k = 0; k < NCHANS; k++) {
        struct chan *c = &W.ch[k];
        unsigned x = below(r, 10);
        int fds[2];

        c->kind = x < 5 ? CH_PIPE : x < 8 ? CH_UNIX : CH_TCP;
        c->salt = (unsigned char)rnd(r);
        if (c->kind == CH_PIPE) {
            if (lthread_pipe(fds) != 0)
                failf("lthread_pipe: errno %d", errno);
            c->rd = fds[0];
            c->wr = fds[1];
        } else if (c->kind == CH_UNIX) {
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
                failf("socketpair: errno %d", errno);
            c->rd = fds[0];
            c->wr = fds[1];
        } else {
            make_tcp(c);
        }
        c->rd_open = c->wr_open = true;
        tracef("chan %d: %s, reader fd %d, writer fd %d", k, ch_names[c->kind],
               c->rd, c->wr);
    }
}

static void close_chans(void)
{
    for (int k = 0; k < NCHANS; k++) {
        struct chan *c = &W.ch[k];

        if (c->rd_open && lthread_close(c->rd) != 0)
            failf("lthread_close: errno %d", errno);
        if (c->wr_open && lthread_close(c->wr) != 0)
            failf("lthread_close: errno %d", errno);
        c->rd_open = c->wr_open = false;
    }
}

/* ---- the end of an epoch ------------------------------------------------ */

/* Nothing left to happen to it but what the end of the run does. */
static bool settled(const struct actor *a)
{
    if (!touchable(a) || a->st != S_ALIVE)
        return true;
    if (a->has_cmd || a->released || a->allow)
        return false;
    return a->op == K_IDLE ||
           ((a->op == K_COND || a->op == K_JOIN) && a->opc.tc == T_NONE);
}

/*
 * Clean end: releases every wait and tells every puppet to exit, until
 * none is alive; lthread_run() must then return 0. Abandoning end: ends
 * every timed or fd wait (wakeup, close, destroy), leaves the others
 * waiting forever on their mailbox, a cond or a join; lthread_run() must
 * then fail with EDEADLK (or return 0 if no puppet is left).
 */
static void drain(void)
{
    struct rng r = rng_for(run.epoch, 1 << 20);
    const long limit = 3000 * run.slow;
    char d[160];

    close_chans();
    for (long iter = 0;; iter++) {
        bool busy = false;

        for (int k = 0; k < NCONDS && !W.abandon; k++)
            if (W.ncq[k])
                do_broadcast(k);
        for (int i = 0; i < W.nactors; i++) {
            struct actor *a = &W.a[i];

            if (!touchable(a) || a->st != S_ALIVE)
                continue;
            if (W.abandon ? !settled(a) : true)
                busy = true;
            if (a->op == K_SLEEP && !a->woken)
                do_wakeup(a);
            else if (W.abandon && a->opc.tc == T_LONG && !a->released &&
                     (a->op == K_COND || a->op == K_JOIN) &&
                     a->reserved_by == NOBODY)
                do_destroy(a);
            else if (!W.abandon && idle(a))
                post(a, (struct cmd){.kind = pct(&r, 70) ? K_EXIT : K_RETURN});
            else if (compute_exiting(a))
                ctrl_join(a, LONG_MS, J_OK, "returns in a compute section");
        }
        if (!busy && !W.computing)
            break;
        if (iter == limit) {
            fprintf(stderr, "FAILED: the end of the epoch does not come; "
                            "puppets left:\n");
            for (int i = 0; i < W.nactors; i++) {
                if (W.a[i].st != S_ALIVE || W.a[i].untouchable)
                    continue;
                describe(&W.a[i], d, sizeof(d));
                fprintf(stderr, "    %s\n", d);
            }
            failf("drain: still busy after %ld rounds", limit);
        }
        ctrl_sleep(1);
    }
    W.expect_deadlock = false;
    for (int i = 0; i < W.nactors; i++) {
        struct actor *a = &W.a[i];

        if (touchable(a) && a->st == S_ALIVE)
            W.expect_deadlock = true;
        else if (zombie_free(a) && pct(&r, 50))
            ctrl_join(a, 0, J_OK, "exited");
    }
    tracef("controller ends; lthread_run must %s",
           W.expect_deadlock ? "fail with EDEADLK" : "return 0");
}

static void controller(lthread_t *lt, void *arg)
{
    (void)arg;
    if (lthread_current() != lt)
        failf("the controller's lthread_current() is wrong");
    lthread_set_data(&W);
    {
        struct rng r = rng_for(run.epoch, -1);

        make_chans(&r);
    }
    for (run.step = 0; run.step < W.nsteps; run.step++) {
        struct rng r = rng_for(run.epoch, run.step);

        ctrl_step(&r);
        if (lthread_get_data() != &W)
            failf("the controller's lthread_get_data() changed");
    }
    quiesce();
    drain();
    W.ctrl_done = true;
}

/* ---- one seed -------------------------------------------------------------
 */

static void run_epoch(void)
{
    struct rng r = rng_for(run.epoch, -2);
    lthread_attr_t attr;
    int rc, e, pre;

    memset(&W, 0, sizeof(W));
    run.step = -1;
    W.nsteps = 60 + (int)below(&r, 300);
    W.target_live = 3 + (int)below(&r, 16);
    W.abandon = pct(&r, 25);
    if (pct(&r, 30)) {
        static const size_t sizes[] = {65536, 131072, 262144};

        if (lthread_init(sizes[below(&r, 3)]) != 0)
            failf("lthread_init failed (errno %d)", errno);
    }
    for (int k = 0; k < NCONDS; k++)
        if (lthread_cond_create(&W.cond[k]) != 0)
            failf("lthread_cond_create failed (errno %d)", errno);
    lthread_attr_init(&attr);
    /* On a stack of its own, the controller keeps acting while puppets
     * wait for a computing region-mate. */
    if (pct(&r, 50))
        attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
    if (lthread_create_ex(&W.ctrl, controller, NULL, &attr) != 0)
        failf("creating the controller failed (errno %d)", errno);
    /* Some puppets made before lthread_run(), and some destroyed then:
     * those must never run. */
    pre = (int)below(&r, 4);
    for (int i = 0; i < pre; i++)
        create_from_here(&r);
    for (int i = 0; i < W.nactors; i++)
        if (pct(&r, 30))
            do_destroy(&W.a[i]);
    tracef("epoch %d: %d steps, %s end", run.epoch, W.nsteps,
           W.abandon ? "abandoning" : "clean");

    rc = lthread_run();
    e = errno;
    run.step = W.nsteps + 1;
    count(ST_EPOCHS);
    if (W.expect_deadlock)
        count(ST_DEADLOCKS);
    if (!W.ctrl_done)
        failf("lthread_run returned %d (errno %d) before the controller "
              "finished",
              rc, e);
    if (W.expect_deadlock && (rc != -1 || e != EDEADLK))
        failf("lthread_run returned %d (errno %d), not -1/EDEADLK, with "
              "puppets left waiting forever",
              rc, e);
    if (!W.expect_deadlock && rc != 0)
        failf("lthread_run returned %d (errno %d %s), not 0", rc, e,
              strerror(e));
    for (int k = 0; k < NCONDS; k++)
        if (lthread_cond_destroy(W.cond[k]) != 0)
            failf("destroying cond %d after the run failed (errno %d)", k,
                  errno);
    for (int i = 0; i < W.nactors; i++)
        if (W.a[i].mailbox && lthread_cond_destroy(W.a[i].mailbox) != 0)
            failf("destroying p%d's mailbox after the run failed", i);
    if (lthread_run() != 0)
        failf("lthread_run without lthreads did not return 0");
}

static void run_seed(void)
{
    struct rng r = rng_for(-1, 0);
    int epochs = pct(&r, 30) ? 2 : 1;

    for (run.epoch = 0; run.epoch < epochs; run.epoch++)
        run_epoch();
}

/* The multi-scheduler mode (-m). */
#include "fuzz_multi.h"

/* ---- many seeds -----------------------------------------------------------
 */

struct job {
    pid_t pid;
    uint64_t seed;
    const char *regions;
    FILE *out;
    double t0;
};

static void show_output(FILE *out)
{
    char line[512];
    int n = 0;

    rewind(out);
    while (fgets(line, sizeof(line), out) && n++ < 200)
        printf("    %s", line);
}

static bool finish(struct job *j, int status)
{
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    if (!ok) {
        printf("FAIL seed %llu (LTHREAD_REGIONS=%s): ",
               (unsigned long long)j->seed, j->regions ? j->regions : "unset");
        if (WIFSIGNALED(status))
            printf("killed by signal %d (%s)\n", WTERMSIG(status),
                   strsignal(WTERMSIG(status)));
        else
            printf("exit status %d\n", WEXITSTATUS(status));
        show_output(j->out);
        print_repro(stdout, j->seed, j->regions);
    } else if (run.verbose) {
        printf("PASS seed %llu (LTHREAD_REGIONS=%s) %.0f ms\n",
               (unsigned long long)j->seed, j->regions ? j->regions : "unset",
               now_ms() - j->t0);
    }
    fflush(stdout);
    fclose(j->out);
    j->pid = 0;
    return ok;
}

static void child(struct job *j, unsigned watchdog_s)
{
    int fd = fileno(j->out);

    dup2(fd, 1);
    dup2(fd, 2);
    if (j->regions)
        setenv("LTHREAD_REGIONS", j->regions, 1);
    else
        unsetenv("LTHREAD_REGIONS");
    run.seed = j->seed;
    run.regions = j->regions;
    run.verbose = false;
    signal(SIGALRM, on_alarm);
    alarm(watchdog_s);
    if (run.multi)
        mc_run_seed();
    else
        run_seed();
    exit(0);
}

/* True if seed is in the comma-separated list. */
static bool skipped(const char *list, unsigned long long seed)
{
    while (*list) {
        char *end;

        if (strtoull(list, &end, 10) == seed && end != list)
            return true;
        list = *end ? end + 1 : end;
    }
    return false;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fuzz_lifecycle [-m [-D]] [-v] SEED\n"
            "       fuzz_lifecycle [-m [-D]] [-n SEEDS] [-s FIRST] [-j JOBS] "
            "[-r 1|2|default] [-c] [-v] [-x] [-w SECONDS] [-K SEED,...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const char *cycle[] = {"1", "2", NULL};
    unsigned long long first = 1, nseeds = 300;
    unsigned jobs = 4, watchdog_s;
    const char *only = NULL, *slow = getenv("LTHREAD_TEST_SLOW");
    bool one_region = false, coverage = false, stop_early = false;
    const char *skip = "";
    struct job *pool;
    unsigned long long next, passed = 0, failed = 0, nskipped = 0;
    double t0 = now_ms();
    int opt;

    run.argv0 = argv[0];
    run.slow = slow && atol(slow) > 0 ? atol(slow) : 1;
    watchdog_s = (unsigned)(20 * run.slow);
    while ((opt = getopt(argc, argv, "n:s:j:r:cmDvxw:K:")) != -1) {
        switch (opt) {
        case 'n':
            nseeds = strtoull(optarg, NULL, 10);
            break;
        case 's':
            first = strtoull(optarg, NULL, 10);
            break;
        case 'j':
            jobs = (unsigned)atoi(optarg);
            break;
        case 'r':
            one_region = true;
            only = strcmp(optarg, "default") ? optarg : NULL;
            break;
        case 'c':
            coverage = true;
            break;
        case 'm':
            run.multi = true;
            break;
        case 'D':
            run.defects = true;
            break;
        case 'x':
            stop_early = true;
            break;
        case 'w':
            watchdog_s = (unsigned)atoi(optarg);
            break;
        case 'K':
            skip = optarg;
            break;
        case 'v':
            run.verbose = true;
            break;
        default:
            usage();
        }
    }
    if (optind < argc) {
        /* One seed, here: what a failure's command line runs. */
        if (optind + 1 != argc)
            usage();
        setvbuf(stdout, NULL, _IOLBF, 0);
        run.seed = strtoull(argv[optind], NULL, 10);
        run.regions = getenv("LTHREAD_REGIONS");
        signal(SIGALRM, on_alarm);
        alarm(watchdog_s);
        if (run.multi)
            mc_run_seed();
        else
            run_seed();
        if (run.verbose)
            print_stats();
        printf("fuzz_lifecycle: seed %llu%s (LTHREAD_REGIONS=%s) passed\n",
               (unsigned long long)run.seed, run.multi ? " -m" : "",
               run.regions ? run.regions : "unset");
        return 0;
    }
    if (jobs < 1)
        jobs = 1;
    pool = calloc(jobs, sizeof(*pool));
    stats = mmap(NULL, sizeof(local_stats), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!pool || stats == MAP_FAILED)
        return 2;
    fflush(stdout);
    next = first;
    for (;;) {
        unsigned running = 0, free_slot = jobs;
        int status;
        pid_t pid;

        for (unsigned i = 0; i < jobs; i++) {
            if (pool[i].pid)
                running++;
            else if (free_slot == jobs)
                free_slot = i;
        }
        while (next < first + nseeds && skipped(skip, next)) {
            next++;
            nskipped++;
        }
        if (next < first + nseeds && free_slot < jobs &&
            !(stop_early && failed)) {
            struct job *j = &pool[free_slot];

            j->seed = next;
            j->regions = one_region ? only : cycle[next % 3];
            j->out = tmpfile();
            j->t0 = now_ms();
            if (!j->out) {
                perror("tmpfile");
                return 2;
            }
            fflush(stdout);
            j->pid = fork();
            if (j->pid < 0) {
                perror("fork");
                return 2;
            }
            if (j->pid == 0)
                child(j, watchdog_s);
            next++;
            continue;
        }
        if (!running)
            break;
        pid = wait(&status);
        for (unsigned i = 0; i < jobs; i++) {
            if (pool[i].pid == pid) {
                if (finish(&pool[i], status))
                    passed++;
                else
                    failed++;
            }
        }
    }
    printf("fuzz_lifecycle: %sseeds %llu..%llu%s, LTHREAD_REGIONS %s, %.1f s\n",
           run.multi ? "multi-scheduler " : "", first, next - 1,
           next < first + nseeds ? " (stopped at the first failure)" : "",
           one_region ? (only ? only : "unset") : "1, 2, unset in turn",
           (now_ms() - t0) / 1e3);
    if (nskipped)
        printf("fuzz_lifecycle: %llu seeds skipped (-K %s)\n", nskipped, skip);
    if (coverage || run.verbose)
        print_stats();
    printf("fuzz_lifecycle: %llu passed, %llu failed\n", passed, failed);
    free(pool);
    return failed ? 1 : 0;
}
