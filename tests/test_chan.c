/*
 * Channels: every call and its errors; capacity 0 (a rendezvous: a send
 * returns once a receiver has the value), 1 and N; values, waiting senders
 * and waiting receivers served in arrival order; timeouts that leave
 * nothing behind; close (senders fail, receivers drain, then fail); select
 * (the first ready op, timeouts, EPIPE through ops[i].err, two selects
 * meeting on a rendezvous); element sizes 1 to 65536; heap pointers that
 * travel; lthreads destroyed while they wait; within one scheduler, across
 * schedulers, from a plain pthread and from compute sections.
 */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sync_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define CHAN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHAN_ASAN 1
#endif
#endif
#ifndef CHAN_ASAN
#define CHAN_ASAN 0
#endif

static lthread_chan_t *ch, *ch2;

/* Sends v into c with the timeout, checking it is done. */
static void send_ok(lthread_chan_t *c, int v)
{
    CHECK_EQ(lthread_chan_send(c, &v, 0), 0);
}

/* Receives an int from c (no timeout); -1000 when that fails. */
static int recv_int(lthread_chan_t *c)
{
    int v = -1000;

    if (lthread_chan_recv(c, &v, 0) != 0)
        return -1000;
    return v;
}

/* Checks that a timed call returned -2/ETIMEDOUT after at least `ms`. */
#define CHECK_TIMED_OUT(call, ms)                                              \
    do {                                                                       \
        double t0_ = check_now_ms();                                           \
        errno = 0;                                                             \
        CHECK_EQ((call), -2);                                                  \
        CHECK_EQ(errno, ETIMEDOUT);                                            \
        double took_ = check_now_ms() - t0_;                                   \
        CHECK(took_ >= (ms)-1);                                                \
        CHECK_TIME(took_ < (ms) + 100.0 * check_slow());                       \
    } while (0)

/* ---- arguments ------------------------------------------------------------
 */

static void test_args(void)
{
    lthread_chan_t *c = NULL;
    struct lthread_chan_op ops[2];
    int v = 1;

    errno = 0;
    CHECK_EQ(lthread_chan_create(NULL, 4, 1), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_chan_create(&c, 0, 1), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_chan_create(&c, 65537, 0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_chan_create(&c, 8, SIZE_MAX), -1); /* cannot be sized */
    CHECK_EQ(errno, EINVAL);
    if (!CHAN_ASAN && !CHECK_TSAN) {
        /* 2^46 bytes: no such memory (sanitizers abort instead) */
        errno = 0;
        CHECK_EQ(lthread_chan_create(&c, 65536, (size_t)1 << 30), -1);
        CHECK_EQ(errno, ENOMEM);
    }
    CHECK(c == NULL);
    CHECK_EQ(lthread_chan_create(&c, 1, 0), 0);
    CHECK_EQ(lthread_chan_destroy(c), 0);
    CHECK_EQ(lthread_chan_create(&c, 65536, 2), 0);
    CHECK_EQ(lthread_chan_destroy(c), 0);

    errno = 0;
    CHECK_EQ(lthread_chan_destroy(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_chan_close(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_chan_send(NULL, &v, 0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_chan_recv(NULL, &v, 0), -1);
    CHECK_EQ(errno, EINVAL);

    CHECK_EQ(lthread_chan_create(&c, sizeof(int), 1), 0);
    errno = 0;
    CHECK_EQ(lthread_chan_send(c, NULL, 0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_chan_recv(c, NULL, 0), -1);
    CHECK_EQ(errno, EINVAL);

    /* select: nothing is done when any op is bad, even a good first one */
    errno = 0;
    CHECK_EQ(lthread_chan_select(NULL, 1, 0), -1);
    CHECK_EQ(errno, EINVAL);
    ops[0] = (struct lthread_chan_op){c, LTHREAD_CHAN_SEND, &v, -1};
    errno = 0;
    CHECK_EQ(lthread_chan_select(ops, 0, 0), -1);
    CHECK_EQ(errno, EINVAL);
    ops[1] = (struct lthread_chan_op){NULL, LTHREAD_CHAN_RECV, &v, -1};
    errno = 0;
    CHECK_EQ(lthread_chan_select(ops, 2, 0), -1);
    CHECK_EQ(errno, EINVAL);
    ops[1] = (struct lthread_chan_op){c, 0, &v, -1};
    errno = 0;
    CHECK_EQ(lthread_chan_select(ops, 2, 0), -1);
    CHECK_EQ(errno, EINVAL);
    ops[1] = (struct lthread_chan_op){c, 3, &v, -1};
    errno = 0;
    CHECK_EQ(lthread_chan_select(ops, 2, 0), -1);
    CHECK_EQ(errno, EINVAL);
    ops[1] = (struct lthread_chan_op){c, LTHREAD_CHAN_RECV, NULL, -1};
    errno = 0;
    CHECK_EQ(lthread_chan_select(ops, 2, 0), -1);
    CHECK_EQ(errno, EINVAL);
    /* the good send was not done: the channel is still empty */
    CHECK_TIMED_OUT(lthread_chan_recv(c, &v, 10), 10);
    CHECK_EQ(lthread_chan_destroy(c), 0);
}

/* ---- a plain pthread alone: buffers, timeouts, close -----------------------
 */

static void test_plain_alone(void)
{
    lthread_chan_t *c;
    int v;

    /* capacity 1 */
    CHECK_EQ(lthread_chan_create(&c, sizeof(int), 1), 0);
    send_ok(c, 7);
    v = 8;
    CHECK_TIMED_OUT(lthread_chan_send(c, &v, 30), 30);
    CHECK_EQ(recv_int(c), 7);
    CHECK_TIMED_OUT(lthread_chan_recv(c, &v, 30), 30);
    CHECK_EQ(lthread_chan_destroy(c), 0);

    /* capacity 5, in order, twice round the ring */
    CHECK_EQ(lthread_chan_create(&c, sizeof(int), 5), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5; i++)
            send_ok(c, round * 10 + i);
        v = 99;
        CHECK_TIMED_OUT(lthread_chan_send(c, &v, 20), 20);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(recv_int(c), round * 10 + i);
        send_ok(c, round * 10 + 5);
        send_ok(c, round * 10 + 6);
        for (int i = 3; i < 7; i++)
            CHECK_EQ(recv_int(c), round * 10 + i);
    }
    /* close: what was sent is received, then EPIPE, for good */
    send_ok(c, 1);
    send_ok(c, 2);
    CHECK_EQ(lthread_chan_close(c), 0);
    v = 3;
    errno = 0;
    CHECK_EQ(lthread_chan_send(c, &v, 0), -1);
    CHECK_EQ(errno, EPIPE);
    errno = 0;
    CHECK_EQ(lthread_chan_close(c), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(recv_int(c), 1);
    CHECK_EQ(recv_int(c), 2);
    for (int i = 0; i < 2; i++) {
        errno = 0;
        CHECK_EQ(lthread_chan_recv(c, &v, 0), -1); /* at once, no wait */
        CHECK_EQ(errno, EPIPE);
        errno = 0;
        CHECK_EQ(lthread_chan_recv(c, &v, 50), -1);
        CHECK_EQ(errno, EPIPE);
    }
    CHECK_EQ(lthread_chan_destroy(c), 0);

    /* capacity 0: nobody on the other side */
    CHECK_EQ(lthread_chan_create(&c, sizeof(int), 0), 0);
    CHECK_TIMED_OUT(lthread_chan_send(c, &v, 20), 20);
    CHECK_TIMED_OUT(lthread_chan_recv(c, &v, 20), 20);
    CHECK_EQ(lthread_chan_close(c), 0);
    errno = 0;
    CHECK_EQ(lthread_chan_recv(c, &v, 0), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(lthread_chan_destroy(c), 0);

    /* values still buffered are freed with the channel (ASan: no leak) */
    CHECK_EQ(lthread_chan_create(&c, 100, 3), 0);
    {
        char big[100] = {1};

        CHECK_EQ(lthread_chan_send(c, big, 0), 0);
        CHECK_EQ(lthread_chan_send(c, big, 0), 0);
    }
    CHECK_EQ(lthread_chan_destroy(c), 0);
}

/* ---- one scheduler: rendezvous, arrival order ------------------------------
 */

static int log_[16], nlog, nparked;

static void rv_sender(lthread_t *lt, void *arg)
{
    (void)lt;
    add(&nparked, 1);
    send_ok(ch, (int)(intptr_t)arg);
    log_[nlog++] = 100 + (int)(intptr_t)arg; /* the send returned */
}

static void rv_receiver(lthread_t *lt, void *arg)
{
    (void)lt;
    add(&nparked, 1);
    log_[nlog++] = recv_int(ch);
    (void)arg;
}

/* Creates k lthreads of fn (args 0..k-1), each parked before the next
 * starts. */
static void park_in_order(lthread_func fn, int k, lthread_t **lts)
{
    lthread_t *lt;

    set(&nparked, 0);
    for (int i = 0; i < k; i++) {
        CHECK_EQ(lthread_create(lts ? &lts[i] : &lt, fn, (void *)(intptr_t)i),
                 0);
        while (get(&nparked) < i + 1)
            lthread_sleep(0);
    }
}

static void rendezvous_main(lthread_t *lt, void *arg)
{
    lthread_t *lts[4];
    int v = 5;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 0), 0);

    /* A send returns only once a receiver has taken the value. */
    nlog = 0;
    park_in_order(rv_sender, 1, lts);
    lthread_sleep(20);
    CHECK_EQ(nlog, 0); /* still waiting */
    CHECK_EQ(recv_int(ch), 0);
    CHECK_EQ(lthread_join(lts[0], NULL, 0), 0);
    CHECK_EQ(nlog, 1);

    /* Waiting senders are served in arrival order. */
    nlog = 0;
    park_in_order(rv_sender, 4, lts);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(recv_int(ch), i);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);

    /* Waiting receivers too: receiver i gets value i. */
    nlog = 0;
    park_in_order(rv_receiver, 4, lts);
    for (int i = 0; i < 4; i++)
        send_ok(ch, i);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);
    CHECK_EQ(nlog, 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(log_[i], i);

    /* A send that timed out left nothing for a later receiver. */
    CHECK_TIMED_OUT(lthread_chan_send(ch, &v, 20), 20);
    CHECK_TIMED_OUT(lthread_chan_recv(ch, &v, 20), 20);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* Capacity 1 and 3: the buffered values first, then the waiting senders'
 * in arrival order; a receiver makes room for exactly one. */
static void full_main(lthread_t *lt, void *arg)
{
    int cap = (int)(intptr_t)arg;
    lthread_t *lts[4];

    (void)lt;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), (size_t)cap), 0);
    for (int i = 0; i < cap; i++)
        send_ok(ch, 1000 + i);
    nlog = 0;
    park_in_order(rv_sender, 4, lts);
    CHECK_EQ(nlog, 0);
    CHECK_EQ(recv_int(ch), 1000);
    lthread_sleep(0);
    lthread_sleep(0);
    CHECK_EQ(nlog, 1); /* sender 0's value moved into the buffer */
    CHECK_EQ(log_[0], 100);
    for (int i = 1; i < cap; i++)
        CHECK_EQ(recv_int(ch), 1000 + i);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(recv_int(ch), i);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

static void test_one_scheduler(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, rendezvous_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_create(&lt, full_main, (void *)1), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_create(&lt, full_main, (void *)3), 0);
    CHECK_EQ(lthread_run(), 0);
}

/* ---- close and destroy
 * -------------------------------------------------------
 */

static int epipes;

static void epipe_sender(lthread_t *lt, void *arg)
{
    int v = 500 + (int)(intptr_t)arg;

    (void)lt;
    add(&nparked, 1);
    errno = 0;
    CHECK_EQ(lthread_chan_send(ch, &v, 0), -1);
    CHECK_EQ(errno, EPIPE);
    epipes++;
}

static void epipe_receiver(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    add(&nparked, 1);
    errno = 0;
    CHECK_EQ(lthread_chan_recv(ch, &v, 60000), -1);
    CHECK_EQ(errno, EPIPE);
    epipes++;
}

static void close_main(lthread_t *lt, void *arg)
{
    lthread_t *lts[4];
    int v;

    (void)lt;
    (void)arg;
    /* Capacity 2, full, two senders waiting: the close fails them; the
     * two buffered values are still received. */
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 2), 0);
    send_ok(ch, 1);
    send_ok(ch, 2);
    epipes = 0;
    park_in_order(epipe_sender, 2, lts);
    errno = 0;
    CHECK_EQ(lthread_chan_destroy(ch), -1); /* senders wait */
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_chan_close(ch), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);
    CHECK_EQ(epipes, 2);
    CHECK_EQ(recv_int(ch), 1);
    CHECK_EQ(recv_int(ch), 2);
    errno = 0;
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), -1);
    CHECK_EQ(errno, EPIPE);
    errno = 0;
    CHECK_EQ(lthread_chan_close(ch), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(lthread_chan_destroy(ch), 0);

    /* Receivers waiting on an empty channel: all fail. */
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 4), 0);
    epipes = 0;
    park_in_order(epipe_receiver, 3, lts);
    errno = 0;
    CHECK_EQ(lthread_chan_destroy(ch), -1); /* receivers wait */
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_chan_close(ch), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);
    CHECK_EQ(epipes, 3);
    CHECK_EQ(lthread_chan_destroy(ch), 0);

    /* A rendezvous sender waiting. */
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 0), 0);
    epipes = 0;
    park_in_order(epipe_sender, 1, lts);
    CHECK_EQ(lthread_chan_close(ch), 0);
    CHECK_EQ(lthread_join(lts[0], NULL, 0), 0);
    CHECK_EQ(epipes, 1);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

static void test_close(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, close_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
}

/* ---- select
 * ------------------------------------------------------------------
 */

static lthread_chan_t *sc[4];

static void sel_send_later(lthread_t *lt, void *arg)
{
    int which = (int)(intptr_t)arg;

    (void)lt;
    lthread_sleep(10);
    send_ok(sc[which], 40 + which);
}

static void sel_recv_later(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_sleep(10);
    log_[nlog++] = recv_int(sc[(int)(intptr_t)arg]);
}

static void sel_closer(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_sleep(10);
    CHECK_EQ(lthread_chan_close(sc[(int)(intptr_t)arg]), 0);
}

/* A select with one op, from another lthread, to meet a select. */
static int sel_peer_rc, sel_peer_val;

static void sel_peer(lthread_t *lt, void *arg)
{
    int op = (int)(intptr_t)arg;
    int v = 77;
    struct lthread_chan_op o = {sc[0], op, &v, -1};

    (void)lt;
    sel_peer_rc = lthread_chan_select(&o, 1, 5000);
    CHECK_EQ(o.err, 0);
    sel_peer_val = v;
}

static void select_main(lthread_t *lt, void *arg)
{
    struct lthread_chan_op ops[4];
    int a = -1, b = -1, s = 9, v;
    lthread_t *t;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_create(&sc[0], sizeof(int), 0), 0);
    CHECK_EQ(lthread_chan_create(&sc[1], sizeof(int), 1), 0);
    CHECK_EQ(lthread_chan_create(&sc[2], sizeof(int), 2), 0);
    CHECK_EQ(lthread_chan_create(&sc[3], sizeof(int), 1), 0);

    /* Several ready: the first in ops; only it is done. */
    send_ok(sc[1], 11);
    send_ok(sc[2], 21);
    ops[0] = (struct lthread_chan_op){sc[0], LTHREAD_CHAN_RECV, &a, -1};
    ops[1] = (struct lthread_chan_op){sc[1], LTHREAD_CHAN_RECV, &a, -1};
    ops[2] = (struct lthread_chan_op){sc[2], LTHREAD_CHAN_RECV, &b, -1};
    CHECK_EQ(lthread_chan_select(ops, 3, 0), 1);
    CHECK_EQ(ops[1].err, 0);
    CHECK_EQ(a, 11);
    CHECK_EQ(b, -1);
    CHECK_EQ(lthread_chan_select(ops, 3, 0), 2);
    CHECK_EQ(ops[2].err, 0);
    CHECK_EQ(b, 21);
    /* A send with room before a ready receive: the send. */
    send_ok(sc[2], 22);
    ops[0] = (struct lthread_chan_op){sc[3], LTHREAD_CHAN_SEND, &s, -1};
    ops[1] = (struct lthread_chan_op){sc[2], LTHREAD_CHAN_RECV, &b, -1};
    CHECK_EQ(lthread_chan_select(ops, 2, 0), 0);
    CHECK_EQ(ops[0].err, 0);
    CHECK_EQ(recv_int(sc[3]), 9);
    CHECK_EQ(recv_int(sc[2]), 22);

    /* Nothing ready: the timeout; nothing was done. sc[1] is full. */
    send_ok(sc[1], 12);
    s = 13;
    ops[0] = (struct lthread_chan_op){sc[0], LTHREAD_CHAN_RECV, &a, -1};
    ops[1] = (struct lthread_chan_op){sc[1], LTHREAD_CHAN_SEND, &s, -1};
    ops[2] = (struct lthread_chan_op){sc[2], LTHREAD_CHAN_RECV, &b, -1};
    CHECK_TIMED_OUT(lthread_chan_select(ops, 3, 30), 30);
    CHECK_EQ(recv_int(sc[1]), 12);
    /* ...and none of its waiters was left behind: a rendezvous send to
     * sc[0] finds no receiver. */
    CHECK_TIMED_OUT(lthread_chan_send(sc[0], &s, 10), 10);

    /* Woken by a send to one of them (a rendezvous). */
    for (int which = 0; which < 3; which += 2) {
        a = b = -1;
        CHECK_EQ(lthread_create(&t, sel_send_later, (void *)(intptr_t)which),
                 0);
        ops[0] = (struct lthread_chan_op){sc[0], LTHREAD_CHAN_RECV, &a, -1};
        ops[1] = (struct lthread_chan_op){sc[2], LTHREAD_CHAN_RECV, &b, -1};
        CHECK_EQ(lthread_chan_select(ops, 2, 5000), which / 2);
        CHECK_EQ(ops[which / 2].err, 0);
        CHECK_EQ(which ? b : a, 40 + which);
        CHECK_EQ(which ? a : b, -1);
        CHECK_EQ(lthread_join(t, NULL, 0), 0);
        CHECK_TIMED_OUT(lthread_chan_send(sc[0], &s, 10), 10);
    }

    /* Woken by a receiver: the send op of a select on a full channel. */
    send_ok(sc[1], 14);
    nlog = 0;
    CHECK_EQ(lthread_create(&t, sel_recv_later, (void *)1), 0);
    s = 15;
    ops[0] = (struct lthread_chan_op){sc[0], LTHREAD_CHAN_RECV, &a, -1};
    ops[1] = (struct lthread_chan_op){sc[1], LTHREAD_CHAN_SEND, &s, -1};
    CHECK_EQ(lthread_chan_select(ops, 2, 5000), 1);
    CHECK_EQ(ops[1].err, 0);
    CHECK_EQ(lthread_join(t, NULL, 0), 0);
    CHECK_EQ(log_[0], 14);
    CHECK_EQ(recv_int(sc[1]), 15);

    /* Two selects meet on a rendezvous channel, either side first. */
    for (int first = 0; first < 2; first++) {
        int op = first ? LTHREAD_CHAN_SEND : LTHREAD_CHAN_RECV;
        int mine =
            op == LTHREAD_CHAN_SEND ? LTHREAD_CHAN_RECV : LTHREAD_CHAN_SEND;

        sel_peer_rc = -5;
        v = 66;
        CHECK_EQ(lthread_create(&t, sel_peer, (void *)(intptr_t)op), 0);
        lthread_sleep(5); /* it waits */
        ops[0] = (struct lthread_chan_op){sc[0], mine, &v, -1};
        CHECK_EQ(lthread_chan_select(ops, 1, 5000), 0);
        CHECK_EQ(ops[0].err, 0);
        CHECK_EQ(lthread_join(t, NULL, 0), 0);
        CHECK_EQ(sel_peer_rc, 0);
        if (mine == LTHREAD_CHAN_RECV)
            CHECK_EQ(v, 77);
        else
            CHECK_EQ(sel_peer_val, 66);
    }

    /* A send and a receive on the same rendezvous channel cannot meet
     * each other. */
    ops[0] = (struct lthread_chan_op){sc[0], LTHREAD_CHAN_SEND, &s, -1};
    ops[1] = (struct lthread_chan_op){sc[0], LTHREAD_CHAN_RECV, &a, -1};
    CHECK_TIMED_OUT(lthread_chan_select(ops, 2, 20), 20);

    /* EPIPE through err: a closed channel is "ready". */
    CHECK_EQ(lthread_chan_close(sc[3]), 0);
    ops[0] = (struct lthread_chan_op){sc[0], LTHREAD_CHAN_RECV, &a, -1};
    ops[1] = (struct lthread_chan_op){sc[3], LTHREAD_CHAN_RECV, &b, -1};
    CHECK_EQ(lthread_chan_select(ops, 2, 5000), 1);
    CHECK_EQ(ops[1].err, EPIPE);
    ops[1] = (struct lthread_chan_op){sc[3], LTHREAD_CHAN_SEND, &s, -1};
    CHECK_EQ(lthread_chan_select(ops, 2, 5000), 1);
    CHECK_EQ(ops[1].err, EPIPE);
    /* closed while the select waits */
    CHECK_EQ(lthread_create(&t, sel_closer, (void *)2), 0);
    ops[0] = (struct lthread_chan_op){sc[0], LTHREAD_CHAN_RECV, &a, -1};
    ops[1] = (struct lthread_chan_op){sc[2], LTHREAD_CHAN_RECV, &b, -1};
    CHECK_EQ(lthread_chan_select(ops, 2, 5000), 1);
    CHECK_EQ(ops[1].err, EPIPE);
    CHECK_EQ(lthread_join(t, NULL, 0), 0);

    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_chan_destroy(sc[i]), 0);
}

/* Many channels, one sender each, in a shuffled order: one select loop
 * receives every value exactly once. */
enum { NMANY = 16 };
static lthread_chan_t *many[NMANY];

static void many_sender(lthread_t *lt, void *arg)
{
    int i = (int)(intptr_t)arg;

    (void)lt;
    lthread_sleep((uint64_t)((i * 7) % NMANY)); /* shuffled */
    send_ok(many[i], i);
}

static void many_main(lthread_t *lt, void *arg)
{
    struct lthread_chan_op ops[NMANY];
    int vals[NMANY], seen[NMANY] = {0}, which[NMANY];
    size_t n = NMANY;
    lthread_t *t;

    (void)lt;
    (void)arg;
    for (int i = 0; i < NMANY; i++) {
        CHECK_EQ(lthread_chan_create(&many[i], sizeof(int), (size_t)i % 2), 0);
        CHECK_EQ(lthread_create(&t, many_sender, (void *)(intptr_t)i), 0);
        ops[i] =
            (struct lthread_chan_op){many[i], LTHREAD_CHAN_RECV, &vals[i], -1};
        which[i] = i;
    }
    while (n > 0) {
        int k = lthread_chan_select(ops, n, 10000);
        int i;

        CHECK(k >= 0 && k < (int)n);
        if (k < 0 || k >= (int)n)
            break;
        i = which[k];
        CHECK_EQ(ops[k].err, 0);
        CHECK_EQ(vals[i], i);
        seen[i]++;
        /* done with channel i: the last op takes its place */
        n--;
        ops[k] = ops[n];
        which[k] = which[n];
    }
    for (int i = 0; i < NMANY; i++)
        CHECK_EQ(seen[i], 1);
    for (int i = 0; i < NMANY; i++)
        CHECK_EQ(lthread_chan_destroy(many[i]), 0);
}

/* The last value received, the receiver destroys the channel at once,
 * before the sender it served runs again: the sender must not touch the
 * channel any more (it used to lock it to unlink its waiter, which the
 * receiver had unlinked already: a use after free, a hang on the freed
 * lock word). The same for a select served through one of its channels:
 * it unlinks itself from the others, which stay. */
static lthread_chan_t *gone[2];
static int gone_rc = -1, gone_sel = -1;

static void gone_sender(lthread_t *lt, void *arg)
{
    int v = 5;

    (void)lt;
    if (!arg) {
        gone_rc = lthread_chan_send(gone[0], &v, 5000);
        return;
    }
    struct lthread_chan_op ops[2] = {
        {gone[1], LTHREAD_CHAN_SEND, &v, -1},
        {gone[0], LTHREAD_CHAN_SEND, &v, -1},
    };
    gone_sel = lthread_chan_select(ops, 2, 5000);
}

static void gone_receiver(lthread_t *lt, void *arg)
{
    int v = 0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(gone[0], &v, 5000), 0);
    CHECK_EQ(v, 5);
    /* Nobody waits on it. Freed, its first word (the lock) is the
     * allocator's link to the next free chunk: a lock that looks held. */
    CHECK_EQ(lthread_chan_destroy(gone[0]), 0);
}

static void test_destroy_after_last(void)
{
    lthread_t *lt;

    for (int sel = 0; sel < 2; sel++) {
        CHECK_EQ(lthread_chan_create(&gone[0], sizeof(int), 0), 0);
        CHECK_EQ(lthread_chan_create(&gone[1], sizeof(int), 0), 0);
        /* the sender waits first; the receiver serves it and destroys */
        CHECK_EQ(lthread_create(&lt, gone_sender, sel ? (void *)1 : NULL), 0);
        CHECK_EQ(lthread_create(&lt, gone_receiver, NULL), 0);
        CHECK_EQ(lthread_run(), 0);
        if (sel)
            CHECK_EQ(gone_sel, 1);
        else
            CHECK_EQ(gone_rc, 0);
        /* the select's other waiter left gone[1] */
        CHECK_EQ(lthread_chan_destroy(gone[1]), 0);
    }
}

static void test_select(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, select_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_create(&lt, many_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    test_destroy_after_last();
}

/* ---- across schedulers and from plain pthreads ------------------------------
 */

#if CHECK_TSAN
enum { NSEQ = 2000 };
#else
enum { NSEQ = 20000 };
#endif

static int order_errors, xs_phase;

/* Sends 1..NSEQ into ch. */
static void seq_producer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int i = 1; i <= NSEQ; i++)
        send_ok(ch, i);
}

/* Receives NSEQ values and checks they come in order. */
static void seq_consumer(lthread_t *lt, void *arg)
{
    int last = 0, v;

    (void)lt;
    (void)arg;
    for (int i = 0; i < NSEQ; i++) {
        v = recv_int(ch);
        if (v != last + 1)
            add(&order_errors, 1);
        last = v;
    }
}

/* A select from another scheduler, woken by main(), a plain pthread. */
static void xs_selector(lthread_t *lt, void *arg)
{
    struct lthread_chan_op ops[2];
    int a = -1, b = -1;

    (void)lt;
    (void)arg;
    ops[0] = (struct lthread_chan_op){ch, LTHREAD_CHAN_RECV, &a, -1};
    ops[1] = (struct lthread_chan_op){ch2, LTHREAD_CHAN_RECV, &b, -1};
    set(&xs_phase, 1);
    CHECK_EQ(lthread_chan_select(ops, 2, 0), 1);
    CHECK_EQ(ops[1].err, 0);
    CHECK_EQ(b, 123);
    CHECK_EQ(a, -1);
    /* and a rendezvous the other way: main() receives */
    send_ok(ch2, 124);
}

static void test_across(void)
{
    pthread_t p, c;
    int last = 0, v;

    /* Scheduler to scheduler, through capacities 0, 1 and 8. */
    for (size_t cap = 0; cap <= 8; cap = cap ? cap * 8 : 1) {
        order_errors = 0;
        CHECK_EQ(lthread_chan_create(&ch, sizeof(int), cap), 0);
        c = start_sched(seq_consumer, NULL);
        p = start_sched(seq_producer, NULL);
        CHECK_EQ(pthread_join(p, NULL), 0);
        CHECK_EQ(pthread_join(c, NULL), 0);
        CHECK_EQ(order_errors, 0);
        CHECK_EQ(lthread_chan_destroy(ch), 0);
    }

    /* A plain pthread receives from a scheduler, then sends to one. */
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 2), 0);
    p = start_sched(seq_producer, NULL);
    order_errors = 0;
    for (int i = 0; i < NSEQ; i++) {
        v = recv_int(ch);
        if (v != last + 1)
            order_errors++;
        last = v;
    }
    CHECK_EQ(pthread_join(p, NULL), 0);
    CHECK_EQ(order_errors, 0);
    c = start_sched(seq_consumer, NULL);
    for (int i = 1; i <= NSEQ; i++)
        send_ok(ch, i);
    CHECK_EQ(pthread_join(c, NULL), 0);
    CHECK_EQ(order_errors, 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);

    /* select across pthreads */
    xs_phase = 0;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 0), 0);
    CHECK_EQ(lthread_chan_create(&ch2, sizeof(int), 0), 0);
    c = start_sched(xs_selector, NULL);
    wait_at_least(&xs_phase, 1);
    usleep(10000); /* it waits */
    send_ok(ch2, 123);
    CHECK_EQ(recv_int(ch2), 124);
    CHECK_EQ(pthread_join(c, NULL), 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
    CHECK_EQ(lthread_chan_destroy(ch2), 0);
}

/* ---- element sizes, and pointers to heap memory ----------------------------
 */

static size_t esize;
static int size_errors;

static void fill(unsigned char *b, size_t n, int seq)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 31 + (size_t)seq * 7 + n);
}

static int matches(const unsigned char *b, size_t n, int seq)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 31 + (size_t)seq * 7 + n))
            return 0;
    return 1;
}

/* Sends values 0..5 of esize bytes, from a heap buffer. */
static void size_sender(lthread_t *lt, void *arg)
{
    unsigned char *b = malloc(esize);

    (void)lt;
    (void)arg;
    for (int seq = 0; seq < 6; seq++) {
        fill(b, esize, seq);
        CHECK_EQ(lthread_chan_send(ch, b, 0), 0);
        memset(b, 0xEE, esize); /* the channel has its own copy */
    }
    free(b);
}

static void size_receiver(lthread_t *lt, void *arg)
{
    unsigned char *b = malloc(esize + 16);

    (void)lt;
    (void)arg;
    memset(b, 0x55, esize + 16);
    for (int seq = 0; seq < 6; seq++) {
        CHECK_EQ(lthread_chan_recv(ch, b, 0), 0);
        if (!matches(b, esize, seq))
            add(&size_errors, 1);
        for (int i = 0; i < 16; i++) /* not one byte more */
            if (b[esize + (size_t)i] != 0x55)
                add(&size_errors, 1);
    }
    free(b);
}

static void test_sizes(void)
{
    static const size_t sizes[] = {1, 8, 100, 65536};
    lthread_t *lt;
    pthread_t p, c;

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        esize = sizes[k];
        size_errors = 0;
        for (size_t cap = 0; cap <= 2; cap += 2) {
            /* one scheduler */
            CHECK_EQ(lthread_chan_create(&ch, esize, cap), 0);
            CHECK_EQ(lthread_create(&lt, size_receiver, NULL), 0);
            CHECK_EQ(lthread_create(&lt, size_sender, NULL), 0);
            CHECK_EQ(lthread_run(), 0);
            /* two */
            c = start_sched(size_receiver, NULL);
            p = start_sched(size_sender, NULL);
            CHECK_EQ(pthread_join(p, NULL), 0);
            CHECK_EQ(pthread_join(c, NULL), 0);
            CHECK_EQ(lthread_chan_destroy(ch), 0);
        }
        CHECK_EQ(size_errors, 0);
    }
}

/* A value that holds heap pointers: made on one scheduler, read and freed
 * on another. ASan sees any use after free, double free or leak. */
struct msg {
    char *text;
    int *numbers;
    size_t n;
};

enum { NMSG = 300 };

static void msg_maker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int i = 0; i < NMSG; i++) {
        struct msg m;

        m.n = (size_t)i % 17 + 1;
        m.text = malloc(32);
        m.numbers = malloc(m.n * sizeof(int));
        snprintf(m.text, 32, "message %d", i);
        for (size_t j = 0; j < m.n; j++)
            m.numbers[j] = i + (int)j;
        CHECK_EQ(lthread_chan_send(ch, &m, 0), 0);
    }
    CHECK_EQ(lthread_chan_close(ch), 0);
}

static void msg_reader(lthread_t *lt, void *arg)
{
    struct msg m;
    char want[32];
    int i = 0;

    (void)lt;
    (void)arg;
    while (lthread_chan_recv(ch, &m, 0) == 0) {
        snprintf(want, sizeof(want), "message %d", i);
        CHECK(strcmp(m.text, want) == 0);
        CHECK_EQ(m.n, (size_t)i % 17 + 1);
        for (size_t j = 0; j < m.n; j++)
            if (m.numbers[j] != i + (int)j)
                CHECK_EQ(m.numbers[j], i + (int)j);
        free(m.text);
        free(m.numbers);
        i++;
    }
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(i, NMSG);
}

static void test_pointers(void)
{
    pthread_t p, c;

    for (size_t cap = 0; cap <= 4; cap += 4) {
        CHECK_EQ(lthread_chan_create(&ch, sizeof(struct msg), cap), 0);
        c = start_sched(msg_reader, NULL);
        p = start_sched(msg_maker, NULL);
        CHECK_EQ(pthread_join(p, NULL), 0);
        CHECK_EQ(pthread_join(c, NULL), 0);
        CHECK_EQ(lthread_chan_destroy(ch), 0);
    }
}

/* ---- compute sections -------------------------------------------------------
 */

struct crec {
    int rc[6], err[6], val[6];
    double timed_ms;
};

/* In a section: its pthread blocks in each call. */
static __attribute__((noinline)) void chan_inside(struct crec *r)
{
    double t0;

    r->rc[0] = lthread_chan_recv(ch, &r->val[0], 0); /* from home */
    r->rc[1] = lthread_chan_send(ch2, &r->val[0], 0);
    t0 = check_now_ms();
    ERRNO = 0;
    r->rc[2] = lthread_chan_recv(ch, &r->val[2], 30);
    r->err[2] = ERRNO;
    r->timed_ms = check_now_ms() - t0;
    ERRNO = 0;
    r->rc[3] = lthread_chan_recv(ch, &r->val[3], 0); /* closed: EPIPE */
    r->err[3] = ERRNO;
}

static void chan_computer(lthread_t *lt, void *arg)
{
    struct crec r;
    int begin, end;

    (void)lt;
    (void)arg;
    memset(&r, 0, sizeof(r));
    begin = lthread_compute_begin(); /* no CHECK inside */
    chan_inside(&r);
    end = lthread_compute_end();
    CHECK_EQ(begin, 0);
    CHECK_EQ(end, 0);
    CHECK_EQ(r.rc[0], 0);
    CHECK_EQ(r.val[0], 31);
    CHECK_EQ(r.rc[1], 0);
    CHECK_EQ(r.rc[2], -2);
    CHECK_EQ(r.err[2], ETIMEDOUT);
    CHECK(r.timed_ms >= 29);
    CHECK_TIME(r.timed_ms < 30 + 100.0 * check_slow());
    CHECK_EQ(r.rc[3], -1);
    CHECK_EQ(r.err[3], EPIPE);
}

static void compute_main(lthread_t *lt, void *arg)
{
    lthread_t *t;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 0), 0);
    CHECK_EQ(lthread_chan_create(&ch2, sizeof(int), 0), 0);
    CHECK_EQ(create_private(&t, chan_computer, NULL), 0);
    lthread_sleep(10);
    send_ok(ch, 31);             /* to the blocked compute pthread */
    CHECK_EQ(recv_int(ch2), 31); /* from it */
    lthread_sleep(60);           /* its timed receive expires */
    CHECK_EQ(lthread_chan_close(ch), 0);
    CHECK_EQ(lthread_join(t, NULL, 0), 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
    CHECK_EQ(lthread_chan_destroy(ch2), 0);
}

static void test_compute(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, compute_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
}

/* ---- lthreads destroyed while they wait
 * ---------------------------------------
 */

static int got_by_victim;

static void victim_recv(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    add(&nparked, 1);
    if (lthread_chan_recv(ch, &v, 0) == 0)
        add(&got_by_victim, 1);
}

static void victim_send(lthread_t *lt, void *arg)
{
    (void)lt;
    add(&nparked, 1);
    send_ok(ch, 900 + (int)(intptr_t)arg);
}

static void victim_select(lthread_t *lt, void *arg)
{
    struct lthread_chan_op ops[2];
    int a, b = 5;

    (void)lt;
    (void)arg;
    ops[0] = (struct lthread_chan_op){ch, LTHREAD_CHAN_RECV, &a, -1};
    ops[1] = (struct lthread_chan_op){ch2, LTHREAD_CHAN_SEND, &b, -1};
    add(&nparked, 1);
    lthread_chan_select(ops, 2, 0);
    add(&got_by_victim, 1);
}

/* Joins its argument: returns once it is destroyed. */
static int cancelled;

static void canceller_joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    errno = 0;
    CHECK_EQ(lthread_join(arg, NULL, 0), -1);
    CHECK_EQ(errno, ECANCELED);
    add(&cancelled, 1);
}

static void destroy_main(lthread_t *lt, void *arg)
{
    lthread_t *lts[4];
    int v = 1;

    (void)lt;
    (void)arg;
    got_by_victim = 0;

    /* Receivers 0 and 1 wait on a rendezvous; 0 is destroyed: the next
     * send goes to 1, and one more finds nobody. */
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 0), 0);
    park_in_order(victim_recv, 2, lts);
    CHECK_EQ(lthread_destroy(lts[0]), 0);
    send_ok(ch, 1);
    CHECK_EQ(lthread_join(lts[1], NULL, 0), 0);
    CHECK_EQ(got_by_victim, 1);
    CHECK_TIMED_OUT(lthread_chan_send(ch, &v, 10), 10);

    /* A receiver handed a value, destroyed before it ran (it never
     * returned from lthread_chan_recv()): the value is gone with it, the
     * channel has no waiter left, and nothing of the wait is leaked
     * (ASan). */
    got_by_victim = 0;
    park_in_order(victim_recv, 1, lts);
    send_ok(ch, 2); /* to the receiver, READY now */
    CHECK_EQ(lthread_destroy(lts[0]), 0);
    CHECK_EQ(got_by_victim, 0);
    CHECK_TIMED_OUT(lthread_chan_send(ch, &v, 10), 10);
    CHECK_EQ(lthread_chan_destroy(ch), 0);

    /* Senders 0, 1, 2 wait on a full channel; 1 is destroyed: its value
     * never arrives. */
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    send_ok(ch, 1);
    park_in_order(victim_send, 3, lts);
    CHECK_EQ(lthread_destroy(lts[1]), 0);
    CHECK_EQ(recv_int(ch), 1);
    CHECK_EQ(recv_int(ch), 900);
    CHECK_EQ(recv_int(ch), 902);
    CHECK_TIMED_OUT(lthread_chan_recv(ch, &v, 10), 10);
    CHECK_EQ(lthread_join(lts[0], NULL, 0), 0);
    CHECK_EQ(lthread_join(lts[2], NULL, 0), 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);

    /* A select destroyed: it waits on neither channel any more. */
    got_by_victim = 0;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 0), 0);
    CHECK_EQ(lthread_chan_create(&ch2, sizeof(int), 0), 0);
    park_in_order(victim_select, 1, lts);
    errno = 0;
    CHECK_EQ(lthread_chan_destroy(ch), -1);
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_destroy(lts[0]), 0);
    CHECK_TIMED_OUT(lthread_chan_send(ch, &v, 10), 10);
    CHECK_TIMED_OUT(lthread_chan_recv(ch2, &v, 10), 10);
    CHECK_EQ(got_by_victim, 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
    CHECK_EQ(lthread_chan_destroy(ch2), 0);
}

static lthread_t *remote_victim; /* __atomic */
static int remote_phase;

/* A receiver on this scheduler, destroyed from main(); its joiner tells
 * when that is done. */
static void remote_sched(lthread_t *lt, void *arg)
{
    lthread_t *w, *j;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&w, victim_recv, NULL), 0);
    CHECK_EQ(lthread_create(&j, canceller_joiner, w), 0);
    __atomic_store_n(&remote_victim, w, __ATOMIC_SEQ_CST);
    CHECK_EQ(lthread_join(j, NULL, 0), 0);
    set(&remote_phase, 1);
}

static void test_destroy(void)
{
    lthread_t *lt;
    pthread_t t;
    int v = 3;

    CHECK_EQ(lthread_create(&lt, destroy_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);

    /* From another pthread. */
    cancelled = got_by_victim = remote_phase = nparked = 0;
    remote_victim = NULL;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 0), 0);
    t = start_sched(remote_sched, NULL);
    wait_at_least(&nparked, 1);
    usleep(20000); /* the victim parks, its joiner too */
    CHECK_EQ(lthread_destroy(__atomic_load_n(&remote_victim, __ATOMIC_SEQ_CST)),
             0);
    wait_at_least(&remote_phase, 1);
    CHECK_EQ(cancelled, 1);
    CHECK_TIMED_OUT(lthread_chan_send(ch, &v, 10), 10);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(got_by_victim, 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"args", test_args},         {"plain", test_plain_alone},
        {"one", test_one_scheduler}, {"close", test_close},
        {"select", test_select},     {"across", test_across},
        {"sizes", test_sizes},       {"pointers", test_pointers},
        {"compute", test_compute},   {"destroy", test_destroy},
    };

    /* test_chan [name...]: those tests only */
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        int run = argc < 2;

        for (int a = 1; a < argc; a++)
            run |= strcmp(argv[a], tests[i].name) == 0;
        if (run)
            tests[i].fn();
    }
    return check_summary("test_chan");
}
