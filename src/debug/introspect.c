/*
 * Introspection: lthread_walk(), lthread_stats(), lthread_summary(), and
 * the signal-triggered dump.
 *
 * There is no list of all lthreads (docs/DESIGN.md says why); the walk
 * finds each lthread where the scheduler keeps it for its own purposes:
 * the running one, the ready queue, the computing list, the timer heap
 * (sleepers), the conds with waiters, the joiners, the fd table, the
 * regions' waiters, the starved list, the mutex and channel waits, the
 * disk requests, and the zombies. Every lthread of the scheduler is in
 * exactly one of those places (and timed waits also in the timer heap,
 * which is read for their deadlines, and walked for sleepers only). So
 * walking costs nothing until it is done.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "lthread_int.h"
#include "poller.h"
#include "sync/sync.h"

struct walk {
    struct lthread__sched *s;
    lthread_walk_fn fn;
    void *arg;
    uint64_t now;
};

/* ms until lt's timer fires, or -1. */
static int64_t timeout_left(struct walk *w, const struct lthread *lt)
{
    uint64_t d;

    if (!(lt->flags & LTHREAD__F_TIMER))
        return -1;
    d = w->s->timers[lt->timer_slot].deadline;
    return d > w->now ? (int64_t)((d - w->now) / 1000000u) : 0;
}

static const char *state_name(const struct lthread *lt)
{
    switch ((enum lthread__state)lt->state) {
    case LTHREAD__READY:
        return "ready";
    case LTHREAD__RUNNING:
        return "running";
    case LTHREAD__WAITING:
        return "waiting";
    case LTHREAD__COMPUTE:
        return "computing";
    case LTHREAD__EXITED:
        return "exited";
    case LTHREAD__DEAD:
        break;
    }
    return "dead";
}

static int visit_one(struct lthread *lt, struct walk *w)
{
    struct lthread_info i;

    if (lt->state == LTHREAD__DEAD)
        return 0;
    memset(&i, 0, sizeof(i));
    i.id = lt->id;
    i.name = lt->funcname;
    i.fn = lt->state == LTHREAD__EXITED ? NULL : (void *)(uintptr_t)lt->fn;
    i.state = state_name(lt);
    i.wait = "";
    i.fd = -1;
    i.timeout_ms = -1;
    if (lt->state == LTHREAD__WAITING) {
        i.wait = lthread__wait_name(lt);
        i.timeout_ms = timeout_left(w, lt);
        if (lt->wait == LTHREAD__WAIT_IO && !lt->wait_obj) {
            i.fd = lt->io_fd;
            i.fd_write = !(lt->io_events & LTHREAD__POLL_IN);
        } else if (lt->wait == LTHREAD__WAIT_IO) {
            i.wait = "poll";
        } else if (lt->wait == LTHREAD__WAIT_JOIN) {
            i.join_id = ((struct lthread *)lt->wait_obj)->id;
        } else if (lt->wait == LTHREAD__WAIT_XJOIN) {
            i.wait = "join-remote";
        } else if (lt->wait == LTHREAD__WAIT_DISK) {
            i.fd = lthread__disk_fd(lt);
        }
    }
    if (lt->sp && lt != w->s->host.current && lt->state != LTHREAD__EXITED)
        i.stack_bytes = (size_t)(lt->region->top - (char *)lt->sp);
    i.private_stack = !!(lt->flags & LTHREAD__F_PRIVATE);
    i.region = (lt->flags & LTHREAD__F_BOUND) && !i.private_stack
                   ? (int)lt->region->index
                   : -1;
    i.detached = !!(lt->flags & LTHREAD__F_DETACHED);
    if (lt->since_ms) {
        /* ms modulo 2^32, low bit set as in the stamps: the difference
         * wraps well (a stamp is never after the walk's clock; if the
         * clock were ever seen to go back, 0). */
        uint32_t d = ((uint32_t)(w->now / 1000000u) | 1u) - lt->since_ms;

        i.state_ms = d < 0x80000000u ? d : 0;
    }
    return w->fn(&i, w->arg);
}

/* lt, then the lthreads waiting to join it, each joining the one before
 * (they are on no list: lthread__join_waiter). */
static int visit(struct lthread *lt, void *arg)
{
    struct walk *w = arg;
    int r = visit_one(lt, w);

    while (!r && (lt = lthread__join_waiter(lt)))
        r = visit_one(lt, w);
    return r;
}

static int each_in(struct lthread__queue *q, struct walk *w)
{
    for (struct lthread *lt = q->head; lt; lt = lt->next) {
        int r = visit(lt, w);

        if (r)
            return r;
    }
    return 0;
}

/* The scheduler lthread_walk() and friends may read: the calling
 * pthread's, from an lthread of it or from the pthread itself. */
static struct lthread__sched *own_sched(void)
{
    return lthread__sched_get();
}

static int walk_sched(struct lthread__sched *s, lthread_walk_fn fn, void *arg)
{
    struct walk w = {s, fn, arg, lthread__now_ns()};
    int r;

    if (s->host.current && (r = visit(s->host.current, &w)))
        return r;
    if ((r = each_in(&s->ready, &w)) || (r = each_in(&s->computing, &w)))
        return r;
    for (uint32_t i = 0; i < s->ntimers; i++) {
        struct lthread *lt = s->timers[i].lt;

        if (lt->wait == LTHREAD__WAIT_SLEEP && (r = visit(lt, &w)))
            return r;
    }
    if ((r = lthread__cond_each_waiter(s, visit, &w)) ||
        (r = each_in(&s->joining, &w)) ||
        (r = lthread__io_each_waiter(s, visit, &w)) ||
        (r = lthread__disk_each_waiter(s, visit, &w)))
        return r;
    for (uint32_t i = 0; i < s->nregions; i++)
        if ((r = each_in(&s->regions[i]->waiters, &w)))
            return r;
    if ((r = each_in(&s->starved, &w)) || (r = each_in(&s->pollers, &w)))
        return r;
    if ((r = lthread__sync_each_waiter(s, visit, &w)))
        return r;
    return each_in(&s->zombies, &w);
}

LTHREAD_API int lthread_walk(lthread_walk_fn fn, void *arg)
{
    struct lthread__sched *s = own_sched();

    if (!fn)
        return lthread__fail(-EINVAL);
    if (!s)
        return lthread__fail(-EPERM);
    return walk_sched(s, fn, arg);
}

static int count_one(const struct lthread_info *i, void *arg)
{
    struct lthread_stats *st = arg;

    switch (i->state[0]) {
    case 'r':
        if (i->state[1] == 'e')
            st->ready++;
        else
            st->running++;
        break;
    case 'w':
        st->waiting++;
        break;
    case 'c':
        st->computing++;
        break;
    case 'e':
        st->exited++;
        break;
    }
    return 0;
}

static void stats_of(struct lthread__sched *s, struct lthread_stats *st)
{
    memset(st, 0, sizeof(*st));
    (void)walk_sched(s, count_one, st);
    st->switches = lthread__switches(s);
    st->copies = s->stats.copies;
    st->bytes_copied = s->stats.bytes_copied;
    st->polls = s->stats.polls;
    st->compute_sections = s->stats.compute_sections;
    st->messages = s->stats.messages;
    st->regions = s->nregions;
    st->region_size = s->region_size;
    for (uint32_t i = 0; i < s->nregions; i++) {
        struct lthread__region *r = s->regions[i];
        size_t used = r->high_water;

        /* The owner's frames in place count too. */
        if (r->owner && r->owner->sp && r->owner != s->host.current &&
            (size_t)(r->top - (char *)r->owner->sp) > used)
            used = (size_t)(r->top - (char *)r->owner->sp);
        if (used > st->stack_high_water)
            st->stack_high_water = used;
    }
}

LTHREAD_API int lthread_stats(struct lthread_stats *st)
{
    struct lthread__sched *s = own_sched();

    if (!st)
        return lthread__fail(-EINVAL);
    if (!s)
        return lthread__fail(-EPERM);
    stats_of(s, st);
    return 0;
}

static int print_one(const struct lthread_info *i, void *arg)
{
    FILE *f = arg;
    char wait[64] = "";

    if (i->fd >= 0)
        snprintf(wait, sizeof(wait), "fd %d %s", i->fd,
                 i->fd_write ? "write" : "read");
    else if (i->join_id)
        snprintf(wait, sizeof(wait), "join %llu",
                 (unsigned long long)i->join_id);
    else
        snprintf(wait, sizeof(wait), "%s", i->wait);
    fprintf(f, "  %8llu %-20.20s %-9s %-16s", (unsigned long long)i->id,
            i->name ? i->name : "-", i->state, wait);
    if (i->timeout_ms >= 0)
        fprintf(f, " %8lld ms", (long long)i->timeout_ms);
    else
        fprintf(f, " %11s", "-");
    fprintf(f, " %7zu B %-7s %8llu ms\n", i->stack_bytes,
            i->private_stack ? "private"
            : i->region >= 0 ? "shared"
                             : "-",
            (unsigned long long)i->state_ms);
    return 0;
}

static void summary_of(struct lthread__sched *s, FILE *f)
{
    struct lthread_stats st;

    stats_of(s, &st);
    fprintf(f,
            "lthread scheduler %p: %zu ready, %zu running, %zu waiting, %zu "
            "computing, %zu exited; %llu switches, %llu copies (%llu B), "
            "%llu polls, %llu compute sections, %llu messages; %zu regions "
            "of %zu B, deepest stack saved %zu B\n",
            (void *)s, st.ready, st.running, st.waiting, st.computing,
            st.exited, (unsigned long long)st.switches,
            (unsigned long long)st.copies, (unsigned long long)st.bytes_copied,
            (unsigned long long)st.polls,
            (unsigned long long)st.compute_sections,
            (unsigned long long)st.messages, st.regions, st.region_size,
            st.stack_high_water);
    fprintf(f, "  %8s %-20s %-9s %-16s %11s %9s %-7s %11s\n", "id", "name",
            "state", "waits for", "timeout", "stack", "", "in state");
    (void)walk_sched(s, print_one, f);
    fflush(f);
}

LTHREAD_API int lthread_summary(FILE *f)
{
    struct lthread__sched *s = own_sched();

    if (!s)
        return lthread__fail(-EPERM);
    summary_of(s, f ? f : stderr);
    return 0;
}

/* ---- the signal-triggered dump ----------------------------------------------
 *
 * LTHREAD_DUMP_SIGNAL names a signal; its handler only writes a byte to a
 * pipe (async-signal-safe). A helper pthread reads it and asks every
 * scheduler, under lthread__xs_lock, to print its summary at its next
 * look at its loop (s->dump_wanted), waking its poller. */

static int dump_pipe[2] = {-1, -1};
static pthread_once_t dump_once = PTHREAD_ONCE_INIT;

static void dump_handler(int sig)
{
    int saved = errno;

    (void)sig;
    (void)!write(dump_pipe[1], "d", 1);
    errno = saved;
}

static void *dump_main(void *arg)
{
    char c;

    (void)arg;
    while (read(dump_pipe[0], &c, 1) == 1 || errno == EINTR)
        lthread__sched_each_dump();
    return NULL;
}

static int signal_of(const char *v)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGHUP", SIGHUP},
                 {"SIGQUIT", SIGQUIT}, {"SIGPWR", 0},        {"SIGINFO", 0}};
    char *end;
    long n;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].sig &&
            (!strcmp(v, names[i].name) || !strcmp(v, names[i].name + 3)))
            return names[i].sig;
    n = strtol(v, &end, 10);
    return (*v && !*end && n > 0 && n < 65) ? (int)n : 0;
}

static void dump_setup(void)
{
    const char *v = getenv("LTHREAD_DUMP_SIGNAL");
    struct sigaction sa;
    pthread_attr_t attr;
    pthread_t t;
    int sig;

    if (!v || !(sig = signal_of(v)))
        return;
    if (pipe(dump_pipe) < 0)
        return;
    fcntl(dump_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(dump_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(dump_pipe[1], F_SETFL, O_NONBLOCK);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, dump_main, NULL) == 0) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = dump_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
    }
    pthread_attr_destroy(&attr);
}

void lthread__dump_init(void)
{
    pthread_once(&dump_once, dump_setup);
}

void lthread__sched_dump(struct lthread__sched *s)
{
    summary_of(s, stderr);
}
