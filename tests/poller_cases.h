/*
 * The readiness table that both poller tests run: for each situation an fd
 * can be in, what a backend must report to io.c through src/poller.h.
 * tests/test_poller.c produces each situation with real fds and the
 * backend the build compiles (epoll on Linux, kqueue on the BSDs and
 * macOS); tests/test_poller_kqueue.c scripts what a kqueue kernel returns
 * in it, through a kevent() double, on Linux. A row is checked against the
 * OR of every report for the fd (kqueue reports each direction apart).
 */
#ifndef LTHREAD_TEST_POLLER_CASES_H
#define LTHREAD_TEST_POLLER_CASES_H

#include <stdio.h>

#include "check.h"
#include "poller.h"

#define P_IN LTHREAD__POLL_IN
#define P_OUT LTHREAD__POLL_OUT
#define P_ERR LTHREAD__POLL_ERR
#define P_PRI LTHREAD__POLL_PRI
#define P_HUP LTHREAD__POLL_HUP

/* What io.c (io_ready) does with the bits. */
#define FX_READERS 0x1u /* wakes the fd's readers: IN or ERR */
#define FX_WRITERS 0x2u /* wakes its writers: OUT or ERR */
#define FX_NOHINT 0x4u  /* ends the drained hint for good: PRI, HUP, ERR */

static inline unsigned poller_effects(unsigned bits)
{
    return ((bits & (P_IN | P_ERR)) ? FX_READERS : 0) |
           ((bits & (P_OUT | P_ERR)) ? FX_WRITERS : 0) |
           ((bits & (P_PRI | P_HUP | P_ERR)) ? FX_NOHINT : 0);
}

enum poller_case_id {
    PC_WRITABLE,    /* connected TCP socket, nothing received */
    PC_READABLE,    /* TCP data received */
    PC_EOF_DATA,    /* TCP data received, then the peer's FIN */
    PC_EOF,         /* the peer's FIN, no data */
    PC_RESET,       /* the peer's RST */
    PC_URGENT,      /* a byte of TCP urgent (out-of-band) data */
    PC_PIPE_EOF,    /* read end of a pipe whose writer closed */
    PC_PIPE_BROKEN, /* write end of a pipe whose reader closed */
    PC_LISTEN,      /* listening socket with a connection to accept */
    PC_COUNT
};

struct poller_case {
    const char *name;
    unsigned must, mustnt;       /* LTHREAD__POLL_* bits set / clear */
    unsigned fx_must, fx_mustnt; /* FX_* that must / must not follow */
    int urgent; /* PRI (and so FX_NOHINT) only where urgent data is seen */
};

static const struct poller_case poller_cases[PC_COUNT] = {
    [PC_WRITABLE] = {"writable", P_OUT, P_IN | P_HUP | P_ERR | P_PRI,
                     FX_WRITERS, FX_READERS | FX_NOHINT, 0},
    [PC_READABLE] = {"readable", P_IN, P_HUP | P_ERR | P_PRI, FX_READERS,
                     FX_NOHINT, 0},
    [PC_EOF_DATA] = {"eof with data", P_IN | P_HUP, P_ERR | P_PRI,
                     FX_READERS | FX_NOHINT, 0, 0},
    [PC_EOF] = {"eof without data", P_IN | P_HUP, P_ERR | P_PRI,
                FX_READERS | FX_NOHINT, 0, 0},
    [PC_RESET] = {"reset", P_ERR, P_PRI, FX_READERS | FX_WRITERS | FX_NOHINT, 0,
                  0},
    [PC_URGENT] = {"urgent data", P_IN | P_PRI, P_HUP | P_ERR,
                   FX_READERS | FX_NOHINT, 0, 1},
    [PC_PIPE_EOF] = {"pipe, writer gone", P_HUP, P_PRI | P_OUT,
                     FX_READERS | FX_NOHINT, 0, 0},
    [PC_PIPE_BROKEN] = {"pipe, reader gone", 0, P_PRI | P_HUP | P_IN,
                        FX_WRITERS, 0, 0},
    [PC_LISTEN] = {"listener, connection pending", P_IN, P_HUP | P_ERR | P_PRI,
                   FX_READERS, FX_NOHINT, 0},
};

/*
 * Checks what a backend reported for case c (bits: the OR of its reports
 * for the fd). urgent_seen: the backend tells urgent data apart (epoll;
 * kqueue with EV_OOBAND, i.e. macOS); where it cannot, urgent data is
 * plain readable data.
 */
static inline void poller_case_check(enum poller_case_id id, unsigned bits,
                                     int urgent_seen)
{
    struct poller_case c = poller_cases[id];
    unsigned fx = poller_effects(bits);

    if (c.urgent && !urgent_seen) {
        c.must &= ~P_PRI;
        c.mustnt |= P_PRI;
        c.fx_must &= ~FX_NOHINT;
    }
    CHECK((bits & c.must) == c.must);
    CHECK((bits & c.mustnt) == 0);
    CHECK((fx & c.fx_must) == c.fx_must);
    CHECK((fx & c.fx_mustnt) == 0);
    if ((bits & c.must) != c.must || (bits & c.mustnt) ||
        (fx & c.fx_must) != c.fx_must || (fx & c.fx_mustnt))
        fprintf(stderr,
                "    case '%s': bits %#x (set: want %#x, clear: want %#x)\n",
                c.name, bits, c.must, c.mustnt);
}

#endif
