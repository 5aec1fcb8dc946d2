/* Stream sockets over IPv4, IPv6 and Unix-domain: connect/accept, data both
 * ways from 1 byte to 16 MB through every send/receive call, EOF, recv
 * timeouts, MSG_WAITALL, ECONNRESET and EPIPE (never SIGPIPE). */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "test_socket_util.h"

/* The send and receive calls each transfer uses, in turn. */
enum method { M_SEND, M_WRITE, M_WRITEV, M_SENDMSG, M_SENDTO, M_COUNT };

struct xfer {
    int fd;
    size_t len;
    unsigned seed;
    enum method m;
    int done; /* set when the lthread ends well */
};

static void sender(lthread_t *lt, void *arg)
{
    struct xfer *x = arg;
    unsigned char *buf = malloc(x->len ? x->len : 1);
    ssize_t n = -1;

    (void)lt;
    util_fill(buf, x->len, 0, x->seed);
    switch (x->m) {
    case M_SEND:
        n = lthread_send(x->fd, buf, x->len, 0);
        break;
    case M_WRITE:
        n = lthread_write(x->fd, buf, x->len);
        break;
    case M_WRITEV: {
        /* Three pieces of uneven size, one of them empty. */
        size_t a = x->len / 3, b = x->len / 2;
        struct iovec iov[4] = {
            {buf, a}, {buf + a, 0}, {buf + a, b - a}, {buf + b, x->len - b}};
        n = lthread_writev(x->fd, iov, 4);
        break;
    }
    case M_SENDMSG: {
        size_t a = x->len / 2;
        struct iovec iov[2] = {{buf, a}, {buf + a, x->len - a}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        n = lthread_sendmsg(x->fd, &msg, 0);
        break;
    }
    case M_SENDTO:
        n = lthread_sendto(x->fd, buf, x->len, 0, NULL, 0);
        break;
    case M_COUNT:
        break;
    }
    CHECK_EQ(n, (ssize_t)x->len);
    CHECK_EQ(shutdown(x->fd, SHUT_WR), 0);
    free(buf);
    x->done = 1;
}

static void receiver(lthread_t *lt, void *arg)
{
    struct xfer *x = arg;
    size_t cap = 100000, got = 0;
    unsigned char *buf = malloc(cap);
    int ok = 1;

    (void)lt;
    for (;;) {
        /* Vary the chunk size; each method has its receive twin. */
        size_t want = 1 + (got * 7 + 13) % cap;
        ssize_t n = -1;

        switch (x->m) {
        case M_SEND:
            n = lthread_recv(x->fd, buf, want, 0, 5000);
            break;
        case M_WRITE:
            n = lthread_read(x->fd, buf, want, 5000);
            break;
        case M_WRITEV:
        case M_SENDMSG: {
            size_t a = want / 2;
            struct iovec iov[2] = {{buf, a}, {buf + a, want - a}};
            struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
            n = lthread_recvmsg(x->fd, &msg, 0, 5000);
            break;
        }
        case M_SENDTO: {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            n = lthread_recvfrom(x->fd, buf, want, 0, (struct sockaddr *)&ss,
                                 &sl, 5000);
            break;
        }
        case M_COUNT:
            break;
        }
        if (n <= 0) {
            CHECK_EQ(n, 0); /* EOF, not an error or a timeout */
            break;
        }
        if (ok && !util_verify(buf, (size_t)n, got, x->seed))
            ok = 0;
        got += (size_t)n;
    }
    CHECK(ok);
    CHECK_EQ(got, x->len);
    free(buf);
    x->done = 1;
}

struct family_arg {
    int family;
};

/* Data both ways at once on one connection, each side with method m. */
static void two_way(int family, size_t len, enum method m, unsigned seed)
{
    static struct xfer x[4];
    lthread_t *lts[4];
    int c, s;

    if (util_pair(family, &c, &s) != 0) {
        CHECK(!"connected pair");
        return;
    }
    x[0] = (struct xfer){.fd = c, .len = len, .seed = seed, .m = m};
    x[1] = (struct xfer){.fd = s, .len = len, .seed = seed, .m = m};
    x[2] = (struct xfer){.fd = s, .len = len, .seed = seed + 1, .m = m};
    x[3] = (struct xfer){.fd = c, .len = len, .seed = seed + 1, .m = m};
    CHECK_EQ(lthread_create(&lts[0], sender, &x[0]), 0);
    CHECK_EQ(lthread_create(&lts[1], receiver, &x[1]), 0);
    CHECK_EQ(lthread_create(&lts[2], sender, &x[2]), 0);
    CHECK_EQ(lthread_create(&lts[3], receiver, &x[3]), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(lthread_join(lts[i], NULL, 0), 0);
        CHECK(x[i].done);
    }
    CHECK_EQ(lthread_close(c), 0);
    CHECK_EQ(lthread_close(s), 0);
}

static void transfers(lthread_t *lt, void *arg)
{
    static const size_t sizes[] = {1, 2, 1000, 65536 + 7, 1 << 20};
    int family = ((struct family_arg *)arg)->family;
    unsigned seed = 1;

    (void)lt;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (int m = 0; m < M_COUNT; m++)
            two_way(family, sizes[i], (enum method)m, seed++);
    /* 16 MB in one call each way, through the two loops that resume
     * partial writes. */
    two_way(family, 16u << 20, M_SEND, seed++);
    two_way(family, 16u << 20, M_WRITEV, seed++);
}

/* ---- timeouts, EOF, WAITALL -----------------------------------------------
 */

static int wa_fd;

static void waitall_sender(lthread_t *lt, void *arg)
{
    unsigned char chunk[1000];

    (void)lt;
    (void)arg;
    for (int i = 0; i < 3; i++) {
        util_fill(chunk, sizeof(chunk), (size_t)i * sizeof(chunk), 9);
        CHECK_EQ(lthread_send(wa_fd, chunk, sizeof(chunk), 0), 1000);
        lthread_sleep(5);
    }
}

static void misc(lthread_t *lt, void *arg)
{
    int family = ((struct family_arg *)arg)->family;
    unsigned char *buf = malloc(3000);
    long slow = check_slow();
    lthread_t *snd;
    double t0, el;
    int c, s;

    (void)lt;
    if (util_pair(family, &c, &s) != 0) {
        CHECK(!"connected pair");
        free(buf);
        return;
    }
    /* A recv with nothing coming times out. */
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_recv(c, buf, 10, 0, 50), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    el = check_now_ms() - t0;
    CHECK(el >= 49);
    CHECK_TIME(el < 50 + 100 * slow);
    /* So does read, recvfrom and recvmsg. */
    CHECK_EQ(lthread_read(c, buf, 10, 20), -2);
    CHECK_EQ(lthread_recvfrom(c, buf, 10, 0, NULL, NULL, 20), -2);
    {
        struct iovec iov = {buf, 10};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        CHECK_EQ(lthread_recvmsg(c, &msg, 0, 20), -2);
    }
    /* The connection still works after timeouts. */
    CHECK_EQ(lthread_send(s, "x", 1, 0), 1);
    CHECK_EQ(lthread_recv(c, buf, 10, 0, 1000), 1);

    /* MSG_WAITALL gathers chunks that arrive apart. */
    wa_fd = s;
    CHECK_EQ(lthread_create(&snd, waitall_sender, NULL), 0);
    CHECK_EQ(lthread_recv(c, buf, 3000, MSG_WAITALL, 2000), 3000);
    CHECK(util_verify(buf, 3000, 0, 9));
    CHECK_EQ(lthread_join(snd, NULL, 0), 0);

    /* Peer close: recv returns 0, every time. */
    CHECK_EQ(lthread_close(s), 0);
    CHECK_EQ(lthread_recv(c, buf, 10, 0, 1000), 0);
    CHECK_EQ(lthread_read(c, buf, 10, 1000), 0);
    CHECK_EQ(lthread_close(c), 0);
    free(buf);
}

/* ---- ECONNRESET and EPIPE ---------------------------------------------------
 */

static int rst_fd;

static void rst_closer(lthread_t *lt, void *arg)
{
    struct linger lg = {1, 0};

    (void)lt;
    (void)arg;
    lthread_sleep(20); /* let the reader park first */
    CHECK_EQ(setsockopt(rst_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    CHECK_EQ(lthread_close(rst_fd), 0);
}

/* Sends until the kernel refuses; returns the errno it refused with. */
static int send_until_error(int fd, int how)
{
    static char junk[65536];
    struct iovec iov[2] = {{junk, 100}, {junk, sizeof(junk) - 100}};

    for (int i = 0; i < 1000; i++) {
        ssize_t n = how == 0   ? lthread_send(fd, junk, sizeof(junk), 0)
                    : how == 1 ? lthread_write(fd, junk, sizeof(junk))
                               : lthread_writev(fd, iov, 2);
        if (n < 0) {
            CHECK_EQ(n, -1);
            return errno;
        }
        lthread_sleep(1);
    }
    return 0;
}

static void resets(lthread_t *lt, void *arg)
{
    int family = ((struct family_arg *)arg)->family;
    lthread_t *closer;
    char buf[16];
    int c, s, e;

    (void)lt;
    if (family != AF_UNIX) {
        /* SO_LINGER {1, 0}: close sends RST; a parked recv sees it. */
        CHECK_EQ(util_pair(family, &c, &s), 0);
        rst_fd = s;
        CHECK_EQ(lthread_create(&closer, rst_closer, NULL), 0);
        errno = 0;
        CHECK_EQ(lthread_recv(c, buf, sizeof(buf), 0, 2000), -1);
        CHECK_EQ(errno, ECONNRESET);
        CHECK_EQ(lthread_join(closer, NULL, 0), 0);
        CHECK_EQ(lthread_close(c), 0);
    }
    /* Writing to a closed peer: EPIPE (or ECONNRESET first), no SIGPIPE,
     * through send, write and writev. */
    for (int how = 0; how < 3; how++) {
        CHECK_EQ(util_pair(family, &c, &s), 0);
        CHECK_EQ(lthread_close(s), 0);
        e = send_until_error(c, how);
        CHECK(e == EPIPE || e == ECONNRESET);
        if (e != EPIPE && e != ECONNRESET)
            fprintf(stderr, "    %s how %d: errno %d\n",
                    util_family_name(family), how, e);
        /* Once reset, the next one is EPIPE. */
        CHECK_EQ(send_until_error(c, how), EPIPE);
        CHECK_EQ(lthread_close(c), 0);
    }
}

/* ---- connect and accept details ---------------------------------------------
 */

static void addresses(lthread_t *lt, void *arg)
{
    int family = ((struct family_arg *)arg)->family;
    struct sockaddr_storage peer, local;
    socklen_t plen = sizeof(peer), llen = sizeof(local);
    struct util_addr a;
    int lfd, c, s, fl;

    (void)lt;
    lfd = util_bind(family, SOCK_STREAM, 4, &a);
    CHECK(lfd >= 0);
    c = lthread_socket(family, SOCK_STREAM, 0);
    CHECK(c >= 0);
    /* Made non-blocking and close-on-exec. */
    fl = fcntl(c, F_GETFL);
    CHECK(fl >= 0 && (fl & O_NONBLOCK));
    CHECK(fcntl(c, F_GETFD) & FD_CLOEXEC);
    CHECK_EQ(lthread_connect(c, (struct sockaddr *)&a.ss, a.len, 0), 0);
    s = lthread_accept(lfd, (struct sockaddr *)&peer, &plen);
    CHECK(s >= 0);
    CHECK_EQ(peer.ss_family, family);
    CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(s, F_GETFD) & FD_CLOEXEC);
    if (family != AF_UNIX) {
        CHECK_EQ(getsockname(c, (struct sockaddr *)&local, &llen), 0);
        CHECK_EQ(plen, llen);
        CHECK(memcmp(&peer, &local, plen) == 0);
    }
    /* Connecting again: EISCONN, as connect(2) says. */
    errno = 0;
    CHECK_EQ(lthread_connect(c, (struct sockaddr *)&a.ss, a.len, 100), -1);
    CHECK_EQ(errno, EISCONN);
    CHECK_EQ(lthread_close(s), 0);
    CHECK_EQ(lthread_close(c), 0);
    CHECK_EQ(lthread_close(lfd), 0);
    util_addr_cleanup(&a);
}

int main(void)
{
    util_trap_sigpipe();
    for (size_t i = 0; i < 3; i++) {
        struct family_arg fa = {util_families[i]};
        double t0 = check_now_ms();

        util_run(addresses, &fa);
        util_run(transfers, &fa);
        util_run(misc, &fa);
        util_run(resets, &fa);
        printf("%s: %.0f ms\n", util_family_name(fa.family),
               check_now_ms() - t0);
    }
    return check_summary("test_socket_stream");
}
