/*
 * src/poller_kqueue.c on Linux, through a test double of the kernel: the
 * build compiles it against tests/kqueue_double/sys/event.h, and the
 * kqueue() and kevent() below stand in for the system calls. kevent()
 * records every call (changes, event list size, timeout) and answers a
 * wait with the next scripted reply: an event list, or an error, after an
 * optional sleep. Built twice: FreeBSD's flags, and macOS's
 * (-DKQ_DOUBLE_MACOS: EV_OOBAND, urgent data).
 *
 * Checked: the readiness table of tests/poller_cases.h with the events a
 * kernel returns in each situation; the translation of every kind of
 * kevent; registration (both filters, EV_CLEAR, EV_RECEIPT results, one or
 * both refused, refused files); creation and its failures; wakes; timeouts
 * and the retry after EINTR, which waits only for what is left.
 */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h> /* the double */
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "poller_cases.h"

#ifdef EV_OOBAND
#define URGENT_SEEN 1
#define FLAVOUR "test_poller_kqueue (macOS flags)"
#else
#define URGENT_SEEN 0
#define FLAVOUR "test_poller_kqueue (FreeBSD flags)"
#endif

/* In src/poller_kqueue.c (not static, not in a header). */
unsigned lthread__kevent_bits(const struct kevent *ev);

/* ---- the double ------------------------------------------------------------
 */

#define MAX_CALLS 32
#define MAX_EVENTS 8

struct call {
    int kq;
    int nchanges;
    struct kevent changes[2];
    int nevents;
    int timed;               /* a timeout was passed */
    struct timespec timeout; /* ... this one */
};

struct reply {
    int err;      /* nonzero: fail with this errno */
    int sleep_ms; /* first sleep this long (a wait that takes time) */
    int nev;
    struct kevent ev[MAX_EVENTS];
};

static struct {
    int kqueue_err;      /* kqueue() fails with it */
    int kq;              /* what kqueue() returned last */
    int change_call_err; /* the next call with changes fails with it */
    int refuse[3];       /* errno per filter (read, write, user) */
    struct call calls[MAX_CALLS];
    int ncalls;
    struct reply replies[MAX_CALLS];
    int nreplies, next_reply;
} dbl;

static void dbl_reset(void)
{
    memset(&dbl, 0, sizeof(dbl));
    dbl.kq = -1;
}

static int filter_slot(short filter)
{
    return filter == EVFILT_READ ? 0 : filter == EVFILT_WRITE ? 1 : 2;
}

/* A real fd, so that fcntl() and close() on it work. */
int kqueue(void)
{
    if (dbl.kqueue_err) {
        errno = dbl.kqueue_err;
        return -1;
    }
    dbl.kq = open("/dev/null", O_RDONLY);
    return dbl.kq;
}

int kevent(int kq, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout)
{
    struct call *c = &dbl.calls[dbl.ncalls < MAX_CALLS ? dbl.ncalls : 0];
    int n = 0;

    dbl.ncalls++;
    memset(c, 0, sizeof(*c));
    c->kq = kq;
    c->nchanges = nchanges;
    for (int i = 0; i < nchanges && i < 2; i++)
        c->changes[i] = changelist[i];
    c->nevents = nevents;
    if (timeout) {
        c->timed = 1;
        c->timeout = *timeout;
    }
    if (nchanges > 0) {
        if (dbl.change_call_err) {
            errno = dbl.change_call_err;
            dbl.change_call_err = 0;
            return -1;
        }
        /* As kqueue(2): each change's result in the event list when
         * EV_RECEIPT asks (data: errno or 0); else a failed change fails
         * the call. */
        for (int i = 0; i < nchanges; i++) {
            int err = dbl.refuse[filter_slot(changelist[i].filter)];

            if ((changelist[i].flags & EV_RECEIPT) && n < nevents) {
                eventlist[n] = changelist[i];
                eventlist[n].flags = EV_ERROR;
                eventlist[n].data = err;
                n++;
            } else if (err) {
                errno = err;
                return -1;
            }
        }
        return n;
    }
    if (dbl.next_reply < dbl.nreplies) {
        const struct reply *r = &dbl.replies[dbl.next_reply++];

        if (r->sleep_ms)
            usleep((useconds_t)r->sleep_ms * 1000);
        if (r->err) {
            errno = r->err;
            return -1;
        }
        for (n = 0; n < r->nev && n < nevents; n++)
            eventlist[n] = r->ev[n];
    }
    return n; /* nothing scripted: the time ran out */
}

static struct reply *script(void)
{
    struct reply *r = &dbl.replies[dbl.nreplies++];

    memset(r, 0, sizeof(*r));
    return r;
}

static void script_event(struct reply *r, int fd, short filter, unsigned flags,
                         unsigned fflags, intptr_t data)
{
    EV_SET(&r->ev[r->nev], (uintptr_t)fd, filter, flags, fflags, data, NULL);
    r->nev++;
}

/* What the wait callback saw. */
struct seen {
    int fd;
    unsigned bits;
    int reports, others;
};

static void on_ready(void *ctx, int fd, unsigned bits)
{
    struct seen *s = ctx;

    if (fd == s->fd) {
        s->bits |= bits;
        s->reports++;
    } else {
        s->others++;
    }
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* ---- 1. the readiness table ------------------------------------------------
 */

/* The events a kqueue kernel returns, per kqueue(2), for each situation of
 * the table (sockets: data = bytes to read, or room to write; EV_EOF once
 * the peer shut its side, with the socket error in fflags). */
static void script_case(enum poller_case_id id, int fd)
{
    struct reply *r = script();

    switch (id) {
    case PC_WRITABLE:
        script_event(r, fd, EVFILT_WRITE, EV_CLEAR, 0, 65536);
        break;
    case PC_READABLE:
        script_event(r, fd, EVFILT_READ, EV_CLEAR, 0, 5);
        script_event(r, fd, EVFILT_WRITE, EV_CLEAR, 0, 65536);
        break;
    case PC_EOF_DATA:
        script_event(r, fd, EVFILT_READ, EV_CLEAR | EV_EOF, 0, 5);
        script_event(r, fd, EVFILT_WRITE, EV_CLEAR, 0, 65536);
        break;
    case PC_EOF:
        script_event(r, fd, EVFILT_READ, EV_CLEAR | EV_EOF, 0, 0);
        script_event(r, fd, EVFILT_WRITE, EV_CLEAR, 0, 65536);
        break;
    case PC_RESET:
        script_event(r, fd, EVFILT_READ, EV_CLEAR | EV_EOF, ECONNRESET, 0);
        script_event(r, fd, EVFILT_WRITE, EV_CLEAR | EV_EOF, ECONNRESET, 0);
        break;
    case PC_URGENT:
#ifdef EV_OOBAND
        script_event(r, fd, EVFILT_READ, EV_CLEAR | EV_OOBAND, 0, 1);
#else
        script_event(r, fd, EVFILT_READ, EV_CLEAR, 0, 1);
#endif
        script_event(r, fd, EVFILT_WRITE, EV_CLEAR, 0, 65536);
        break;
    case PC_PIPE_EOF:
        script_event(r, fd, EVFILT_READ, EV_CLEAR | EV_EOF, 0, 0);
        break;
    case PC_PIPE_BROKEN:
        script_event(r, fd, EVFILT_WRITE, EV_CLEAR | EV_EOF, 0, 512);
        break;
    case PC_LISTEN:
        script_event(r, fd, EVFILT_READ, EV_CLEAR, 0, 1);
        break;
    case PC_COUNT:
        break;
    }
}

static void test_table(void)
{
    struct lthread__poller *p;
    int sv[2];

    dbl_reset();
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(lthread__poller_create(&p), 0);
    CHECK_EQ(lthread__poller_add(p, sv[0]), 0);
    for (int id = 0; id < PC_COUNT; id++) {
        struct seen s = {.fd = sv[0]};
        int n;

        script_case((enum poller_case_id)id, sv[0]);
        n = lthread__poller_wait(p, -1, on_ready, &s);
        CHECK_EQ(n, dbl.replies[dbl.nreplies - 1].nev);
        CHECK_EQ(s.others, 0);
        poller_case_check((enum poller_case_id)id, s.bits, URGENT_SEEN);
    }
    lthread__poller_destroy(p);
    close(sv[0]);
    close(sv[1]);
}

/* ---- 2. each kind of kevent ------------------------------------------------
 */

static void test_translation(void)
{
    static const struct {
        short filter;
        unsigned flags, fflags;
        unsigned bits;
    } rows[] = {
        {EVFILT_READ, 0, 0, P_IN},
        {EVFILT_READ, EV_CLEAR, 0, P_IN},
        {EVFILT_READ, EV_EOF, 0, P_IN | P_HUP},
        {EVFILT_READ, EV_EOF, ECONNRESET, P_IN | P_HUP | P_ERR},
        {EVFILT_READ, 0, ECONNRESET, P_IN}, /* fflags count with EV_EOF */
        {EVFILT_WRITE, 0, 0, P_OUT},
        {EVFILT_WRITE, EV_EOF, 0, P_OUT},
        {EVFILT_WRITE, EV_EOF, EPIPE, P_OUT | P_ERR},
        {EVFILT_READ, EV_ERROR, 0, 0}, /* a change's result */
        {EVFILT_WRITE, EV_ERROR, EBADF, 0},
        {EVFILT_USER, EV_CLEAR, NOTE_TRIGGER, 0}, /* a wake */
        {-5, 0, 0, 0},                            /* another filter */
#ifdef EV_OOBAND
        {EVFILT_READ, EV_OOBAND, 0, P_IN | P_PRI},
        {EVFILT_READ, EV_OOBAND | EV_EOF, 0, P_IN | P_PRI | P_HUP},
        {EVFILT_WRITE, EV_OOBAND, 0, P_OUT},
#endif
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct kevent ev;
        unsigned bits;

        EV_SET(&ev, 7, rows[i].filter, rows[i].flags, rows[i].fflags, 3, NULL);
        bits = lthread__kevent_bits(&ev);
        CHECK_EQ(bits, rows[i].bits);
        if (bits != rows[i].bits)
            fprintf(stderr, "    row %zu\n", i);
    }
}

/* ---- 3. creation, registration, removal, wakes -----------------------------
 */

static void test_create(void)
{
    struct lthread__poller *p = NULL;
    const struct call *c;
    int kq;

    /* kqueue() fails. */
    dbl_reset();
    dbl.kqueue_err = EMFILE;
    CHECK_EQ(lthread__poller_create(&p), -EMFILE);
    CHECK_EQ(dbl.ncalls, 0);

    /* The wake event cannot be registered: the kqueue is closed again. */
    dbl_reset();
    dbl.change_call_err = ENOMEM;
    CHECK_EQ(lthread__poller_create(&p), -ENOMEM);
    CHECK(dbl.kq >= 0);
    CHECK(!fd_is_open(dbl.kq));

    /* Success: a close-on-exec kqueue, and the EVFILT_USER event added
     * with EV_CLEAR, registered without waiting. */
    dbl_reset();
    CHECK_EQ(lthread__poller_create(&p), 0);
    kq = dbl.kq;
    CHECK(fd_is_open(kq));
    CHECK(fcntl(kq, F_GETFD) & FD_CLOEXEC);
    CHECK_EQ(dbl.ncalls, 1);
    c = &dbl.calls[0];
    CHECK_EQ(c->kq, kq);
    CHECK_EQ(c->nchanges, 1);
    CHECK_EQ(c->nevents, 0);
    CHECK_EQ(c->changes[0].filter, EVFILT_USER);
    CHECK_EQ(c->changes[0].flags, EV_ADD | EV_CLEAR);

    /* A wake triggers that event, without waiting either. */
    lthread__poller_wake(p);
    CHECK_EQ(dbl.ncalls, 2);
    c = &dbl.calls[1];
    CHECK_EQ(c->kq, kq);
    CHECK_EQ(c->nchanges, 1);
    CHECK_EQ(c->nevents, 0);
    CHECK_EQ(c->changes[0].filter, EVFILT_USER);
    CHECK_EQ(c->changes[0].ident, dbl.calls[0].changes[0].ident);
    CHECK_EQ(c->changes[0].fflags & NOTE_TRIGGER, NOTE_TRIGGER);

    lthread__poller_destroy(p);
    CHECK(!fd_is_open(kq));
    lthread__poller_destroy(NULL);
}

/* Checks that call c changed both filters of fd with `flags`. */
static void check_both(const struct call *c, int fd, unsigned flags)
{
    CHECK_EQ(c->nchanges, 2);
    CHECK_EQ(c->nevents, 2); /* room for both results */
    CHECK(c->timed == 0 || (c->timeout.tv_sec == 0 && c->timeout.tv_nsec == 0));
    CHECK_EQ(c->changes[0].ident, fd);
    CHECK_EQ(c->changes[1].ident, fd);
    CHECK_EQ(c->changes[0].filter, EVFILT_READ);
    CHECK_EQ(c->changes[1].filter, EVFILT_WRITE);
    CHECK_EQ(c->changes[0].flags, flags | EV_RECEIPT);
    CHECK_EQ(c->changes[1].flags, flags | EV_RECEIPT);
}

static void test_register(void)
{
    struct lthread__poller *p;
    char path[] = "/tmp/lthread-kq-XXXXXX";
    int sv[2], file, calls;

    dbl_reset();
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(lthread__poller_create(&p), 0);

    /* Both filters, edge-triggered, each result asked for. */
    calls = dbl.ncalls;
    CHECK_EQ(lthread__poller_add(p, sv[0]), 0);
    CHECK_EQ(dbl.ncalls, calls + 1);
    check_both(&dbl.calls[calls], sv[0], EV_ADD | EV_CLEAR);
    /* Again: EV_ADD only updates, never -EEXIST. */
    CHECK_EQ(lthread__poller_add(p, sv[0]), 0);

    /* One filter refused (an fd with one direction only): fine. */
    dbl.refuse[1] = EINVAL;
    CHECK_EQ(lthread__poller_add(p, sv[0]), 0);
    dbl.refuse[1] = 0;
    dbl.refuse[0] = EINVAL;
    CHECK_EQ(lthread__poller_add(p, sv[0]), 0);
    /* Both refused: the first error. */
    dbl.refuse[0] = ENOMEM;
    dbl.refuse[1] = EINVAL;
    CHECK_EQ(lthread__poller_add(p, sv[0]), -ENOMEM);
    dbl.refuse[0] = dbl.refuse[1] = 0;
    /* The call itself fails. */
    dbl.change_call_err = EBADF;
    CHECK_EQ(lthread__poller_add(p, sv[0]), -EBADF);

    /* Removal: both filters; fails only if both fail. */
    calls = dbl.ncalls;
    CHECK_EQ(lthread__poller_del(p, sv[0]), 0);
    check_both(&dbl.calls[calls], sv[0], EV_DELETE);
    dbl.refuse[0] = ENOENT;
    CHECK_EQ(lthread__poller_del(p, sv[0]), 0);
    dbl.refuse[1] = ENOENT;
    CHECK_EQ(lthread__poller_del(p, sv[0]), -ENOENT);
    dbl.refuse[0] = dbl.refuse[1] = 0;
    dbl.change_call_err = EINTR;
    CHECK_EQ(lthread__poller_del(p, sv[0]), -EINTR);

    /* Regular files and directories are refused as epoll refuses them,
     * and a closed fd fails; none of them reaches kevent(). */
    file = mkstemp(path);
    CHECK(file >= 0);
    unlink(path);
    calls = dbl.ncalls;
    CHECK_EQ(lthread__poller_add(p, file), -EPERM);
    close(file);
    file = open("/tmp", O_RDONLY);
    CHECK_EQ(lthread__poller_add(p, file), -EPERM);
    close(file);
    CHECK_EQ(lthread__poller_add(p, file), -EBADF);
    CHECK_EQ(dbl.ncalls, calls);

    lthread__poller_destroy(p);
    close(sv[0]);
    close(sv[1]);
}

/* ---- 4. waits: events, errors, timeouts, EINTR -----------------------------
 */

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static void test_wait(void)
{
    struct lthread__poller *p;
    struct reply *r;
    struct seen s;
    int calls;

    dbl_reset();
    CHECK_EQ(lthread__poller_create(&p), 0);

    /* What is not an fd's readiness is left out of the count: a wake, a
     * failed change, another filter. Two filters of one fd: two reports. */
    r = script();
    script_event(r, 1, EVFILT_USER, EV_CLEAR, NOTE_TRIGGER, 0);
    script_event(r, 9, EVFILT_READ, EV_ERROR, 0, EBADF);
    script_event(r, 9, -5, 0, 0, 0);
    script_event(r, 9, EVFILT_READ, EV_CLEAR, 0, 10);
    script_event(r, 9, EVFILT_WRITE, EV_CLEAR, 0, 10);
    s = (struct seen){.fd = 9};
    calls = dbl.ncalls;
    CHECK_EQ(lthread__poller_wait(p, -1, on_ready, &s), 2);
    CHECK_EQ(s.reports, 2);
    CHECK_EQ(s.others, 0);
    CHECK_EQ(s.bits, P_IN | P_OUT);
    /* A wait changes nothing, asks for a full batch, waits without limit
     * when asked to. */
    CHECK_EQ(dbl.calls[calls].nchanges, 0);
    CHECK(dbl.calls[calls].nevents >= 64);
    CHECK_EQ(dbl.calls[calls].timed, 0);

    /* Only a wake: 0. */
    r = script();
    script_event(r, 1, EVFILT_USER, EV_CLEAR, NOTE_TRIGGER, 0);
    s = (struct seen){.fd = 9};
    CHECK_EQ(lthread__poller_wait(p, -1, on_ready, &s), 0);
    CHECK_EQ(s.reports + s.others, 0);

    /* An error other than EINTR is returned. */
    script()->err = EBADF;
    CHECK_EQ(lthread__poller_wait(p, -1, on_ready, &s), -EBADF);

    /* Timeouts become timespecs: 0 looks, 1.5 s is 1 s + 5e8 ns. */
    calls = dbl.ncalls;
    CHECK_EQ(lthread__poller_wait(p, 0, on_ready, &s), 0);
    CHECK_EQ(dbl.calls[calls].timed, 1);
    CHECK_EQ(ts_ns(&dbl.calls[calls].timeout), 0);
    CHECK_EQ(lthread__poller_wait(p, 1500000000, on_ready, &s), 0);
    CHECK_EQ(dbl.calls[calls + 1].timeout.tv_sec, 1);
    CHECK_EQ(dbl.calls[calls + 1].timeout.tv_nsec, 500000000);

    /* EINTR without a limit: again without a limit. */
    calls = dbl.ncalls;
    script()->err = EINTR;
    script()->err = EINTR;
    r = script();
    script_event(r, 9, EVFILT_READ, EV_CLEAR, 0, 1);
    s = (struct seen){.fd = 9};
    CHECK_EQ(lthread__poller_wait(p, -1, on_ready, &s), 1);
    CHECK_EQ(dbl.ncalls, calls + 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(dbl.calls[calls + i].timed, 0);

    /* EINTR after 100 ms of a 300 ms wait: the retry waits for what is
     * left (at most 200 ms), not 300 ms again. */
    calls = dbl.ncalls;
    r = script();
    r->err = EINTR;
    r->sleep_ms = 100;
    CHECK_EQ(lthread__poller_wait(p, 300 * 1000000, on_ready, &s), 0);
    CHECK_EQ(dbl.ncalls, calls + 2);
    CHECK_EQ(ts_ns(&dbl.calls[calls].timeout), 300 * 1000000);
    CHECK(ts_ns(&dbl.calls[calls + 1].timeout) <= 200 * 1000000);
    CHECK(ts_ns(&dbl.calls[calls + 1].timeout) > 0);
    CHECK(dbl.calls[calls + 1].timeout.tv_nsec < 1000000000);

    /* EINTR once the deadline has passed: one last look (0), and every
     * retry after that one too. */
    calls = dbl.ncalls;
    r = script();
    r->err = EINTR;
    r->sleep_ms = 30;
    script()->err = EINTR;
    CHECK_EQ(lthread__poller_wait(p, 10 * 1000000, on_ready, &s), 0);
    CHECK_EQ(dbl.ncalls, calls + 3);
    CHECK_EQ(ts_ns(&dbl.calls[calls + 1].timeout), 0);
    CHECK_EQ(ts_ns(&dbl.calls[calls + 2].timeout), 0);

    /* EINTR on a look (timeout 0): the retry looks again. */
    calls = dbl.ncalls;
    script()->err = EINTR;
    CHECK_EQ(lthread__poller_wait(p, 0, on_ready, &s), 0);
    CHECK_EQ(dbl.ncalls, calls + 2);
    CHECK_EQ(dbl.calls[calls + 1].timed, 1);
    CHECK_EQ(ts_ns(&dbl.calls[calls + 1].timeout), 0);

    lthread__poller_destroy(p);
}

int main(void)
{
    test_table();
    test_translation();
    test_create();
    test_register();
    test_wait();
    return check_summary(FLAVOUR);
}
