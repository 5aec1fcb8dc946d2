/*
 * MSG_WAITALL in lthread_recv, lthread_recvfrom and lthread_recvmsg alike,
 * as recv(2), recvfrom(2) and recvmsg(2) give it: the full count from
 * pieces that arrive apart, fewer at EOF, what came when a timeout ends.
 */
#include <lthread.h>

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static int sv[2];
static int done;

/* Sends "01234", then after a pause "56789". */
static void trickle(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_send(sv[1], "01234", 5, 0), 5);
    lthread_sleep(10);
    CHECK_EQ(lthread_send(sv[1], "56789", 5, 0), 5);
}

static void expect_ten(const char *buf)
{
    CHECK(memcmp(buf, "0123456789", 10) == 0);
}

static void receiver(lthread_t *lt, void *arg)
{
    lthread_t *t;
    char buf[16], a[3], b[7];
    struct iovec iov[3] = {{a, 3}, {NULL, 0}, {b, 7}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&t, trickle, NULL), 0);
    CHECK_EQ(lthread_recv(sv[0], buf, 10, MSG_WAITALL, 2000), 10);
    expect_ten(buf);
    CHECK_EQ(lthread_join(t, NULL, 0), 0);

    CHECK_EQ(lthread_create(&t, trickle, NULL), 0);
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(lthread_recvfrom(sv[0], buf, 10, MSG_WAITALL, NULL, NULL, 2000),
             10);
    expect_ten(buf);
    CHECK_EQ(lthread_join(t, NULL, 0), 0);

    /* Across iovecs, an empty one among them; the caller's array stays. */
    CHECK_EQ(lthread_create(&t, trickle, NULL), 0);
    CHECK_EQ(lthread_recvmsg(sv[0], &m, MSG_WAITALL, 2000), 10);
    CHECK(memcmp(a, "012", 3) == 0 && memcmp(b, "3456789", 7) == 0);
    CHECK(iov[0].iov_base == a && iov[0].iov_len == 3 && iov[2].iov_len == 7);
    CHECK_EQ(lthread_join(t, NULL, 0), 0);

    /* A timeout after some bytes: those bytes, as recv(2) would. */
    CHECK_EQ(lthread_send(sv[1], "ab", 2, 0), 2);
    CHECK_EQ(lthread_recvfrom(sv[0], buf, 10, MSG_WAITALL, NULL, NULL, 30), 2);
    CHECK_EQ(lthread_recvmsg(sv[0], &m, MSG_WAITALL, 30), -2);
    CHECK_EQ(errno, ETIMEDOUT);

    /* EOF after some: fewer. */
    CHECK_EQ(lthread_send(sv[1], "xyz", 3, 0), 3);
    CHECK_EQ(lthread_close(sv[1]), 0);
    CHECK_EQ(lthread_recvmsg(sv[0], &m, MSG_WAITALL, 2000), 3);
    CHECK_EQ(lthread_recvfrom(sv[0], buf, 10, MSG_WAITALL, NULL, NULL, 2000),
             0);
    CHECK_EQ(lthread_close(sv[0]), 0);
    done = 1;
}

/* On a datagram socket MSG_WAITALL changes nothing: one datagram. */
static void datagrams(lthread_t *lt, void *arg)
{
    int d[2];
    char buf[16];

    (void)lt;
    (void)arg;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, d), 0);
    CHECK_EQ(lthread_send(d[1], "hey", 3, 0), 3);
    CHECK_EQ(lthread_recvfrom(d[0], buf, 10, MSG_WAITALL, NULL, NULL, 2000), 3);
    close(d[0]);
    close(d[1]);
}

int main(void)
{
    lthread_t *lt;

    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(lthread_create(&lt, receiver, NULL), 0);
    CHECK_EQ(lthread_create(&lt, datagrams, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);
    return check_summary("test_socket_waitall");
}
