/*
 * The lifecycle fuzzer's multi-scheduler mode (fuzz_lifecycle -m), included
 * by fuzz_lifecycle.c, whose seeds, trace, failure report, watchdog and job
 * runner it shares.
 *
 * A seed runs 2 or 3 schedulers (one pthread each) and, on most seeds, a
 * plain pthread. Each scheduler has a controller lthread and puppets, as in
 * the single-scheduler mode, told one command at a time by their own
 * controller: sleep, wait on one of their scheduler's conds, join any
 * puppet (of any scheduler), lock a shared mutex and hold it, send or
 * receive on a shared channel or select on two, compute (maybe locking a
 * mutex inside the section), exit. Every controller and the plain pthread
 * also act on anything: wakeup and destroy of any puppet, signal and
 * broadcast of any cond, joins, mutexes, channel sends, receives and
 * closes. A call on another scheduler's lthread or cond is posted to that
 * scheduler and done when it drains its inbox.
 *
 * The model lives under one pthread mutex (`M.lock`), never held across a
 * call that can suspend or block. What depends on timing across pthreads
 * is judged when the call returns, from what the model knows was issued
 * before (a cause is always recorded before the call that makes it):
 *
 *   - sleep: ends early only if a wakeup was in flight when it began, or
 *     issued since; a wakeup issued while the sleeper was known parked
 *     must have ended that sleep once its scheduler handled the post;
 *   - cond wait: returns 0 only if a broadcast, or a signal not yet used
 *     by another waiter, could have reached it (issued before its return,
 *     not handled before it began); a broadcast issued while a waiter was
 *     known parked must end that wait once handled; a signal issued while
 *     a waiter without a short timeout was known parked must wake someone;
 *   - join: 0 only after the joinee exited, and with its exit value (the
 *     joinee is then freed: joined exactly once), ECANCELED only after a
 *     destroy of it was issued, -2 only with a timeout, not early;
 *   - destroy from elsewhere returns 0; a destroyed puppet never runs
 *     again once its scheduler handled the post;
 *   - mutex: a plain counter, written only while holding the mutex, says
 *     no two hold it at once; trylock's EBUSY and a timed lock's -2 only
 *     while someone else was locking or holding it;
 *   - channels: every value is numbered; it is received at most once, only
 *     on its own channel, never after its send failed; a receive times out
 *     or sees EPIPE only when no value sent before it began can still be
 *     buffered; EPIPE only after a close was issued, a send succeeds only
 *     if the close came later; at the end, after the channels are closed
 *     and drained, every value whose send returned 0 was received exactly
 *     once, unless a receiver was destroyed in its call;
 *   - lthread_run() of every scheduler returns 0, except that of the one
 *     that leaves puppets waiting forever on purpose (some seeds), which
 *     must fail with EDEADLK once the others are gone;
 *   - nothing hangs (the watchdog), and every scheduler's end comes.
 *
 * "Known parked": a puppet notes its scheduler's tick (the controller's
 * resumptions from a sleep) when it begins a call, with no switch between;
 * when the tick has moved on, the puppet was suspended inside that call.
 * "Handled": a controller reads the model's completion counter before a
 * sleep of 1 ms or more; when it resumes, its scheduler has drained its
 * inbox since, so every call completed before that read was handled there.
 *
 * Naming an lthread from another pthread needs it alive at the call: a
 * pin (under the model's lock) keeps it from being destroyed, joined or
 * told to exit until the call returned (a cross join holds it until its
 * joiner is known parked: the join was posted by then).
 */
#include <pthread.h>

#define MC_MAXS 3
#define MC_SLOTS 24 /* puppet slots per scheduler, never reused */
#define MC_LIVE 8   /* live puppets per scheduler */
#define MC_CONDS 2  /* per scheduler: only its puppets wait on them */
#define MC_MUTEXES 2
#define MC_CHANS 2 /* channel slots; a close puts a new channel in it */
#define MC_INST 12 /* channels made in a seed */
#define MC_VALUES 4096
#define MC_ISSUES 16384
#define MC_RECS 256 /* signals and broadcasts per cond */
#define MC_NPUP (MC_MAXS * MC_SLOTS)
#define MC_CTRL(s) (MC_NPUP + (s)) /* a controller, as joiner or holder */
#define MC_PLAIN (MC_NPUP + MC_MAXS)
#define MC_NOBODY (-1)
#define MC_VMAGIC 0x5eed000000000000ull

enum mk {
    MK_IDLE,
    MK_SLEEP,
    MK_COND,
    MK_JOIN,
    MK_MUTEX,
    MK_SEND,
    MK_RECV,
    MK_SELECT,
    MK_COMPUTE,
    MK_EXIT,
    MK_RETURN,
    MK_N
};

static const char *mk_names[MK_N] = {"idle",    "sleep", "cond_wait", "join",
                                     "mutex",   "send",  "recv",      "select",
                                     "compute", "exit",  "return"};

enum { HOLD_SPIN, HOLD_YIELD, HOLD_SLEEP }; /* how a mutex is held */
enum { LOCK_PLAIN, LOCK_TIMED, LOCK_TRY };
enum { SEL_RR, SEL_SR, SEL_SS }; /* select: recv/recv, send/recv, send/send */

struct mcmd {
    enum mk kind;
    int arg;  /* cond, join target (gid), mutex, chan slot */
    int arg2; /* lock variant; second chan slot; compute: mutex or -1 */
    enum tclass tc;
    unsigned ms; /* sleep length, timeout */
    unsigned n;  /* hold kind, select variant, compute microseconds */
};

struct mp {
    int gid, s;
    enum st st;
    lthread_t *lt;
    lthread_cond_t *mailbox;
    unsigned attrs;
    bool detached;
    bool ran;
    bool has_cmd;
    struct mcmd cmd; /* posted, not taken yet */
    enum mk op;      /* what it does now */
    struct mcmd opc;
    bool in_call;       /* inside the library call of op */
    unsigned call_tick; /* its scheduler's tick when the call began */
    double t0;
    int pins;            /* calls naming it are under way elsewhere */
    bool doomed;         /* a destroy of it was issued */
    int doom_id;         /* that destroy's issue */
    bool untouchable;    /* may be freed at a time the model cannot know */
    bool exiting;        /* told to exit */
    bool exited;         /* has called lthread_exit (or returned) */
    int joiner;          /* who joins it (told or waiting), or MC_NOBODY */
    bool joiner_blocked; /* its joiner was destroyed: wait for that */
    /* A join from another scheduler gave it up (timeout, destroy): the
     * library may keep its record until it exits or is destroyed. */
    bool xstale;
    /* Completed when its cross joiner was known parked (its post made):
     * handled here, the join is registered. */
    int xreg;
    int pinned; /* the join target it holds a pin on */
    void *exit_value;
    /* wakeups issued on it: in flight, the last completion, and the same
     * when its sleep began */
    unsigned wk_issued, wk_inflight;
    uint64_t wk_done;
    unsigned wk_issued0, wk_inflight0;
    uint64_t wk_done0;
    uint64_t h0;        /* its scheduler's `handled` when its call began */
    int must_end;       /* an issue whose handling must end its wait */
    unsigned must_tick; /* the tick that issue was seen handled */
    /* channel ops: instances, values, snapshots */
    int inst[2], vid[2];
    uint64_t snap[2];
    bool closed0[2];
};

struct mrec {
    int id; /* the issue */
    bool bcast;
    bool used; /* a signal matched to a waiter that returned 0 */
};

struct mcond {
    lthread_cond_t *c;
    int w[MC_SLOTS]; /* puppets in a wait on it (gids) */
    int nw;
    struct mrec rec[MC_RECS];
    int nrec;
    int must; /* a signal that must wake someone, or -1 */
    unsigned must_tick;
};

struct msched {
    int s;
    pthread_t th;
    char name[16];
    lthread_t *ctrl;
    struct mp a[MC_SLOTS];
    int na;
    struct mcond cq[MC_CONDS];
    unsigned tick;    /* the controller's resumptions from its sleeps */
    uint64_t handled; /* completions up to this were handled here */
    int computing;    /* puppets on shared stacks in compute sections */
    unsigned compute_end_tick;
    int nsteps, target_live;
    bool abandon; /* leaves puppets waiting forever: EDEADLK */
    bool ctrl_done, drained, expect_deadlock;
};

struct mmx {
    lthread_mutex_t *m;
    int held;         /* plain: written only by the mutex's holder */
    int inside;       /* lockers between their call and their unlock */
    unsigned entries; /* lock calls begun */
    /* A waiter destroyed in its lock call may still own the mutex until
     * its hand-over arrives: until a lock begun after that succeeds, no
     * conclusion from EBUSY. */
    bool ghost;
    unsigned ghost_entries;
};

struct minst {
    lthread_chan_t *ch;
    unsigned cap;
    int slot;
    bool closing;  /* a close was issued */
    bool closed;   /* and returned */
    int receivers; /* in a receive (or select with one) now */
    int lost;      /* receivers destroyed in their call */
    uint64_t sent_ok;
};

enum { V_SENDING, V_SENT, V_FAILED, V_UNCERTAIN };

struct mval {
    int inst;
    int state;
    int recvd;
    uint64_t order; /* its place among its channel's successful sends */
};

static struct {
    pthread_mutex_t lock;
    int ns;
    bool plain;
    struct msched S[MC_MAXS];
    uint64_t G;               /* completed issues */
    int nid;                  /* issues */
    uint64_t done[MC_ISSUES]; /* each issue's completion, 0 until then */
    struct mmx mx[MC_MUTEXES];
    struct minst in[MC_INST];
    int ninst;
    int slot[MC_CHANS]; /* the instance in each slot */
    struct mval val[MC_VALUES];
    int nval;
    int steps_done; /* controllers and plain pthread past their steps */
    int ndrained;
    bool closing_all, all_closed;
} M;

static __thread bool mc_locked;

static void mc_lock(void)
{
    pthread_mutex_lock(&M.lock);
    mc_locked = true;
}

static void mc_unlock(void)
{
    mc_locked = false;
    pthread_mutex_unlock(&M.lock);
}

static struct mp *mp_of(int gid)
{
    return &M.S[gid / MC_SLOTS].a[gid % MC_SLOTS];
}

static bool is_puppet(int gid)
{
    return gid >= 0 && gid < MC_NPUP;
}

static struct rng mc_rng(int who, int step)
{
    return rng_for(1000 + who, step);
}

static int mc_issue(void)
{
    if (M.nid >= MC_ISSUES)
        return -1;
    M.done[M.nid] = 0;
    return M.nid++;
}

static void mc_issued(int id)
{
    M.done[id] = ++M.G;
}

static bool mc_handled(const struct msched *S, int id)
{
    return id >= 0 && M.done[id] && M.done[id] <= S->handled;
}

/* "p1.3": puppet 3 of scheduler 1. */
static const char *gname(int gid, char *buf, size_t len)
{
    if (is_puppet(gid))
        snprintf(buf, len, "p%d.%d", gid / MC_SLOTS, gid % MC_SLOTS);
    else if (gid >= MC_NPUP && gid < MC_PLAIN)
        snprintf(buf, len, "ctrl%d", gid - MC_NPUP);
    else if (gid == MC_PLAIN)
        snprintf(buf, len, "plain");
    else
        snprintf(buf, len, "nobody");
    return buf;
}
#define GN(gid) gname((gid), (char[16]){0}, 16)

static void mc_describe(const struct mp *p, char *buf, size_t len)
{
    static const char *st_names[] = {"unused", "spawning", "alive", "zombie",
                                     "gone"};
    size_t n;

    snprintf(buf, len, "%s %s%s%s%s%s, %s%s", GN(p->gid), st_names[p->st],
             p->detached ? " detached" : "", p->doomed ? " doomed" : "",
             p->untouchable ? " untouchable" : "", p->exiting ? " exiting" : "",
             mk_names[p->op], p->in_call ? " (in call)" : "");
    n = strlen(buf);
    if (p->op != MK_IDLE && n < len)
        n += (size_t)snprintf(buf + n, len - n, " arg %d/%d %s", p->opc.arg,
                              p->opc.arg2, tc_names[p->opc.tc]);
    if (p->has_cmd && n < len)
        n += (size_t)snprintf(buf + n, len - n, ", told to %s",
                              mk_names[p->cmd.kind]);
    if (p->joiner != MC_NOBODY && n < len)
        n +=
            (size_t)snprintf(buf + n, len - n, ", joined by %s", GN(p->joiner));
    if (p->pins && n < len)
        snprintf(buf + n, len - n, ", %d pins", p->pins);
}

static void mc_dump_states(void)
{
    char d[200];

    for (int s = 0; s < M.ns; s++) {
        struct msched *S = &M.S[s];

        dprintf(2, "  scheduler %d: tick %u, handled %llu (of %llu), %s%s\n", s,
                S->tick, (unsigned long long)S->handled,
                (unsigned long long)M.G, S->abandon ? "abandoning, " : "",
                S->ctrl_done ? "controller done" : "controller running");
        for (int i = 0; i < S->na; i++) {
            if (S->a[i].st != S_ALIVE && S->a[i].st != S_ZOMBIE)
                continue;
            mc_describe(&S->a[i], d, sizeof(d));
            dprintf(2, "    %s\n", d);
        }
    }
}

static void mc_fail_hook(void)
{
    if (!mc_locked)
        mc_lock();
    mc_dump_states();
}

#define mtrace(...)                                                            \
    do {                                                                       \
        if (!mc_locked)                                                        \
            failf("fuzzer bug: tracing without the model's lock");             \
        tracef(__VA_ARGS__);                                                   \
    } while (0)

/* ---- values -------------------------------------------------------------- */

static uint64_t vencode(int vid)
{
    return MC_VMAGIC | ((uint64_t)vid << 20) |
           (((uint64_t)vid * 2654435761u) & 0xfffff);
}

static int vdecode(uint64_t v)
{
    int vid = (int)((v >> 20) & 0xfffffffu);

    if ((v & 0xffff000000000000ull) != MC_VMAGIC || vid < 0 || vid >= M.nval ||
        vencode(vid) != v)
        return -1;
    return vid;
}

static int mc_new_value(int ii)
{
    struct mval *v;

    if (M.nval >= MC_VALUES)
        return -1;
    v = &M.val[M.nval];
    v->inst = ii;
    v->state = V_SENDING;
    v->recvd = 0;
    return M.nval++;
}

/* A receive on instance ii returned value v. */
static void mc_got(int ii, uint64_t v, const char *who)
{
    int vid = vdecode(v);
    struct mval *mv;

    if (vid < 0)
        failf("%s received %#llx from chan #%d: nobody sent that", who,
              (unsigned long long)v, ii);
    mv = &M.val[vid];
    if (mv->inst != ii)
        failf("%s received value %d from chan #%d; it was sent on #%d", who,
              vid, ii, mv->inst);
    if (mv->recvd)
        failf("%s received value %d a second time (chan #%d)", who, vid, ii);
    if (mv->state == V_FAILED)
        failf("%s received value %d from chan #%d, whose send failed", who, vid,
              ii);
    mv->recvd = 1;
    count(ST_MC_RECEIVED);
    mtrace("%s got value %d from chan #%d", who, vid, ii);
}

/* The send of vid ended: r 0 (sent), -1 EPIPE or -2 (not sent). */
static void mc_sent(int vid, bool ok, const char *who)
{
    struct mval *mv = &M.val[vid];
    struct minst *in = &M.in[mv->inst];

    if (ok) {
        mv->state = V_SENT;
        mv->order = in->sent_ok++;
        count(ST_MC_SENT);
    } else {
        mv->state = V_FAILED;
        if (mv->recvd)
            failf("%s: the send of value %d failed, but it was received", who,
                  vid);
    }
}

/*
 * A receive on ii began when `snap` sends had succeeded on it, and ended
 * without a value (timeout or EPIPE). The values sent before it began that
 * nobody has received yet were in the buffer all along, except one per
 * receiver still in its call and those of destroyed receivers: if any is
 * left, the receive should have taken it.
 */
static void mc_check_avail(int ii, uint64_t snap, const char *who,
                           const char *what)
{
    struct minst *in = &M.in[ii];
    long avail = 0;

    for (int v = 0; v < M.nval; v++)
        if (M.val[v].inst == ii && M.val[v].state == V_SENT &&
            M.val[v].order < snap && !M.val[v].recvd)
            avail++;
    avail -= in->receivers + in->lost;
    if (avail > 0)
        failf("%s: a receive from chan #%d (capacity %u) %s, although %ld "
              "values sent before it began are still buffered",
              who, ii, in->cap, what, avail);
}

/* ---- shared helpers -------------------------------------------------------
 */

static void mc_check_resumed(struct mp *p, const char *where)
{
    struct msched *S = &M.S[p->s];

    if (p->st != S_ALIVE)
        failf("%s runs (%s) although the model says it is %s", GN(p->gid),
              where, p->st == S_GONE ? "freed" : "not alive");
    if (lthread_current() != p->lt)
        failf("%s (%s): lthread_current() is %p, not %p", GN(p->gid), where,
              (void *)lthread_current(), (void *)p->lt);
    if (p->ran && lthread_get_data() != p)
        failf("%s (%s): lthread_get_data() is %p, not %p", GN(p->gid), where,
              lthread_get_data(), (void *)p);
    if (p->doomed && mc_handled(S, p->doom_id))
        failf("%s runs (%s) after its scheduler handled its destroy",
              GN(p->gid), where);
}

static void mc_begin_call(struct mp *p)
{
    p->in_call = true;
    p->call_tick = M.S[p->s].tick;
    p->h0 = M.S[p->s].handled;
    p->t0 = now_ms();
}

static bool mc_known_parked(const struct mp *p)
{
    return p->st == S_ALIVE && p->in_call && M.S[p->s].tick > p->call_tick;
}

static void mc_unpin(struct mp *p)
{
    if (p->pinned != MC_NOBODY) {
        mp_of(p->pinned)->pins--;
        p->pinned = MC_NOBODY;
    }
}

static void mc_cq_remove(struct mcond *cq, int gid)
{
    for (int i = 0; i < cq->nw; i++) {
        if (cq->w[i] == gid) {
            memmove(&cq->w[i], &cq->w[i + 1],
                    (size_t)(cq->nw - i - 1) * sizeof(int));
            cq->nw--;
            return;
        }
    }
}

static uint64_t mc_tmo(const struct mcmd *c)
{
    return c->tc == T_NONE ? 0 : c->tc == T_SHORT ? c->ms : LONG_MS;
}

static bool mc_early(double t0, uint64_t ms)
{
    return now_ms() - t0 + 0.01 < (double)ms;
}

/* Its join target: of the join it does or is told to do; else -1. */
static int mc_join_target(const struct mp *p)
{
    if (p->has_cmd && p->cmd.kind == MK_JOIN)
        return p->cmd.arg;
    if (p->op == MK_JOIN)
        return p->opc.arg;
    return MC_NOBODY;
}

/*
 * Its destroy was handled (or done here): forget it. Whatever it was in
 * the middle of is left as the library leaves it: a wait cancelled, a
 * value it was sending maybe sent, one it was receiving maybe lost.
 */
static void mc_reap(struct mp *t)
{
    struct msched *S = &M.S[t->s];
    int u;

    if (t->st == S_GONE)
        return; /* exited and joined before the destroy came */
    if (t->in_call) {
        switch (t->op) {
        case MK_COND: {
            struct mcond *cq = &S->cq[t->opc.arg];

            mc_cq_remove(cq, t->gid);
            cq->must = -1; /* a waiter left: maybe the one it would wake */
            break;
        }
        case MK_MUTEX: {
            struct mmx *mx = &M.mx[t->opc.arg];

            mx->inside--;
            mx->ghost = true;
            mx->ghost_entries = mx->entries;
            count(ST_MC_MUTEX_GHOST);
            break;
        }
        case MK_SEND:
            M.val[t->vid[0]].state = V_UNCERTAIN;
            break;
        case MK_RECV:
            M.in[t->inst[0]].receivers--;
            M.in[t->inst[0]].lost++;
            count(ST_MC_LOSSY);
            break;
        case MK_SELECT:
            for (int i = 0; i < 2; i++) {
                if (t->vid[i] >= 0) {
                    M.val[t->vid[i]].state = V_UNCERTAIN;
                } else {
                    M.in[t->inst[i]].receivers--;
                    M.in[t->inst[i]].lost++;
                    count(ST_MC_LOSSY);
                }
            }
            break;
        case MK_COMPUTE:
            /* Only a shared-stack one back home, by its own controller. */
            if (!(t->attrs & AT_PRIVATE)) {
                S->computing--;
                S->compute_end_tick = S->tick;
            }
            break;
        default:
            break;
        }
    }
    if ((u = mc_join_target(t)) != MC_NOBODY) {
        struct mp *up = mp_of(u);

        if (up->joiner == t->gid) {
            up->joiner = MC_NOBODY;
            up->joiner_blocked = false;
        }
        up->xstale |= up->s != t->s;
    }
    mc_unpin(t);
    t->joiner = MC_NOBODY;
    t->has_cmd = false;
    t->in_call = false;
    t->op = MK_IDLE;
    t->st = S_GONE;
}

/* Every controller resumption from a sleep: forgets the puppets whose
 * destroy was handled, lets go of the pins of joins now posted, notes
 * which releases have been handled. */
static void mc_tick(struct msched *S)
{
    for (int i = 0; i < S->na; i++) {
        struct mp *p = &S->a[i];

        if (p->st != S_ALIVE && p->st != S_ZOMBIE)
            continue;
        if (p->doomed && mc_handled(S, p->doom_id)) {
            mtrace("%s: its destroy was handled", GN(p->gid));
            mc_reap(p);
            continue;
        }
        if (p->pinned != MC_NOBODY && p->op == MK_JOIN &&
            mc_known_parked(p)) { /* its join is posted */
            struct mp *t = mp_of(p->pinned);

            if (t->s != p->s && (t->xreg = mc_issue()) >= 0)
                mc_issued(t->xreg);
            mc_unpin(p);
        }
        if (p->must_end >= 0 && !p->must_tick && mc_handled(S, p->must_end))
            p->must_tick = S->tick;
    }
    for (int k = 0; k < MC_CONDS; k++) {
        struct mcond *cq = &S->cq[k];

        if (cq->must >= 0 && !cq->must_tick && mc_handled(S, cq->must))
            cq->must_tick = S->tick;
    }
}

static void mc_sleep(struct msched *S, unsigned ms)
{
    uint64_t g;
    int r;

    mc_lock();
    g = M.G;
    mc_unlock();
    r = lthread_sleep(ms);
    mc_lock();
    if (r != 0)
        failf("ctrl%d: lthread_sleep(%u) returned %d (errno %d)", S->s, ms, r,
              errno);
    S->tick++;
    if (ms)
        S->handled = g;
    mc_tick(S);
    mc_unlock();
}

/* Sleeps and yields, then (unless a compute section may hold a region)
 * checks that every wait whose release was handled two ticks ago ended,
 * and that a signal that had to wake someone did. */
static void mc_quiesce(struct msched *S)
{
    char d[200];

    mc_sleep(S, 1);
    for (int i = 0; i < 3; i++)
        mc_sleep(S, 0);
    mc_lock();
    if (S->computing || S->compute_end_tick + 3 > S->tick) {
        mc_unlock();
        return;
    }
    count(ST_QUIESCE);
    for (int i = 0; i < S->na; i++) {
        struct mp *p = &S->a[i];

        if (p->st != S_ALIVE || p->doomed || !p->in_call || !p->must_tick)
            continue;
        if (S->tick >= p->must_tick + 2) {
            mc_describe(p, d, sizeof(d));
            failf("%s: released by issue %d, handled %u ticks ago, still "
                  "has not returned",
                  d, p->must_end, S->tick - p->must_tick);
        }
    }
    for (int k = 0; k < MC_CONDS; k++) {
        struct mcond *cq = &S->cq[k];
        bool doomed = false;

        for (int i = 0; i < cq->nw; i++)
            doomed |= mp_of(cq->w[i])->doomed;
        if (cq->must >= 0 && cq->must_tick && !doomed &&
            S->tick >= cq->must_tick + 2)
            failf("cond %d.%d: a signal issued while a waiter was parked "
                  "(issue %d), handled %u ticks ago, woke nobody (%d "
                  "waiting)",
                  S->s, k, cq->must, S->tick - cq->must_tick, cq->nw);
    }
    mc_unlock();
}

/* ---- the puppets ------------------------------------------------------- */

static void mc_op_sleep(struct mp *p)
{
    unsigned ms;
    double dt;
    int r, e;

    mc_lock();
    ms = p->opc.ms;
    p->wk_issued0 = p->wk_issued;
    p->wk_inflight0 = p->wk_inflight;
    p->wk_done0 = p->wk_done;
    mc_begin_call(p);
    mtrace("%s sleeps %u ms", GN(p->gid), ms);
    mc_unlock();
    r = lthread_sleep(ms);
    e = errno;
    dt = now_ms() - p->t0;
    mc_lock();
    mc_check_resumed(p, "after lthread_sleep");
    if (r != 0)
        failf("%s: lthread_sleep(%u) returned %d (errno %d)", GN(p->gid), ms, r,
              e);
    if (dt + 0.01 < (double)ms) {
        bool woken = p->wk_inflight0 || p->wk_done0 > p->h0 ||
                     p->wk_issued != p->wk_issued0;

        if (!woken)
            failf("%s: lthread_sleep(%u) returned after %.3f ms, and no "
                  "wakeup could have ended it (%u issued, none in flight)",
                  GN(p->gid), ms, dt, p->wk_issued);
        count(ST_MC_XWOKEN);
    }
    mtrace("%s slept %.1f ms", GN(p->gid), dt);
}

/* A cond wait of p on cq returned 0: some signal or broadcast must have
 * reached it: issued before now (all recorded ones were), not handled
 * before p began to wait. A signal wakes one waiter: the oldest unused
 * candidate is taken (a candidate for p is one for every later waiter). */
static void mc_cond_match(struct mcond *cq, struct mp *p, int s, int k)
{
    int best = -1;
    uint64_t best_done = 0;

    for (int i = 0; i < cq->nrec; i++) {
        struct mrec *rc = &cq->rec[i];
        uint64_t d = M.done[rc->id] ? M.done[rc->id] : UINT64_MAX;

        if (d != UINT64_MAX && d <= p->h0)
            continue; /* handled before p began to wait */
        if (rc->bcast)
            return;
        if (!rc->used && (best < 0 || d < best_done)) {
            best = i;
            best_done = d;
        }
    }
    if (best < 0)
        failf("%s: lthread_cond_wait on cond %d.%d returned 0, and no signal "
              "or broadcast could have woken it (%d issued)",
              GN(p->gid), s, k, cq->nrec);
    cq->rec[best].used = true;
}

static void mc_op_cond(struct mp *p)
{
    struct msched *S = &M.S[p->s];
    int k = p->opc.arg, r, e;
    struct mcond *cq = &S->cq[k];
    uint64_t tmo;

    mc_lock();
    cq->w[cq->nw++] = p->gid;
    tmo = mc_tmo(&p->opc);
    mc_begin_call(p);
    mtrace("%s waits on cond %d.%d (%s)", GN(p->gid), p->s, k,
           tc_names[p->opc.tc]);
    mc_unlock();
    r = lthread_cond_wait(cq->c, tmo);
    e = errno;
    mc_lock();
    mc_check_resumed(p, "after lthread_cond_wait");
    mc_cq_remove(cq, p->gid);
    if (r == 0) {
        mc_cond_match(cq, p, p->s, k);
        cq->must = -1; /* someone was woken */
        count(ST_MC_COND_OK);
    } else if (r == -2 && e == ETIMEDOUT) {
        if (p->opc.tc != T_SHORT)
            failf("%s: lthread_cond_wait (%s) timed out", GN(p->gid),
                  tc_names[p->opc.tc]);
        if (mc_early(p->t0, tmo))
            failf("%s: lthread_cond_wait timed out after %.3f ms, before its "
                  "%llu ms",
                  GN(p->gid), now_ms() - p->t0, (unsigned long long)tmo);
        count(ST_MC_COND_TIMEOUT);
    } else {
        failf("%s: lthread_cond_wait returned %d (errno %d %s)", GN(p->gid), r,
              e, strerror(e));
    }
    mtrace("%s: cond %d.%d wait returned %d", GN(p->gid), p->s, k, r);
}

/* The outcome of a join by `who` of t (timeout tmo ms, begun at t0). */
static void mc_join_done(const char *who, struct mp *t, int r, int e, void *v,
                         uint64_t tmo, double t0, bool cross)
{
    unsigned out = outcome_of(r, e);

    if (out == O_OK) {
        if (!t->exited)
            failf("%s: lthread_join(%s) returned 0, but it has not exited", who,
                  GN(t->gid));
        if (v != t->exit_value)
            failf("%s: lthread_join(%s) gave exit value %p, not %p", who,
                  GN(t->gid), v, t->exit_value);
        t->st = S_GONE; /* freed by the join: joined once */
        t->joiner = MC_NOBODY;
        count(cross ? ST_MC_XJOIN_OK : ST_JOIN_OK);
    } else if (out == O_TIMEOUT) {
        if (!tmo || tmo == LONG_MS)
            failf("%s: lthread_join(%s, %llu ms) timed out", who, GN(t->gid),
                  (unsigned long long)tmo);
        if (mc_early(t0, tmo))
            failf("%s: lthread_join(%s) timed out after %.3f ms, before its "
                  "%llu ms",
                  who, GN(t->gid), now_ms() - t0, (unsigned long long)tmo);
        if (v != SENTINEL)
            failf("%s: lthread_join(%s) timed out but wrote *ptr", who,
                  GN(t->gid));
        t->joiner = MC_NOBODY; /* joinable again */
        t->joiner_blocked = false;
        t->xstale |= cross;
        count(cross ? ST_MC_XJOIN_TIMEOUT : ST_JOIN_TIMEOUT);
    } else if (out == O_CANCELED) {
        if (!t->doomed)
            failf("%s: lthread_join(%s) failed with ECANCELED; nobody "
                  "destroyed it",
                  who, GN(t->gid));
        t->joiner = MC_NOBODY;
        count(cross ? ST_MC_XJOIN_CANCELED : ST_MC_JOIN_CANCELED);
    } else {
        failf("%s: lthread_join(%s) returned %d (errno %d %s)", who, GN(t->gid),
              r, e, strerror(e));
    }
}

static void mc_op_join(struct mp *p)
{
    struct mp *t = mp_of(p->opc.arg);
    void *v = SENTINEL;
    uint64_t tmo;
    int r, e;
    bool cross = t->s != p->s;
    char who[16];

    mc_lock();
    if (t->joiner != p->gid || p->pinned != t->gid)
        failf("fuzzer bug: %s joins %s, not reserved for it", GN(p->gid),
              GN(t->gid));
    tmo = mc_tmo(&p->opc);
    mc_begin_call(p);
    mtrace("%s joins %s (%s)%s", GN(p->gid), GN(t->gid), tc_names[p->opc.tc],
           t->exited ? ", which has exited" : "");
    mc_unlock();
    r = lthread_join(t->lt, &v, tmo);
    e = errno;
    mc_lock();
    mc_check_resumed(p, "after lthread_join");
    mc_unpin(p);
    mtrace("%s: join of %s returned %d (errno %d)", GN(p->gid), GN(t->gid), r,
           r ? e : 0);
    mc_join_done(gname(p->gid, who, sizeof(who)), t, r, e, v, tmo, p->t0,
                 cross);
}

/* Holds mx (locked by `who`): a plain counter written only by the holder
 * says whether anyone else holds it meanwhile. */
static void mc_hold(struct mmx *mx, int idx, int who, unsigned kind, unsigned n)
{
    if (mx->held)
        failf("%s locked mutex %d, which %s holds", GN(who), idx,
              GN(mx->held - 1));
    mx->held = who + 1;
    switch (kind) {
    case HOLD_SPIN:
        for (unsigned i = 0; i < 20 + n % 200; i++) {
            __asm__ __volatile__("" ::: "memory");
            if (i % 32 == 31)
                sched_yield();
        }
        break;
    case HOLD_YIELD:
        lthread_sleep(0);
        break;
    default:
        lthread_sleep(1 + n % 2);
        break;
    }
    if (mx->held != who + 1)
        failf("%s holds mutex %d, but %s wrote its counter meanwhile", GN(who),
              idx, mx->held ? GN(mx->held - 1) : "someone");
    mx->held = 0;
}

/*
 * One locking of mutex idx by `who` (lock, timed lock or trylock), held
 * as `hold` says and unlocked. Called unlocked; returns the outcome.
 */
static void mc_mutex_round(int idx, int who, int variant, uint64_t tmo,
                           unsigned hold, unsigned n, bool in_section)
{
    struct mmx *mx = &M.mx[idx];
    unsigned e0;
    int others0, r, e, r2 = 0, e2 = 0;
    double t0;

    mc_lock();
    mx->inside++;
    e0 = ++mx->entries;
    others0 = mx->inside - 1;
    mtrace("%s %s mutex %d (%llu ms), %d others at it", GN(who),
           variant == LOCK_TRY     ? "trylocks"
           : variant == LOCK_TIMED ? "timedlocks"
                                   : "locks",
           idx, (unsigned long long)tmo, others0);
    mc_unlock();
    t0 = now_ms();
    r = variant == LOCK_TRY     ? lthread_mutex_trylock(mx->m)
        : variant == LOCK_TIMED ? lthread_mutex_timedlock(mx->m, tmo)
                                : lthread_mutex_lock(mx->m);
    e = errno;
    if (r == 0) {
        mc_hold(mx, idx, who, hold, n);
        r2 = lthread_mutex_unlock(mx->m);
        e2 = errno;
    }
    mc_lock();
    if (is_puppet(who) && !in_section)
        mc_check_resumed(mp_of(who), "after a mutex");
    mtrace("%s: mutex %d: %d", GN(who), idx, r);
    if (r == 0) {
        if (r2 != 0)
            failf("%s: lthread_mutex_unlock of mutex %d, held, returned %d "
                  "(errno %d)",
                  GN(who), idx, r2, e2);
        if (mx->ghost && e0 > mx->ghost_entries)
            mx->ghost = false;
        count(ST_MC_MUTEX_HELD);
    } else if ((variant == LOCK_TRY && r == -1 && e == EBUSY) ||
               (variant == LOCK_TIMED && r == -2 && e == ETIMEDOUT)) {
        if (variant == LOCK_TIMED && (!tmo || mc_early(t0, tmo)))
            failf("%s: lthread_mutex_timedlock(%llu ms) timed out after "
                  "%.3f ms",
                  GN(who), (unsigned long long)tmo, now_ms() - t0);
        if (!others0 && mx->entries == e0 && !mx->ghost)
            failf("%s: mutex %d: %s although nobody else was locking or "
                  "holding it",
                  GN(who), idx, variant == LOCK_TRY ? "EBUSY" : "timed out");
        count(ST_MC_MUTEX_BUSY);
    } else {
        failf("%s: locking mutex %d (variant %d) returned %d (errno %d %s)",
              GN(who), idx, variant, r, e, strerror(e));
    }
    mx->inside--;
    mc_unlock();
}

static void mc_op_mutex(struct mp *p)
{
    uint64_t tmo;

    mc_lock();
    tmo = mc_tmo(&p->opc);
    mc_begin_call(p);
    mc_unlock();
    mc_mutex_round(p->opc.arg, p->gid, p->opc.arg2, tmo, p->opc.n, p->opc.ms,
                   false);
}

/* A send by `who` of a new value on slot's channel; false if none is
 * left. Called locked; fills *ii, *vid. */
static bool mc_send_begin(int slot, int *ii, int *vid, bool *closed0)
{
    *ii = M.slot[slot];
    *vid = mc_new_value(*ii);
    *closed0 = M.in[*ii].closed;
    return *vid >= 0;
}

/* The end of a send (locked). */
static void mc_send_end(const char *who, int ii, int vid, bool closed0, int r,
                        int e, uint64_t tmo, double t0)
{
    struct minst *in = &M.in[ii];

    if (r == 0) {
        if (closed0)
            failf("%s: a send on chan #%d returned 0; its close had "
                  "returned before the send began",
                  who, ii);
        mc_sent(vid, true, who);
    } else if (r == -1 && e == EPIPE) {
        if (!in->closing)
            failf("%s: a send on chan #%d failed with EPIPE; nobody closed it",
                  who, ii);
        mc_sent(vid, false, who);
        count(ST_MC_EPIPE);
    } else if (r == -2 && e == ETIMEDOUT) {
        if (!tmo || tmo == LONG_MS || mc_early(t0, tmo))
            failf("%s: a send on chan #%d (%llu ms) timed out after %.3f ms",
                  who, ii, (unsigned long long)tmo, now_ms() - t0);
        mc_sent(vid, false, who);
        count(ST_MC_CHAN_TIMEOUT);
    } else {
        failf("%s: a send on chan #%d returned %d (errno %d %s)", who, ii, r, e,
              strerror(e));
    }
    mtrace("%s: send of value %d on chan #%d: %d", who, vid, ii, r);
}

/* The end of a receive (locked); receivers already counted down. */
static void mc_recv_end(const char *who, int ii, uint64_t snap, int r, int e,
                        uint64_t v, uint64_t tmo, double t0)
{
    struct minst *in = &M.in[ii];

    if (r == 0) {
        mc_got(ii, v, who);
    } else if (r == -1 && e == EPIPE) {
        if (!in->closing)
            failf("%s: a receive from chan #%d failed with EPIPE; nobody "
                  "closed it",
                  who, ii);
        mc_check_avail(ii, snap, who, "failed with EPIPE");
        count(ST_MC_EPIPE);
    } else if (r == -2 && e == ETIMEDOUT) {
        if (!tmo || tmo == LONG_MS || mc_early(t0, tmo))
            failf("%s: a receive from chan #%d (%llu ms) timed out after "
                  "%.3f ms",
                  who, ii, (unsigned long long)tmo, now_ms() - t0);
        mc_check_avail(ii, snap, who, "timed out");
        count(ST_MC_CHAN_TIMEOUT);
    } else {
        failf("%s: a receive from chan #%d returned %d (errno %d %s)", who, ii,
              r, e, strerror(e));
    }
    mtrace("%s: receive from chan #%d: %d", who, ii, r);
}

/* One send or receive by `who` on slot (controllers, the plain pthread). */
static void mc_chan_round(int who, int slot, bool send, uint64_t tmo)
{
    int ii, vid = -1, r, e;
    bool closed0 = false;
    uint64_t v = 0, snap = 0;
    char name[16];
    double t0;

    gname(who, name, sizeof(name));
    mc_lock();
    if (send) {
        if (!mc_send_begin(slot, &ii, &vid, &closed0)) {
            mc_unlock();
            return;
        }
        v = vencode(vid);
        mtrace("%s sends value %d on chan #%d (%llu ms)", name, vid, ii,
               (unsigned long long)tmo);
    } else {
        ii = M.slot[slot];
        M.in[ii].receivers++;
        snap = M.in[ii].sent_ok;
        mtrace("%s receives from chan #%d (%llu ms)", name, ii,
               (unsigned long long)tmo);
    }
    mc_unlock();
    t0 = now_ms();
    if (send)
        r = lthread_chan_send(M.in[ii].ch, &v, tmo);
    else
        r = lthread_chan_recv(M.in[ii].ch, &v, tmo);
    e = errno;
    mc_lock();
    if (send) {
        mc_send_end(name, ii, vid, closed0, r, e, tmo, t0);
    } else {
        M.in[ii].receivers--;
        mc_recv_end(name, ii, snap, r, e, v, tmo, t0);
    }
    mc_unlock();
}

static void mc_op_send(struct mp *p)
{
    uint64_t v, tmo;
    int r, e;

    mc_lock();
    p->vid[1] = -1;
    if (!mc_send_begin(p->opc.arg, &p->inst[0], &p->vid[0], &p->closed0[0]))
        return; /* no values left */
    v = vencode(p->vid[0]);
    tmo = mc_tmo(&p->opc);
    mc_begin_call(p);
    mtrace("%s sends value %d on chan #%d (%s)", GN(p->gid), p->vid[0],
           p->inst[0], tc_names[p->opc.tc]);
    mc_unlock();
    r = lthread_chan_send(M.in[p->inst[0]].ch, &v, tmo);
    e = errno;
    mc_lock();
    mc_check_resumed(p, "after lthread_chan_send");
    mc_send_end(GN(p->gid), p->inst[0], p->vid[0], p->closed0[0], r, e, tmo,
                p->t0);
}

static void mc_op_recv(struct mp *p)
{
    uint64_t v = 0, tmo;
    int r, e;
    struct minst *in;

    mc_lock();
    p->vid[0] = p->vid[1] = -1;
    p->inst[0] = M.slot[p->opc.arg];
    in = &M.in[p->inst[0]];
    in->receivers++;
    p->snap[0] = in->sent_ok;
    tmo = mc_tmo(&p->opc);
    mc_begin_call(p);
    mtrace("%s receives from chan #%d (%s)", GN(p->gid), p->inst[0],
           tc_names[p->opc.tc]);
    mc_unlock();
    r = lthread_chan_recv(in->ch, &v, tmo);
    e = errno;
    mc_lock();
    mc_check_resumed(p, "after lthread_chan_recv");
    in->receivers--;
    mc_recv_end(GN(p->gid), p->inst[0], p->snap[0], r, e, v, tmo, p->t0);
}

static void mc_op_select(struct mp *p)
{
    struct lthread_chan_op ops[2];
    uint64_t v[2] = {0, 0}, tmo;
    int r, e, variant = (int)p->opc.n;

    mc_lock();
    if (M.nval + 2 > MC_VALUES)
        return; /* no values left */
    for (int i = 0; i < 2; i++) {
        int slot = i ? p->opc.arg2 : p->opc.arg;
        bool send = variant == SEL_SS || (variant == SEL_SR && i == 0);

        p->vid[i] = -1;
        if (send) {
            (void)mc_send_begin(slot, &p->inst[i], &p->vid[i], &p->closed0[i]);
            v[i] = vencode(p->vid[i]);
        } else {
            p->inst[i] = M.slot[slot];
            M.in[p->inst[i]].receivers++;
            p->snap[i] = M.in[p->inst[i]].sent_ok;
        }
        ops[i] = (struct lthread_chan_op){
            M.in[p->inst[i]].ch, send ? LTHREAD_CHAN_SEND : LTHREAD_CHAN_RECV,
            &v[i], -1};
    }
    tmo = mc_tmo(&p->opc);
    mc_begin_call(p);
    mtrace("%s selects: %s chan #%d, %s chan #%d (%s)", GN(p->gid),
           p->vid[0] >= 0 ? "send" : "recv", p->inst[0],
           p->vid[1] >= 0 ? "send" : "recv", p->inst[1], tc_names[p->opc.tc]);
    mc_unlock();
    r = lthread_chan_select(ops, 2, tmo);
    e = errno;
    mc_lock();
    mc_check_resumed(p, "after lthread_chan_select");
    count(ST_MC_SELECTS);
    for (int i = 0; i < 2; i++)
        if (p->vid[i] < 0)
            M.in[p->inst[i]].receivers--;
    mtrace("%s: select returned %d (err %d)", GN(p->gid), r,
           r == 0 || r == 1 ? ops[r].err : e);
    if (r == 0 || r == 1) {
        int err = ops[r].err;

        if (err != 0 && err != EPIPE)
            failf("%s: select returned %d with err %d", GN(p->gid), r, err);
        if (p->vid[r] >= 0)
            mc_send_end(GN(p->gid), p->inst[r], p->vid[r], p->closed0[r],
                        err ? -1 : 0, err, tmo, p->t0);
        else
            mc_recv_end(GN(p->gid), p->inst[r], p->snap[r], err ? -1 : 0, err,
                        v[r], tmo, p->t0);
        if (p->vid[!r] >= 0)
            mc_sent(p->vid[!r], false, GN(p->gid));
    } else if (r == -2 && e == ETIMEDOUT) {
        if (!tmo || tmo == LONG_MS || mc_early(p->t0, tmo))
            failf("%s: select (%llu ms) timed out after %.3f ms", GN(p->gid),
                  (unsigned long long)tmo, now_ms() - p->t0);
        for (int i = 0; i < 2; i++) {
            if (p->vid[i] >= 0)
                mc_sent(p->vid[i], false, GN(p->gid));
            else
                mc_check_avail(p->inst[i], p->snap[i], GN(p->gid),
                               "(in a select) timed out");
        }
        count(ST_MC_CHAN_TIMEOUT);
    } else {
        failf("%s: select returned %d (errno %d %s)", GN(p->gid), r, e,
              strerror(e));
    }
}

/* Runs on a compute pthread: the calls that must fail there (section()),
 * a pause, and maybe a mutex, which blocks this pthread to wait. */
static void mc_section(struct mp *p, unsigned us, int idx, bool checks)
{
    unsigned bad = section(us, checks, p->lt);

    if (bad)
        failf("%s: in a compute section, calls that must fail did not (mask "
              "%#x)",
              GN(p->gid), bad);
    if (idx >= 0) {
        count(ST_MC_COMPUTE_MUTEX);
        mc_mutex_round(idx, p->gid, LOCK_PLAIN, 0, HOLD_SPIN, us, true);
    }
}

static void mc_op_compute(struct mp *p)
{
    struct msched *S = &M.S[p->s];
    bool priv = p->attrs & AT_PRIVATE;
    int r, r2;

    mc_lock();
    if (!priv)
        S->computing++;
    mc_begin_call(p);
    mtrace("%s computes %u us%s", GN(p->gid), p->opc.n,
           p->opc.arg2 >= 0 ? " with a mutex" : "");
    mc_unlock();
    r = lthread_compute_begin();
    if (r != 0)
        failf("%s: lthread_compute_begin returned %d (errno %d)", GN(p->gid), r,
              errno);
    mc_section(p, p->opc.n, p->opc.arg2, p->opc.arg);
    r2 = lthread_compute_end();
    mc_lock();
    mc_check_resumed(p, "after its compute section");
    if (r2 != 0)
        failf("%s: lthread_compute_end returned %d", GN(p->gid), r2);
    if (!priv) {
        S->computing--;
        S->compute_end_tick = S->tick;
    }
    count(ST_COMPUTE);
    mtrace("%s: compute done", GN(p->gid));
}

/* Exits (called locked; unlocks). Its joiner on the same scheduler, known
 * parked, must then wake; across schedulers it is two posts away. */
static void mc_op_exit(struct mp *p)
{
    p->exited = true;
    p->st = p->detached ? S_GONE : S_ZOMBIE;
    if (is_puppet(p->joiner)) {
        struct mp *j = mp_of(p->joiner);

        if (j->s == p->s && j->op == MK_JOIN && mc_known_parked(j) &&
            j->must_end < 0) {
            j->must_end = mc_issue();
            if (j->must_end >= 0)
                mc_issued(j->must_end);
        }
    }
    count(ST_EXIT);
    mtrace("%s %s, value %p", GN(p->gid),
           p->op == MK_RETURN ? "returns" : "calls lthread_exit",
           p->exit_value);
    mc_unlock();
}

/* Runs a command; false when the puppet must return from its function.
 * Called and returns unlocked. */
static bool mc_do(struct mp *p)
{
    switch (p->op) {
    case MK_SLEEP:
        mc_op_sleep(p);
        break;
    case MK_COND:
        mc_op_cond(p);
        break;
    case MK_JOIN:
        mc_op_join(p);
        break;
    case MK_MUTEX:
        mc_op_mutex(p);
        mc_lock();
        break;
    case MK_SEND:
        mc_op_send(p);
        break;
    case MK_RECV:
        mc_op_recv(p);
        break;
    case MK_SELECT:
        mc_op_select(p);
        break;
    case MK_COMPUTE:
        mc_op_compute(p);
        break;
    case MK_EXIT:
        mc_lock();
        mc_op_exit(p);
        lthread_exit(p->exit_value);
        failf("%s: lthread_exit returned", GN(p->gid));
    case MK_RETURN:
        mc_lock();
        mc_op_exit(p);
        return false;
    default:
        mc_lock();
        failf("fuzzer bug: %s told to %s", GN(p->gid), mk_names[p->op]);
    }
    /* Locked here. */
    p->op = MK_IDLE;
    p->in_call = false;
    p->must_end = -1;
    p->must_tick = 0;
    mc_unlock();
    return true;
}

static __attribute__((noinline)) void mc_puppet(struct mp *p)
{
    mc_lock();
    mc_check_resumed(p, "its first run");
    lthread_set_data(p);
    p->ran = true;
    for (;;) {
        while (!p->has_cmd) {
            int r;

            mc_unlock();
            r = lthread_cond_wait(p->mailbox, 0);
            mc_lock();
            mc_check_resumed(p, "after its mailbox wait");
            if (r != 0)
                failf("%s: its mailbox wait returned %d (errno %d)", GN(p->gid),
                      r, errno);
            if (!p->has_cmd)
                failf("%s woke from its mailbox wait with no command",
                      GN(p->gid));
        }
        p->has_cmd = false;
        p->op = p->cmd.kind;
        p->opc = p->cmd;
        mc_unlock();
        if (!mc_do(p))
            return;
        mc_lock();
    }
}

#define MC_PUPPET(n)                                                           \
    static void mc_puppet_##n(lthread_t *lt, void *arg)                        \
    {                                                                          \
        (void)lt;                                                              \
        mc_puppet(arg);                                                        \
    }
MC_PUPPET(0)
MC_PUPPET(1)
MC_PUPPET(2)
MC_PUPPET(3)
MC_PUPPET(4)
MC_PUPPET(5)
MC_PUPPET(6)
MC_PUPPET(7)
static lthread_func mc_puppet_fns[8] = {mc_puppet_0, mc_puppet_1, mc_puppet_2,
                                        mc_puppet_3, mc_puppet_4, mc_puppet_5,
                                        mc_puppet_6, mc_puppet_7};

/* ---- what anyone may do to a puppet -------------------------------------- */

static bool mc_touchable(const struct mp *t)
{
    return (t->st == S_ALIVE || t->st == S_ZOMBIE) && !t->doomed &&
           !t->untouchable;
}

/* Others may name it (and pin it): it cannot be freed meanwhile by its
 * joiner (exited, or told to exit, with a joiner). */
static bool mc_nameable(const struct mp *t)
{
    return mc_touchable(t) &&
           !(t->joiner != MC_NOBODY && (t->exiting || t->st == S_ZOMBIE));
}

/* Holding a mutex across a suspension: a destroy there would keep it
 * locked forever. */
static bool mc_holds_across(const struct mp *t)
{
    return (t->has_cmd && t->cmd.kind == MK_MUTEX && t->cmd.n != HOLD_SPIN) ||
           (t->op == MK_MUTEX && t->opc.n != HOLD_SPIN);
}

static bool mc_does(const struct mp *t, enum mk kind)
{
    return (t->has_cmd && t->cmd.kind == kind) || t->op == kind;
}

/* A mutex or channel call: a destroy there may come just after the call
 * was served, with the lthread woken and not yet run, which the library
 * gets wrong (tests/README.md); only with -D until it is fixed. */
static bool mc_sync_call(const struct mp *t)
{
    return mc_does(t, MK_MUTEX) || mc_does(t, MK_SEND) || mc_does(t, MK_RECV) ||
           mc_does(t, MK_SELECT);
}

/* May `sync` (its own controller: done at once) or another pthread
 * (posted) destroy t? A computing puppet on a shared stack only at home:
 * from elsewhere its destroy waits for its return, while its region-mates
 * wait for its frames, which the model cannot see. */
static bool mc_destroyable(const struct mp *t, bool sync)
{
    int u = mc_join_target(t);

    if (!mc_nameable(t) || t->pins || mc_holds_across(t))
        return false;
    if (!run.defects) {
        /* Known defects (tests/README.md): a waiter destroyed just after
         * its call was served, before it ran (mutex, channel, and a join
         * across schedulers whose outcome is on its way)... */
        if (mc_sync_call(t))
            return false;
        if (u != MC_NOBODY && mp_of(u)->s != t->s &&
            (mp_of(u)->exiting || mp_of(u)->exited || mp_of(u)->doomed ||
             mp_of(u)->st != S_ALIVE))
            return false;
        /* ...and a joinee destroyed at home before a join from elsewhere
         * is registered there (the joiner gets ESRCH). */
        if (sync && is_puppet(t->joiner) && mp_of(t->joiner)->s != t->s &&
            !mc_handled(&M.S[t->s], t->xreg))
            return false;
    }
    return sync || !mc_does(t, MK_COMPUTE) || (t->attrs & AT_PRIVATE);
}

static bool mc_joinable(const struct mp *t)
{
    return mc_nameable(t) && !t->detached && t->joiner == MC_NOBODY &&
           !t->pins && !t->joiner_blocked;
}

/* Follows joins (told or under way) from a: true if they reach b. */
static bool mc_joins_reach(int a, int b)
{
    for (int hops = 0; hops <= MC_NPUP; hops++) {
        if (a == b)
            return true;
        if (!is_puppet(a) || (a = mc_join_target(mp_of(a))) == MC_NOBODY)
            return false;
    }
    return true;
}

/* A random puppet (of scheduler `only`, or any with -1) satisfying pred. */
static struct mp *mc_pick(struct rng *r, int only,
                          bool (*pred)(const struct mp *))
{
    int n = only >= 0 ? MC_SLOTS : M.ns * MC_SLOTS;
    int base = only >= 0 ? only * MC_SLOTS : 0;
    int start = (int)below(r, (unsigned)n);

    for (int i = 0; i < n; i++) {
        struct mp *t = mp_of(base + (start + i) % n);

        if (t->st != S_UNUSED && pred(t))
            return t;
    }
    return NULL;
}

/*
 * Destroys t, from `who` (locked on entry and exit). From its own
 * controller it is done at once (0, or EBUSY while it computes); from
 * anywhere else it is posted, and the model forgets t once its scheduler
 * handled that: what t's wait did meanwhile is judged by t itself.
 */
static void mc_destroy(int who, struct mp *t)
{
    bool sync = who == MC_CTRL(t->s);
    bool computing = t->op == MK_COMPUTE && t->in_call;
    int u = mc_join_target(t), r, e;
    char d[200];

    t->doom_id = mc_issue();
    if (t->doom_id < 0)
        return;
    t->doomed = true;
    mc_describe(t, d, sizeof(d));
    if (!sync && u != MC_NOBODY) {
        struct mp *up = mp_of(u);

        /* Its join may still complete (up freed) or be cancelled. */
        if (up->exiting || up->st == S_ZOMBIE)
            up->untouchable = true;
        else
            up->joiner_blocked = true;
    }
    mc_unlock();
    r = lthread_destroy(t->lt);
    e = errno;
    mc_lock();
    mtrace("%s destroys %s: %d%s", GN(who), d, r, sync ? "" : " (posted)");
    if (sync && r == -1 && e == EBUSY && computing) {
        t->doomed = false;
        mc_issued(t->doom_id);
        t->doom_id = -1;
        count(ST_DESTROY_BUSY);
        return;
    }
    if (r != 0)
        failf("%s: lthread_destroy(%s) returned %d (errno %d %s)", GN(who), d,
              r, e, strerror(e));
    mc_issued(t->doom_id);
    count(sync ? ST_DESTROYED : ST_MC_XDESTROY);
    if (!sync && computing)
        count(ST_MC_XDESTROY_COMPUTING);
    if (sync) {
        if (u != MC_NOBODY && mp_of(u)->s != t->s &&
            (mp_of(u)->exiting || mp_of(u)->st == S_ZOMBIE))
            mp_of(u)->untouchable = true; /* its cross join: maybe done */
        if (is_puppet(t->joiner)) {
            struct mp *j = mp_of(t->joiner);

            if (j->s == t->s && j->op == MK_JOIN && mc_known_parked(j) &&
                j->must_end < 0)
                j->must_end = t->doom_id;
        }
        mc_reap(t);
    }
}

/* Wakes t (locked on entry and exit). */
static void mc_wakeup(int who, struct mp *t)
{
    int id = mc_issue(), r, e;
    bool cross = who != MC_CTRL(t->s);

    if (id < 0)
        return;
    t->pins++;
    t->wk_issued++;
    t->wk_inflight++;
    if (t->op == MK_SLEEP && mc_known_parked(t) && t->must_end < 0)
        t->must_end = id;
    mtrace("%s wakes %s (%s%s)", GN(who), GN(t->gid), mk_names[t->op],
           t->in_call ? ", in call" : "");
    mc_unlock();
    r = lthread_wakeup(t->lt);
    e = errno;
    mc_lock();
    if (r != 0)
        failf("%s: lthread_wakeup(%s) returned %d (errno %d)", GN(who),
              GN(t->gid), r, e);
    mc_issued(id);
    t->wk_inflight--;
    if (M.done[id] > t->wk_done)
        t->wk_done = M.done[id];
    t->pins--;
    if (cross)
        count(ST_MC_XWAKE);
}

/* Signals or broadcasts cond k of scheduler s (locked on entry, exit). */
static void mc_signal(int who, int s, int k, bool bcast)
{
    struct mcond *cq = &M.S[s].cq[k];
    struct mrec *rc;
    int known = 0, id, r, e;

    if (cq->nrec >= MC_RECS || (id = mc_issue()) < 0)
        return;
    rc = &cq->rec[cq->nrec++];
    rc->id = id;
    rc->bcast = bcast;
    rc->used = false;
    for (int i = 0; i < cq->nw; i++) {
        struct mp *w = mp_of(cq->w[i]);

        if (w->opc.tc == T_SHORT || w->doomed || !mc_known_parked(w))
            continue;
        known++;
        if (bcast && w->must_end < 0)
            w->must_end = id;
    }
    if (!bcast && known && cq->must < 0) {
        cq->must = id;
        cq->must_tick = 0;
        count(ST_MC_MUST_WAKE);
    }
    mtrace("%s %s cond %d.%d (%d waiting, %d known parked)", GN(who),
           bcast ? "broadcasts" : "signals", s, k, cq->nw, known);
    mc_unlock();
    r = bcast ? lthread_cond_broadcast(cq->c) : lthread_cond_signal(cq->c);
    e = errno;
    mc_lock();
    if (r != 0)
        failf("%s: signalling cond %d.%d returned %d (errno %d)", GN(who), s, k,
              r, e);
    mc_issued(id);
    if (who != MC_CTRL(s))
        count(ST_MC_XSIGNAL);
}

/* Closes slot's channel and puts a new one there (locked). */
static void mc_close(int who, int slot, bool replace, struct rng *rg)
{
    int ii = M.slot[slot], r, e;
    struct minst *in = &M.in[ii];

    if (in->closing)
        return;
    if (replace) {
        struct minst *nw;

        if (M.ninst >= MC_INST)
            return;
        nw = &M.in[M.ninst];
        memset(nw, 0, sizeof(*nw));
        nw->cap = below(rg, 3) == 0 ? 0 : 1 + below(rg, 4);
        nw->slot = slot;
        if (lthread_chan_create(&nw->ch, sizeof(uint64_t), nw->cap) != 0)
            failf("lthread_chan_create failed (errno %d)", errno);
        M.slot[slot] = M.ninst++;
    }
    in->closing = true;
    mc_unlock();
    r = lthread_chan_close(in->ch);
    e = errno;
    mc_lock();
    mtrace("%s closes chan #%d: %d", GN(who), ii, r);
    if (r != 0)
        failf("%s: lthread_chan_close(#%d) returned %d (errno %d)", GN(who), ii,
              r, e);
    in->closed = true;
    count(ST_MC_CLOSES);
    if (below(rg, 4) == 0) {
        mc_unlock();
        r = lthread_chan_close(in->ch);
        e = errno;
        mc_lock();
        if (r != -1 || e != EPIPE)
            failf("closing chan #%d again returned %d (errno %d), not EPIPE",
                  ii, r, e);
    }
}

/* A join by a controller (locked on entry and exit): of a puppet that has
 * exited (0), or of one that cannot exit meanwhile (pinned: -2). */
static bool mc_zombie_joinable(const struct mp *t)
{
    return mc_joinable(t) && t->st == S_ZOMBIE;
}

static void mc_ctrl_join(struct msched *S, struct rng *r, bool zombies)
{
    struct mp *t = mc_pick(r, -1, zombies ? mc_zombie_joinable : mc_joinable);
    void *v = SENTINEL;
    uint64_t tmo;
    double t0;
    int rc, e;

    if (!t)
        return;
    if (t->exiting || t->st == S_ZOMBIE)
        tmo = pct(r, 50) ? 0 : 1 + below(r, 3);
    else
        tmo = 1 + below(r, 3);
    t->joiner = MC_CTRL(S->s);
    t->pins++;
    mtrace("ctrl%d joins %s (%llu ms)", S->s, GN(t->gid),
           (unsigned long long)tmo);
    mc_unlock();
    t0 = now_ms();
    rc = lthread_join(t->lt, &v, tmo);
    e = errno;
    mc_lock();
    t->pins--;
    mtrace("ctrl%d: join of %s returned %d", S->s, GN(t->gid), rc);
    count(ST_JOIN_CTRL);
    mc_join_done(S->name, t, rc, e, v, tmo, t0, t->s != S->s);
}

/* Calls that must fail, by an lthread (a controller). */
static void mc_misc(struct msched *S, struct rng *r)
{
    lthread_mutex_t *m;
    lthread_chan_t *c;
    uint64_t v = 1, w = 0;
    struct lthread_chan_op op = {NULL, LTHREAD_CHAN_RECV, &w, 0};

    switch (below(r, 3)) {
    case 0:
        if (lthread_mutex_create(&m) != 0)
            failf("lthread_mutex_create failed");
        EXPECT_FAIL(lthread_mutex_unlock(m), EPERM);
        if (lthread_mutex_lock(m) != 0)
            failf("locking a free mutex failed");
        EXPECT_FAIL(lthread_mutex_lock(m), EDEADLK);
        EXPECT_FAIL(lthread_mutex_trylock(m), EBUSY);
        EXPECT_FAIL(lthread_mutex_destroy(m), EBUSY);
        if (lthread_mutex_unlock(m) != 0 || lthread_mutex_destroy(m) != 0)
            failf("unlocking and destroying a mutex failed");
        EXPECT_FAIL(lthread_mutex_unlock(M.mx[below(r, MC_MUTEXES)].m), EPERM);
        break;
    case 1:
        EXPECT_FAIL(lthread_chan_create(&c, 0, 1), EINVAL);
        if (lthread_chan_create(&c, sizeof(v), 1) != 0)
            failf("lthread_chan_create failed");
        if (lthread_chan_send(c, &v, 0) != 0 ||
            lthread_chan_send(c, &v, 1) != -2)
            failf("a channel of capacity 1 takes one value, then times out");
        if (lthread_chan_recv(c, &w, 0) != 0 || w != v ||
            lthread_chan_recv(c, &w, 1) != -2)
            failf("a channel of capacity 1 gives its value, then times out");
        if (lthread_chan_close(c) != 0)
            failf("closing a channel failed");
        EXPECT_FAIL(lthread_chan_close(c), EPIPE);
        EXPECT_FAIL(lthread_chan_send(c, &v, 0), EPIPE);
        EXPECT_FAIL(lthread_chan_recv(c, &w, 0), EPIPE);
        op.ch = c;
        EXPECT_FAIL(lthread_chan_select(&op, 0, 0), EINVAL);
        if (lthread_chan_select(&op, 1, 0) != 0 || op.err != EPIPE)
            failf("select on a closed, empty channel: not index 0, EPIPE");
        if (lthread_chan_destroy(c) != 0)
            failf("destroying a channel failed");
        break;
    default:
        EXPECT_FAIL(lthread_run(), EPERM);
        EXPECT_FAIL(lthread_destroy(S->ctrl), EDEADLK);
        EXPECT_FAIL(lthread_join(S->ctrl, NULL, 0), EDEADLK);
        EXPECT_FAIL(lthread_wakeup(NULL), EINVAL);
        EXPECT_FAIL(lthread_chan_send(NULL, &v, 0), EINVAL);
        EXPECT_FAIL(lthread_mutex_lock(NULL), EINVAL);
        break;
    }
}

/* ---- the controllers ------------------------------------------------------
 */

static int mc_live(const struct msched *S)
{
    int n = 0;

    for (int i = 0; i < S->na; i++)
        if (S->a[i].st == S_ALIVE || S->a[i].st == S_SPAWNING)
            n++;
    return n;
}

/* A new puppet of S (locked; from its controller or before the run). */
static void mc_create(struct msched *S, struct rng *r)
{
    struct mp *p;
    lthread_attr_t attr;
    int rc;

    if (S->na >= MC_SLOTS || mc_live(S) >= MC_LIVE)
        return;
    p = &S->a[S->na];
    memset(p, 0, sizeof(*p));
    p->gid = S->s * MC_SLOTS + S->na++;
    p->s = S->s;
    p->joiner = p->pinned = MC_NOBODY;
    p->must_end = p->doom_id = p->xreg = -1;
    p->op = MK_IDLE;
    if (pct(r, 35)) {
        p->attrs = AT_EX;
        if (pct(r, 25))
            p->attrs |= AT_DETACHED;
        if (pct(r, 50))
            p->attrs |= AT_PRIVATE;
    }
    p->detached = p->attrs & AT_DETACHED;
    if (lthread_cond_create(&p->mailbox) != 0)
        failf("lthread_cond_create failed (errno %d)", errno);
    p->st = S_SPAWNING;
    lthread_attr_init(&attr);
    if (p->attrs & AT_DETACHED)
        attr.flags |= LTHREAD_ATTR_DETACHED;
    if (p->attrs & AT_PRIVATE)
        attr.flags |= LTHREAD_ATTR_PRIVATE_STACK;
    rc = lthread_create_ex(&p->lt, mc_puppet_fns[below(r, 8)], p, &attr);
    mtrace("create %s%s%s: %d", GN(p->gid), p->detached ? ", detached" : "",
           (p->attrs & AT_PRIVATE) ? ", private stack" : "", rc);
    if (rc != 0)
        failf("creating %s returned %d (errno %d)", GN(p->gid), rc, errno);
    p->st = S_ALIVE;
    count(ST_CREATED);
}

static bool mc_idle(const struct mp *p)
{
    return p->st == S_ALIVE && !p->doomed && !p->untouchable && !p->exiting &&
           !p->has_cmd && p->op == MK_IDLE;
}

static enum tclass mc_tc(struct rng *r)
{
    unsigned x = below(r, 10);

    return x < 4 ? T_SHORT : x < 8 ? T_NONE : T_LONG;
}

/* Tells p to exit (locked); false if it may not now. */
static bool mc_post_exit(struct mp *p, bool ret)
{
    if (p->pins || p->joiner_blocked)
        return false;
    p->cmd = (struct mcmd){.kind = ret ? MK_RETURN : MK_EXIT};
    p->exiting = true;
    p->exit_value =
        ret ? NULL : (void *)(uintptr_t)(0xE0000 + (unsigned)p->gid * 16u);
    if (p->detached)
        p->untouchable = true; /* freed when it exits */
    return true;
}

static void mc_post(struct mp *p)
{
    int r;

    p->has_cmd = true;
    mtrace("tell %s: %s (arg %d/%d, %s, ms %u, n %u)", GN(p->gid),
           mk_names[p->cmd.kind], p->cmd.arg, p->cmd.arg2, tc_names[p->cmd.tc],
           p->cmd.ms, p->cmd.n);
    r = lthread_cond_signal(p->mailbox); /* ours: no switch */
    if (r != 0)
        failf("signalling %s's mailbox failed (errno %d)", GN(p->gid), errno);
}

static void mc_act_post(struct msched *S, struct rng *r)
{
    struct mp *p = mc_pick(r, S->s, mc_idle), *t;
    struct mcmd c = {.arg2 = -1};
    unsigned x = below(r, 100);

    if (!p)
        return;
    c.tc = mc_tc(r);
    c.ms = 1 + below(r, 8);
    if (x < 14) {
        unsigned y = below(r, 10);

        c.kind = MK_SLEEP;
        c.ms = y < 2   ? 0
               : y < 5 ? 1 + below(r, 3)
               : y < 8 ? 4 + below(r, 9)
                       : LONG_MS;
    } else if (x < 28) {
        c.kind = MK_COND;
        c.arg = (int)below(r, MC_CONDS);
    } else if (x < 40) {
        c.kind = MK_JOIN;
        t = mc_pick(r, pct(r, 60) ? -1 : S->s, mc_joinable);
        if (!t || t == p || mc_joins_reach(t->gid, p->gid))
            return;
        c.arg = t->gid;
        t->joiner = p->gid;
        t->xreg = -1;
        t->pins++;
        p->pinned = t->gid;
    } else if (x < 53) {
        c.kind = MK_MUTEX;
        c.arg = (int)below(r, MC_MUTEXES);
        c.arg2 = (int)below(r, 3);
        c.n = below(r, 3);
        if (c.arg2 == LOCK_TIMED && c.tc == T_NONE)
            c.tc = T_SHORT;
    } else if (x < 65) {
        c.kind = MK_SEND;
        c.arg = (int)below(r, MC_CHANS);
    } else if (x < 77) {
        c.kind = MK_RECV;
        c.arg = (int)below(r, MC_CHANS);
    } else if (x < 82) {
        c.kind = MK_SELECT;
        c.arg = (int)below(r, MC_CHANS);
        c.arg2 = (c.arg + 1) % MC_CHANS;
        c.n = below(r, 3);
    } else if (x < 89) {
        c.kind = MK_COMPUTE;
        c.n = pct(r, 15) ? 500 + below(r, 1500) : below(r, 300);
        /* The calls that must fail there; its wakeup of itself, posted
         * home, would be drained with its return, which the library gets
         * wrong after a destroy from elsewhere (tests/README.md): only
         * where that cannot come (a shared stack) without -D. */
        c.arg = pct(r, 20) && (run.defects || !(p->attrs & AT_PRIVATE));
        /* A mutex there blocks the compute pthread: on a shared stack its
         * region-mates, the holder maybe, could not run meanwhile. */
        c.arg2 = (p->attrs & AT_PRIVATE) && pct(r, 40)
                     ? (int)below(r, MC_MUTEXES)
                     : -1;
    } else {
        if (!mc_post_exit(p, pct(r, 30)))
            return;
        c = p->cmd;
    }
    p->cmd = c;
    mc_post(p);
}

static bool mc_sleeping(const struct mp *t)
{
    return mc_nameable(t) && t->st == S_ALIVE && t->op == MK_SLEEP;
}

static bool mc_alive_nameable(const struct mp *t)
{
    return mc_nameable(t) && t->st == S_ALIVE;
}

static bool mc_destroyable_sync(const struct mp *t)
{
    return mc_destroyable(t, true);
}

static bool mc_destroyable_async(const struct mp *t)
{
    return mc_destroyable(t, false);
}

/* Acts on puppets, conds, mutexes and channels: a controller (`S`) or the
 * plain pthread (S NULL). Returns false if it did nothing. Locked. */
static bool mc_act_any(int who, struct msched *S, struct rng *r, unsigned x)
{
    struct mp *t;
    int s;

    if (x < 25) { /* wakeup, mostly of a sleeper */
        if (!(t = mc_pick(r, -1, mc_sleeping)) &&
            !(pct(r, 30) && (t = mc_pick(r, -1, mc_alive_nameable))))
            return false;
        mc_wakeup(who, t);
    } else if (x < 37) { /* destroy */
        s = (int)below(r, (unsigned)M.ns);
        if (S && s == S->s)
            t = mc_pick(r, s, mc_destroyable_sync);
        else
            t = mc_pick(r, s, mc_destroyable_async);
        if (!t)
            return false;
        mc_destroy(who, t);
    } else if (x < 62) { /* signal, broadcast: mostly where someone waits */
        int k;

        s = (int)below(r, (unsigned)M.ns);
        k = (int)below(r, MC_CONDS);
        for (int i = 0; i < M.ns * MC_CONDS && !M.S[s].cq[k].nw && pct(r, 80);
             i++) {
            k = (k + 1) % MC_CONDS;
            if (!k)
                s = (s + 1) % M.ns;
        }
        mc_signal(who, s, k, pct(r, 30));
    } else if (x < 74) { /* a mutex */
        unsigned variant =
            S ? (pct(r, 50) ? LOCK_TRY : LOCK_TIMED) : below(r, 3);

        mc_unlock();
        mc_mutex_round((int)below(r, MC_MUTEXES), who, (int)variant,
                       variant == LOCK_TIMED ? 1 + below(r, 3) : 0, HOLD_SPIN,
                       below(r, 400), false);
        mc_lock();
    } else if (x < 97) { /* a channel */
        mc_unlock();
        mc_chan_round(who, (int)below(r, MC_CHANS), pct(r, 55),
                      1 + below(r, 4));
        mc_lock();
    } else { /* close */
        mc_close(who, (int)below(r, MC_CHANS), true, r);
    }
    return true;
}

static void mc_ctrl_step(struct msched *S, struct rng *r)
{
    unsigned x = below(r, 1000);

    mc_lock();
    if (mc_live(S) < S->target_live && pct(r, 30)) {
        mc_create(S, r);
    } else if (x < 420) {
        mc_act_post(S, r);
    } else if (x < 700) {
        mc_act_any(MC_CTRL(S->s), S, r, below(r, 100));
    } else if (x < 730) {
        mc_ctrl_join(S, r, false);
    } else if (x < 750) {
        mc_unlock();
        mc_misc(S, r);
        mc_lock();
        mtrace("ctrl%d: misc checks", S->s);
    } else {
        mc_unlock();
        if (x < 850)
            mc_sleep(S, 0);
        else if (x < 930)
            mc_sleep(S, 1 + below(r, 2));
        else
            mc_quiesce(S);
        return;
    }
    mc_unlock();
}

/* Abandoning: what the end leaves waiting forever (no timer, nothing that
 * another scheduler needs). */
static bool mc_settled(const struct mp *p)
{
    if (!mc_touchable(p) || p->st != S_ALIVE)
        return true;
    if (p->has_cmd || p->joiner != MC_NOBODY || p->joiner_blocked || p->pins)
        return false;
    /* Freed unfinished, it would leak that record (tests/README.md). */
    if (p->xstale && !run.defects)
        return false;
    return p->op == MK_IDLE ||
           (p->op == MK_COND && p->in_call && p->opc.tc == T_NONE);
}

/*
 * The end of the steps: once every controller and the plain pthread are
 * past theirs, the channels are closed (their waiters wake); each
 * controller wakes its sleepers, broadcasts its conds and tells its idle
 * puppets to exit until none is alive; the abandoning one leaves some
 * waiting forever instead. Then every controller waits for the others, so
 * that no scheduler ends while another may still name its lthreads.
 */
static void mc_drain(struct msched *S)
{
    struct rng r = mc_rng(S->s, 1 << 20);
    const long limit = 3000 * run.slow;
    char d[200];

    mc_lock();
    M.steps_done++;
    mtrace("ctrl%d: steps done, draining", S->s);
    mc_unlock();
    for (long iter = 0;; iter++) {
        bool busy = false, close_now = false;

        mc_lock();
        if (M.steps_done == M.ns + M.plain && !M.closing_all) {
            M.closing_all = close_now = true;
        }
        if (close_now) {
            for (int k = 0; k < MC_CHANS; k++)
                mc_close(MC_CTRL(S->s), k, false, &r);
            M.all_closed = true;
        }
        for (int k = 0; k < MC_CONDS && !S->abandon && !S->drained; k++) {
            struct mcond *cq = &S->cq[k];
            bool uncovered = false;

            for (int i = 0; i < cq->nw; i++)
                uncovered |= mp_of(cq->w[i])->must_end < 0;
            if (cq->nw && (uncovered || iter % 16 == 0))
                mc_signal(MC_CTRL(S->s), S->s, k, true);
        }
        for (int i = 0; i < S->na && !S->drained; i++) {
            struct mp *p = &S->a[i];

            if (p->st != S_ALIVE || p->untouchable)
                continue;
            if (p->doomed) {
                busy = true; /* until its destroy is handled */
                continue;
            }
            if (!S->abandon || !mc_settled(p))
                busy = true;
            if (p->op == MK_SLEEP && p->in_call && mc_nameable(p) &&
                (p->must_end < 0 || iter % 16 == 0)) {
                mc_wakeup(MC_CTRL(S->s), p);
            } else if (S->abandon && p->op == MK_COND && p->in_call &&
                       !mc_settled(p) && mc_destroyable(p, true)) {
                mc_destroy(MC_CTRL(S->s), p);
            } else if (mc_idle(p) && (!S->abandon || !mc_settled(p)) &&
                       mc_post_exit(p, pct(&r, 30))) {
                mc_post(p);
            }
        }
        for (int i = 0; i < S->na && !S->drained; i++) {
            struct mp *p = &S->a[i];

            if (p->st == S_ZOMBIE && mc_joinable(p) && pct(&r, 20)) {
                mc_ctrl_join(S, &r, true); /* some zombie, anyone's */
                break;
            }
        }
        if (!busy && M.all_closed && !S->drained) {
            S->drained = true;
            M.ndrained++;
            mtrace("ctrl%d drained", S->s);
        }
        if (S->drained && M.ndrained == M.ns) {
            mc_unlock();
            break;
        }
        if (iter == limit) {
            for (int i = 0; i < S->na; i++) {
                if (S->a[i].st != S_ALIVE)
                    continue;
                mc_describe(&S->a[i], d, sizeof(d));
                mtrace("left: %s", d);
            }
            failf("ctrl%d: the end does not come after %ld rounds (%d of %d "
                  "drained)",
                  S->s, limit, M.ndrained, M.ns);
        }
        mc_unlock();
        mc_sleep(S, 1);
    }
    mc_lock();
    S->expect_deadlock = false;
    for (int i = 0; i < S->na; i++)
        if (mc_touchable(&S->a[i]) && S->a[i].st == S_ALIVE)
            S->expect_deadlock = true;
    if (S->expect_deadlock && !S->abandon)
        failf("ctrl%d: puppets left alive at a clean end", S->s);
    mtrace("ctrl%d ends; lthread_run must %s", S->s,
           S->expect_deadlock ? "fail with EDEADLK" : "return 0");
    mc_unlock();
}

static void mc_controller(lthread_t *lt, void *arg)
{
    struct msched *S = arg;

    mc_lock();
    if (lthread_current() != lt || lt != S->ctrl)
        failf("ctrl%d: lthread_current() is wrong", S->s);
    mc_unlock();
    for (int step = 0; step < S->nsteps; step++) {
        struct rng r = mc_rng(S->s, step);

        trace_step = step;
        mc_ctrl_step(S, &r);
    }
    trace_step = S->nsteps;
    mc_quiesce(S);
    mc_drain(S);
    S->ctrl_done = true;
}

static void *mc_sched_main(void *arg)
{
    struct msched *S = arg;
    struct rng r = mc_rng(S->s, -2);
    lthread_attr_t attr;
    int rc, e, pre;

    trace_tag = S->name;
    trace_step = -1;
    if (pct(&r, 30)) {
        static const size_t sizes[] = {65536, 131072, 262144};

        if (lthread_init(sizes[below(&r, 3)]) != 0)
            failf("lthread_init failed (errno %d)", errno);
    }
    lthread_attr_init(&attr);
    if (pct(&r, 50))
        attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
    mc_lock();
    if (lthread_create_ex(&S->ctrl, mc_controller, S, &attr) != 0)
        failf("creating ctrl%d failed (errno %d)", S->s, errno);
    /* Some puppets made before lthread_run(), some destroyed then. */
    pre = (int)below(&r, 4);
    for (int i = 0; i < pre; i++)
        mc_create(S, &r);
    for (int i = 0; i < S->na; i++)
        if (pct(&r, 20) && mc_destroyable(&S->a[i], true))
            mc_destroy(MC_CTRL(S->s), &S->a[i]);
    mtrace("scheduler %d: %d steps, %s end", S->s, S->nsteps,
           S->abandon ? "abandoning" : "clean");
    mc_unlock();

    rc = lthread_run();
    e = errno;
    mc_lock();
    trace_step = S->nsteps + 1;
    mtrace("scheduler %d: lthread_run returned %d (errno %d)", S->s, rc,
           rc ? e : 0);
    count(ST_MC_SCHEDS);
    if (!S->ctrl_done)
        failf("lthread_run of scheduler %d returned %d (errno %d) before its "
              "controller finished",
              S->s, rc, e);
    if (S->expect_deadlock && (rc != -1 || e != EDEADLK))
        failf("lthread_run of scheduler %d returned %d (errno %d), not "
              "-1/EDEADLK, with puppets left waiting forever",
              S->s, rc, e);
    if (!S->expect_deadlock && rc != 0)
        failf("lthread_run of scheduler %d returned %d (errno %d %s), not 0",
              S->s, rc, e, strerror(e));
    if (S->expect_deadlock)
        count(ST_MC_DEADLOCKS);
    mc_unlock();
    if (lthread_run() != 0)
        failf("lthread_run without lthreads did not return 0");
    return NULL;
}

/* ---- the plain pthread ----------------------------------------------------
 */

static bool mc_alive_pinnable(const struct mp *t)
{
    return mc_nameable(t) && t->st == S_ALIVE;
}

/* What a pthread without a scheduler may not do. */
static void mc_plain_misc(struct rng *r)
{
    struct mp *t = mc_pick(r, -1, mc_alive_pinnable);

    if (t)
        t->pins++;
    mc_unlock();
    EXPECT_FAIL(lthread_sleep(1), EPERM);
    EXPECT_FAIL(lthread_detach(), EPERM);
    EXPECT_FAIL(lthread_compute_begin(), EPERM);
    if (t)
        EXPECT_FAIL(lthread_join(t->lt, NULL, 1), EPERM);
    if (lthread_current() != NULL || lthread_id() != 0 || lthread_run() != 0)
        failf("a plain pthread: lthread_current, lthread_id or lthread_run "
              "act as if in an lthread");
    mc_lock();
    if (t)
        t->pins--;
    mtrace("plain: misc checks");
}

static void *mc_plain_main(void *arg)
{
    struct rng r0 = mc_rng(MC_MAXS, -2);
    int n = 40 + (int)below(&r0, 120);

    (void)arg;
    trace_tag = "plain";
    for (int step = 0; step < n; step++) {
        struct rng r = mc_rng(MC_MAXS, step);
        unsigned x = below(&r, 100);

        trace_step = step;
        mc_lock();
        if (x < 4)
            mc_plain_misc(&r);
        else
            mc_act_any(MC_PLAIN, NULL, &r, below(&r, 100));
        count(ST_MC_PLAIN);
        mc_unlock();
        usleep(below(&r, 400));
    }
    trace_step = n;
    mc_lock();
    M.steps_done++;
    mtrace("plain: done");
    mc_unlock();
    return NULL;
}

/* ---- one seed -------------------------------------------------------------
 */

static void mc_run_seed(void)
{
    struct rng r = rng_for(-1, 0);
    pthread_t plain;
    int abandoner;

    memset(&M, 0, sizeof(M));
    pthread_mutex_init(&M.lock, NULL);
    fail_hook = mc_fail_hook;
    alarm_hook = mc_dump_states;
    trace_tag = "main";
    M.ns = 2 + (int)below(&r, 2);
    M.plain = pct(&r, 65);
    abandoner = pct(&r, 25) ? (int)below(&r, (unsigned)M.ns) : -1;
    for (int i = 0; i < MC_MUTEXES; i++)
        if (lthread_mutex_create(&M.mx[i].m) != 0)
            failf("lthread_mutex_create failed (errno %d)", errno);
    for (int k = 0; k < MC_CHANS; k++) {
        struct minst *in = &M.in[M.ninst];

        in->cap = below(&r, 3) == 0 ? 0 : 1 + below(&r, 4);
        in->slot = k;
        if (lthread_chan_create(&in->ch, sizeof(uint64_t), in->cap) != 0)
            failf("lthread_chan_create failed (errno %d)", errno);
        M.slot[k] = M.ninst++;
    }
    for (int s = 0; s < M.ns; s++) {
        struct msched *S = &M.S[s];

        S->s = s;
        snprintf(S->name, sizeof(S->name), "s%d", s);
        S->nsteps = 40 + (int)below(&r, 160);
        S->target_live = 2 + (int)below(&r, 6);
        S->abandon = s == abandoner;
        for (int k = 0; k < MC_CONDS; k++) {
            S->cq[k].must = -1;
            if (lthread_cond_create(&S->cq[k].c) != 0)
                failf("lthread_cond_create failed (errno %d)", errno);
        }
    }
    mc_lock();
    mtrace("%d schedulers%s, scheduler %d abandons; chans of capacity %u, %u",
           M.ns, M.plain ? " and a plain pthread" : "", abandoner, M.in[0].cap,
           M.in[1].cap);
    mc_unlock();
    for (int s = 0; s < M.ns; s++)
        if (pthread_create(&M.S[s].th, NULL, mc_sched_main, &M.S[s]) != 0)
            failf("pthread_create failed");
    if (M.plain && pthread_create(&plain, NULL, mc_plain_main, NULL) != 0)
        failf("pthread_create failed");
    for (int s = 0; s < M.ns; s++)
        pthread_join(M.S[s].th, NULL);
    if (M.plain)
        pthread_join(plain, NULL);

    /* Every channel is closed: take what they still hold; then every value
     * whose send returned 0 was received exactly once, unless a receiver
     * was destroyed in its call on that channel (then at most once). */
    mc_lock();
    trace_step = 0;
    for (int ii = 0; ii < M.ninst; ii++) {
        struct minst *in = &M.in[ii];
        uint64_t v;
        int rc;

        if (!in->closed)
            failf("chan #%d is still open at the end", ii);
        while ((rc = lthread_chan_recv(in->ch, &v, 1)) == 0)
            mc_got(ii, v, "main");
        if (rc != -1 || errno != EPIPE)
            failf("draining closed chan #%d ended with %d (errno %d)", ii, rc,
                  errno);
        if (lthread_chan_destroy(in->ch) != 0)
            failf("destroying chan #%d failed (errno %d)", ii, errno);
    }
    for (int vid = 0; vid < M.nval; vid++) {
        struct mval *mv = &M.val[vid];

        if (mv->state == V_SENDING)
            failf("fuzzer bug: value %d still being sent at the end", vid);
        if (mv->state == V_SENT && !mv->recvd && !M.in[mv->inst].lost)
            failf("value %d, sent on chan #%d (capacity %u), was never "
                  "received",
                  vid, mv->inst, M.in[mv->inst].cap);
    }
    for (int i = 0; i < MC_MUTEXES; i++) {
        if (M.mx[i].held)
            failf("mutex %d: its counter says %s holds it at the end", i,
                  GN(M.mx[i].held - 1));
        if (lthread_mutex_destroy(M.mx[i].m) != 0)
            failf("destroying mutex %d at the end failed (errno %d): still "
                  "locked?",
                  i, errno);
    }
    for (int s = 0; s < M.ns; s++) {
        for (int k = 0; k < MC_CONDS; k++)
            if (lthread_cond_destroy(M.S[s].cq[k].c) != 0)
                failf("destroying cond %d.%d at the end failed (errno %d)", s,
                      k, errno);
        for (int i = 0; i < M.S[s].na; i++)
            if (lthread_cond_destroy(M.S[s].a[i].mailbox) != 0)
                failf("destroying %s's mailbox failed", GN(M.S[s].a[i].gid));
    }
    mtrace("seed done: %d values, %d issues", M.nval, M.nid);
    mc_unlock();
    fail_hook = NULL;
    alarm_hook = NULL;
}
