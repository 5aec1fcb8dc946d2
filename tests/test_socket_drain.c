/*
 * The drained-socket hint (LTHREAD__FD_DRAINED, socket.c): after a short
 * read a TCP socket's next lthread_recv() parks before trying. It must
 * never miss data: data that arrives while the reader is parked, while it
 * is busy elsewhere, urgent data that stops a read short at the mark,
 * MSG_PEEK, and the same over a Unix stream socket (where the hint is off).
 */
#include <lthread.h>

#include <string.h>

#include "check.h"
#include "test_socket_util.h"

/* Timeout of every receive: a lost wake-up shows as -2, not a hang. */
#define RECV_MS 3000

struct conv {
    int client;
    int server;
    int family;
    lthread_cond_t *got_urgent; /* the reader has read past the mark */
};

static void sender(lthread_t *lt, void *arg)
{
    struct conv *c = arg;

    (void)lt;
    /* Each piece arrives while the reader waits (after a short read)... */
    for (int i = 0; i < 20; i++) {
        char b = (char)('a' + i);

        lthread_sleep(2);
        CHECK_EQ(lthread_send(c->client, &b, 1, 0), 1);
    }
    /* ...or while it is busy and not waiting at all. */
    lthread_sleep(30);
    CHECK_EQ(lthread_send(c->client, "XY", 2, 0), 2);
    /* Urgent data (TCP): the read stops short at the mark, data after it
     * must still be read without any new arrival. */
    if (c->family != AF_UNIX) {
        lthread_sleep(30);
        CHECK_EQ(lthread_send(c->client, "u", 1, 0), 1);
        CHECK_EQ(send(c->client, "!", 1, MSG_OOB), 1);
        CHECK_EQ(lthread_send(c->client, "v", 1, 0), 1);
        /* Nothing more arrives until "v" was read: no later edge may
         * rescue a reader that parked with "v" still queued. */
        CHECK_EQ(lthread_cond_wait(c->got_urgent, RECV_MS), 0);
    }
    lthread_sleep(30);
    CHECK_EQ(lthread_send(c->client, "end", 3, 0), 3);
}

static void reader(lthread_t *lt, void *arg)
{
    struct conv *c = arg;
    char buf[64], got[128];
    size_t n = 0;
    ssize_t r;

    (void)lt;
    /* The 20 single bytes, each read short (1 of 64 asked). */
    while (n < 20) {
        r = lthread_recv(c->server, buf, sizeof(buf), 0, RECV_MS);
        CHECK(r > 0);
        if (r <= 0)
            return;
        memcpy(got + n, buf, (size_t)r);
        n += (size_t)r;
    }
    CHECK(memcmp(got, "abcdefghijklmnopqrst", 20) == 0);
    /* Busy while "XY" arrives: the poller's report clears the hint. */
    lthread_sleep(60);
    /* MSG_PEEK sees it and consumes nothing. */
    CHECK_EQ(lthread_recv(c->server, buf, sizeof(buf), MSG_PEEK, RECV_MS), 2);
    CHECK_EQ(lthread_recv(c->server, buf, sizeof(buf), 0, RECV_MS), 2);
    CHECK(memcmp(buf, "XY", 2) == 0);
    /* Everything else, urgent byte excluded, then "end". */
    n = 0;
    while (n < sizeof(got) && (n < 3 || memcmp(got + n - 3, "end", 3) != 0)) {
        r = lthread_recv(c->server, buf, sizeof(buf), 0, RECV_MS);
        CHECK(r > 0);
        if (r <= 0)
            return;
        memcpy(got + n, buf, (size_t)r);
        n += (size_t)r;
        if (n >= 2 && memcmp(got, "uv", 2) == 0)
            lthread_cond_signal(c->got_urgent);
    }
    if (c->family != AF_UNIX) {
        CHECK_EQ(n, 5);
        CHECK(memcmp(got, "uvend", 5) == 0);
    } else {
        CHECK_EQ(n, 3);
    }
}

static void run_family(lthread_t *lt, void *arg)
{
    struct conv c = {.family = (int)(intptr_t)arg};
    lthread_t *r, *s;

    (void)lt;
    CHECK_EQ(lthread_cond_create(&c.got_urgent), 0);
    if (util_pair(c.family, &c.client, &c.server) != 0) {
        CHECK(!"connected pair");
        return;
    }
    CHECK_EQ(lthread_create(&r, reader, &c), 0);
    CHECK_EQ(lthread_create(&s, sender, &c), 0);
    CHECK_EQ(lthread_join(r, NULL, 0), 0);
    CHECK_EQ(lthread_join(s, NULL, 0), 0);
    lthread_close(c.client);
    lthread_close(c.server);
    lthread_cond_destroy(c.got_urgent);
}

int main(void)
{
    util_trap_sigpipe();
    for (size_t i = 0; i < sizeof(util_families) / sizeof(util_families[0]);
         i++)
        util_run(run_family, (void *)(intptr_t)util_families[i]);
    return check_summary("test_socket_drain");
}
