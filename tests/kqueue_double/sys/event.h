/*
 * Test double of <sys/event.h>: just what src/poller_kqueue.c uses, so
 * that it compiles on Linux against the kevent() and kqueue() that
 * tests/test_poller_kqueue.c defines. Field names and types follow the
 * kqueue(2) manual; the constants' values are the double's own (the code
 * uses the names only). KQ_DOUBLE_MACOS selects macOS's variant: EV_OOBAND
 * exists and data is an intptr_t.
 */
#ifndef LTHREAD_TEST_KQUEUE_DOUBLE_EVENT_H
#define LTHREAD_TEST_KQUEUE_DOUBLE_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
    uintptr_t ident;      /* usually an fd */
    short filter;         /* EVFILT_* */
    unsigned short flags; /* EV_* */
    unsigned int fflags;  /* filter flags; a socket error with EV_EOF */
#ifdef KQ_DOUBLE_MACOS
    intptr_t data;
#else
    int64_t data;
    uint64_t ext[4];
#endif
    void *udata;
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_USER (-11)

#define EV_ADD 0x0001u
#define EV_DELETE 0x0002u
#define EV_CLEAR 0x0020u
#define EV_RECEIPT 0x0040u
#ifdef KQ_DOUBLE_MACOS
#define EV_OOBAND 0x2000u
#endif
#define EV_ERROR 0x4000u
#define EV_EOF 0x8000u

#define NOTE_TRIGGER 0x01000000u

#define EV_SET(kevp, a, b, c, d, e, f)                                         \
    do {                                                                       \
        struct kevent *ev_set_ = (kevp);                                       \
        *ev_set_ = (struct kevent){0};                                         \
        ev_set_->ident = (a);                                                  \
        ev_set_->filter = (short)(b);                                          \
        ev_set_->flags = (unsigned short)(c);                                  \
        ev_set_->fflags = (d);                                                 \
        ev_set_->data = (e);                                                   \
        ev_set_->udata = (f);                                                  \
    } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout);

#endif
