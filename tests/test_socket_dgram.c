/* Datagram sockets over IPv4, IPv6 and Unix-domain: sendto/recvfrom,
 * sendmsg/recvmsg, send/recv when connected, sizes from 0 bytes to the
 * largest datagram, recv timeouts, a receiver parked before the datagram
 * comes, and SCM_RIGHTS over Unix sockets. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "test_socket_util.h"

struct family_arg {
    int family;
};

static int rx_fd;
static size_t rx_len;
static unsigned rx_seed;

/* Parks in recvfrom before the datagram is sent. */
static void parked_receiver(lthread_t *lt, void *arg)
{
    unsigned char *buf = malloc(rx_len + 1);
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_recvfrom(rx_fd, buf, rx_len + 1, 0,
                              (struct sockaddr *)&from, &fl, 2000),
             (ssize_t)rx_len);
    CHECK(util_verify(buf, rx_len, 0, rx_seed));
    free(buf);
}

static void dgrams(lthread_t *lt, void *arg)
{
    int family = ((struct family_arg *)arg)->family;
    /* The largest UDP payload over IPv4 is 65507 bytes; Unix datagrams
     * are bounded by the send buffer: stay well inside it. */
    size_t max = family == AF_INET    ? 65507
                 : family == AF_INET6 ? 65527
                                      : 100000;
    const size_t sizes[] = {0, 1, 2, 1000, 9000, max};
    struct util_addr ra, sa;
    unsigned char *buf = malloc(max + 1), *in = malloc(max + 1);
    long slow = check_slow();
    lthread_t *rcv;
    double t0, el;
    int r, s, sndbuf = 1 << 20;

    (void)lt;
    r = util_bind(family, SOCK_DGRAM, 0, &ra);
    s = util_bind(family, SOCK_DGRAM, 0, &sa);
    CHECK(r >= 0 && s >= 0);
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    setsockopt(r, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        struct iovec iov[2];
        struct msghdr msg = {0};

        /* sendto / recvfrom, with the sender's address. */
        util_fill(buf, len, 0, (unsigned)i);
        CHECK_EQ(
            lthread_sendto(s, buf, len, 0, (struct sockaddr *)&ra.ss, ra.len),
            (ssize_t)len);
        CHECK_EQ(lthread_recvfrom(r, in, max + 1, 0, (struct sockaddr *)&from,
                                  &fl, 2000),
                 (ssize_t)len);
        CHECK(util_verify(in, len, 0, (unsigned)i));
        CHECK_EQ(from.ss_family, family);
        if (family != AF_UNIX)
            CHECK(memcmp(&from, &sa.ss, sa.len) == 0);

        /* sendmsg / recvmsg, split over two iovecs each side. */
        util_fill(buf, len, 0, (unsigned)i + 100);
        iov[0] = (struct iovec){buf, len / 3};
        iov[1] = (struct iovec){buf + len / 3, len - len / 3};
        msg.msg_name = &ra.ss;
        msg.msg_namelen = ra.len;
        msg.msg_iov = iov;
        msg.msg_iovlen = 2;
        CHECK_EQ(lthread_sendmsg(s, &msg, 0), (ssize_t)len);
        iov[0] = (struct iovec){in, 7};
        iov[1] = (struct iovec){in + 7, max + 1 - 7};
        msg = (struct msghdr){.msg_iov = iov, .msg_iovlen = 2};
        CHECK_EQ(lthread_recvmsg(r, &msg, 0, 2000), (ssize_t)len);
        CHECK(util_verify(in, len, 0, (unsigned)i + 100));
        CHECK(!(msg.msg_flags & MSG_TRUNC));

        /* A receiver that is parked when the datagram is sent. */
        rx_fd = r;
        rx_len = len;
        rx_seed = (unsigned)i + 200;
        CHECK_EQ(lthread_create(&rcv, parked_receiver, NULL), 0);
        lthread_sleep(2);
        util_fill(buf, len, 0, rx_seed);
        CHECK_EQ(
            lthread_sendto(s, buf, len, 0, (struct sockaddr *)&ra.ss, ra.len),
            (ssize_t)len);
        CHECK_EQ(lthread_join(rcv, NULL, 0), 0);
    }

    /* Connected: send / recv / write / read. */
    CHECK_EQ(lthread_connect(s, (struct sockaddr *)&ra.ss, ra.len, 1000), 0);
    CHECK_EQ(lthread_send(s, "hello", 5, 0), 5);
    CHECK_EQ(lthread_recv(r, in, 100, 0, 1000), 5);
    CHECK(memcmp(in, "hello", 5) == 0);
    CHECK_EQ(lthread_write(s, "abc", 3), 3);
    CHECK_EQ(lthread_read(r, in, 100, 1000), 3);
    {
        struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
        CHECK_EQ(lthread_writev(s, iov, 2), 4);
        CHECK_EQ(lthread_recv(r, in, 100, 0, 1000), 4);
        CHECK(memcmp(in, "abcd", 4) == 0);
    }

    /* Timeout with nothing sent. */
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_recvfrom(r, in, 10, 0, NULL, NULL, 40), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    el = check_now_ms() - t0;
    CHECK(el >= 39);
    CHECK_TIME(el < 40 + 100 * slow);
    CHECK_EQ(lthread_recv(r, in, 10, 0, 10), -2);

    /* A datagram too big for the buffer is truncated: MSG_TRUNC. */
    CHECK_EQ(lthread_send(s, "0123456789", 10, 0), 10);
    {
        struct iovec iov = {in, 4};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        CHECK_EQ(lthread_recvmsg(r, &msg, 0, 1000), 4);
        CHECK(msg.msg_flags & MSG_TRUNC);
    }

    CHECK_EQ(lthread_close(r), 0);
    CHECK_EQ(lthread_close(s), 0);
    util_addr_cleanup(&ra);
    util_addr_cleanup(&sa);
    free(buf);
    free(in);
}

/* SCM_RIGHTS: control data goes out once, with the data, even through
 * lthread_sendmsg's loop. */
static void pass_fd(lthread_t *lt, void *arg)
{
    int sv[2], p[2], got = -1;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {"x", 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    char c;

    (void)lt;
    (void)arg;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    CHECK_EQ(lthread_pipe(p), 0);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
    CHECK_EQ(lthread_sendmsg(sv[0], &msg, 0), 1);

    memset(&u, 0, sizeof(u));
    iov = (struct iovec){&c, 1};
    msg = (struct msghdr){.msg_iov = &iov,
                          .msg_iovlen = 1,
                          .msg_control = u.buf,
                          .msg_controllen = sizeof(u.buf)};
    CHECK_EQ(lthread_recvmsg(sv[1], &msg, 0, 1000), 1);
    cm = CMSG_FIRSTHDR(&msg);
    CHECK(cm && cm->cmsg_type == SCM_RIGHTS);
    if (cm)
        memcpy(&got, CMSG_DATA(cm), sizeof(int));
    CHECK(got >= 0);
    /* The passed write end feeds our read end. */
    CHECK_EQ(lthread_write(got, "z", 1), 1);
    CHECK_EQ(lthread_read(p[0], &c, 1, 1000), 1);
    CHECK_EQ(c, 'z');
    lthread_close(got);
    lthread_close(p[0]);
    lthread_close(p[1]);
    lthread_close(sv[0]);
    lthread_close(sv[1]);
}

int main(void)
{
    util_trap_sigpipe();
    for (size_t i = 0; i < 3; i++) {
        struct family_arg fa = {util_families[i]};

        util_run(dgrams, &fa);
    }
    util_run(pass_fd, NULL);
    return check_summary("test_socket_dgram");
}
