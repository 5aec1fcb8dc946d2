/* Bad arguments to the socket and fd calls return -1 with the kernel's
 * errno (EBADF, EFAULT, ENOTSOCK, EINVAL...) and leave the scheduler
 * working; every call made outside an lthread fails with EPERM. */
#include <lthread.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "lthread_int.h"
#include "test_socket_util.h"

/* Expects call to return -1 with errno e. */
#define EXPECT_ERR(call, e)                                                    \
    do {                                                                       \
        errno = 0;                                                             \
        CHECK_EQ((call), -1);                                                  \
        CHECK_EQ(errno, (e));                                                  \
    } while (0)

/* Expects call to fail as the plain, non-blocking syscall `plain` does
 * here (emulators such as qemu-user differ from Linux in places). */
#define EXPECT_AS_KERNEL(call, plain)                                          \
    do {                                                                       \
        int e_;                                                                \
        errno = 0;                                                             \
        CHECK_EQ((plain), -1);                                                 \
        e_ = errno;                                                            \
        EXPECT_ERR(call, e_);                                                  \
    } while (0)

/* Every fd call on fd, expecting errno e (fd is never ready, so the
 * calls that would wait fail first). */
static void all_calls_fail(int fd, int e)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct iovec iov = {"x", 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    char buf[4];

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_ERR(lthread_accept(fd, NULL, NULL), e);
    EXPECT_ERR(lthread_connect(fd, (struct sockaddr *)&sin, sizeof(sin), 10),
               e);
    EXPECT_ERR(lthread_recv(fd, buf, 4, 0, 10), e);
    EXPECT_ERR(lthread_recvfrom(fd, buf, 4, 0, NULL, NULL, 10), e);
    EXPECT_ERR(lthread_recvmsg(fd, &msg, 0, 10), e);
    EXPECT_ERR(lthread_read(fd, buf, 4, 10), e);
    EXPECT_ERR(lthread_send(fd, "x", 1, 0), e);
    EXPECT_ERR(lthread_sendto(fd, "x", 1, 0, NULL, 0), e);
    EXPECT_ERR(lthread_sendmsg(fd, &msg, 0), e);
    EXPECT_ERR(lthread_writev(fd, &iov, 1), e);
    EXPECT_ERR(lthread_write(fd, "x", 1), e);
    EXPECT_ERR(lthread_wait_read(fd, 10), e);
    EXPECT_ERR(lthread_wait_write(fd, 10), e);
    EXPECT_ERR(lthread_sendfile(fd, 1, 0, 0, NULL), e);
    EXPECT_ERR(lthread_close(fd), e);
    /* poll(2) reports a closed fd rather than failing; a negative fd is
     * ignored (then the timeout runs out). */
    CHECK_EQ(lthread_poll(&pf, 1, 10), fd < 0 ? 0 : 1);
    if (fd >= 0)
        CHECK_EQ(pf.revents, POLLNVAL);
}

/* The scheduler still serves I/O and timers. */
static void still_works(void)
{
    char buf[8];
    int c, s;

    CHECK_EQ(util_pair(AF_INET, &c, &s), 0);
    CHECK_EQ(lthread_send(c, "ping", 4, 0), 4);
    CHECK_EQ(lthread_recv(s, buf, sizeof(buf), 0, 1000), 4);
    CHECK_EQ(lthread_recv(s, buf, sizeof(buf), 0, 5), -2);
    CHECK_EQ(lthread_sleep(1), 0);
    lthread_close(c);
    lthread_close(s);
    CHECK_EQ(lthread__sched_get()->nio_waiting, 0);
}

static void bad_args(lthread_t *lt, void *arg)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct iovec iov = {"x", 1};
    char buf[4];
    int p[2], c, s, closed, u, lfd;
    struct util_addr a;

    (void)lt;
    (void)arg;
    /* A negative fd, and a number that is closed. */
    all_calls_fail(-1, EBADF);
    all_calls_fail(-12345, EBADF);
    closed = dup(0);
    CHECK(closed >= 0);
    close(closed);
    all_calls_fail(closed, EBADF);
    /* A closed fd the library knew (its table entry exists). */
    CHECK_EQ(util_pair(AF_INET, &c, &s), 0);
    CHECK_EQ(lthread_recv(c, buf, 4, 0, 1), -2); /* registered */
    CHECK_EQ(lthread_close(c), 0);
    all_calls_fail(c, EBADF);
    lthread_close(s);
    still_works();

    /* NULL buffers with a length: EFAULT, as the kernel says. */
    CHECK_EQ(util_pair(AF_INET, &c, &s), 0);
    CHECK_EQ(lthread_pipe(p), 0);
    EXPECT_ERR(lthread_send(c, NULL, 10, 0), EFAULT);
    EXPECT_ERR(lthread_sendto(c, NULL, 10, 0, NULL, 0), EFAULT);
    EXPECT_ERR(lthread_write(c, NULL, 10), EFAULT);
    EXPECT_ERR(lthread_write(p[1], NULL, 10), EFAULT);
    EXPECT_ERR(lthread_writev(c, NULL, 1), EFAULT);
    EXPECT_ERR(lthread_sendmsg(c, NULL, 0), EFAULT);
    CHECK_EQ(lthread_send(s, "data", 4, 0), 4);
    CHECK_EQ(lthread_wait_read(c, 1000), 0);
    EXPECT_ERR(lthread_recv(c, NULL, 10, 0, 100), EFAULT);
    EXPECT_ERR(lthread_recvmsg(c, NULL, 0, 100), EFAULT);
    CHECK_EQ(lthread_write(p[1], "data", 4), 4);
    EXPECT_ERR(lthread_read(p[0], NULL, 10, 100), EFAULT);
    EXPECT_ERR(lthread_pipe(NULL), EFAULT);
    /* A zero length with NULL is fine. */
    CHECK_EQ(lthread_send(c, NULL, 0, 0), 0);
    CHECK_EQ(lthread_write(p[1], NULL, 0), 0);

    /* A pipe given to socket calls: ENOTSOCK. */
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_ERR(lthread_accept(p[0], NULL, NULL), ENOTSOCK);
    EXPECT_ERR(lthread_connect(p[1], (struct sockaddr *)&sin, sizeof(sin), 10),
               ENOTSOCK);
    EXPECT_ERR(lthread_recv(p[0], buf, 4, 0, 10), ENOTSOCK);
    EXPECT_ERR(lthread_recvfrom(p[0], buf, 4, 0, NULL, NULL, 10), ENOTSOCK);
    {
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        /* (ENOTSOCK on Linux; qemu-user says EFAULT for recvmsg.) */
        EXPECT_AS_KERNEL(lthread_recvmsg(p[0], &msg, 0, 10),
                         recvmsg(p[0], &msg, MSG_DONTWAIT));
        EXPECT_AS_KERNEL(lthread_sendmsg(p[1], &msg, 0),
                         sendmsg(p[1], &msg, MSG_DONTWAIT | MSG_NOSIGNAL));
    }
    EXPECT_ERR(lthread_send(p[1], "x", 1, 0), ENOTSOCK);
    EXPECT_ERR(lthread_sendto(p[1], "x", 1, 0, NULL, 0), ENOTSOCK);

    /* Other refusals. */
    EXPECT_ERR(lthread_socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT);
    /* (EINVAL on Linux; qemu-user says ESOCKTNOSUPPORT.) */
    EXPECT_AS_KERNEL(lthread_socket(AF_INET, 12345, 0),
                     socket(AF_INET, 12345 | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    EXPECT_ERR(lthread_writev(c, &iov, -1), EINVAL);
    EXPECT_ERR(lthread_writev(c, &iov, IOV_MAX + 1), EINVAL);
    EXPECT_ERR(lthread_sendfile(p[0], c, -1, 0, NULL), EINVAL);
    /* A socket as the file: sendfile(2) says ESPIPE. */
    EXPECT_ERR(lthread_sendfile(c, s, 0, 10, NULL), ESPIPE);
    u = lthread_socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_ERR(lthread_accept(u, NULL, NULL), EINVAL); /* not listening */
    lthread_close(u);
    u = lthread_socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_ERR(lthread_send(u, "x", 1, 0), EDESTADDRREQ);
    lthread_close(u);
    lfd = util_bind(AF_INET, SOCK_STREAM, 1, &a);
    /* Linux says EPIPE for a listener (and raises no SIGPIPE here). */
    EXPECT_ERR(lthread_send(lfd, "x", 1, 0), EPIPE);
    EXPECT_ERR(lthread_recv(lfd, buf, 1, 0, 10), ENOTCONN);
    lthread_close(lfd);

    lthread_close(c);
    lthread_close(s);
    lthread_close(p[0]);
    lthread_close(p[1]);
    still_works();
}

/* Outside any lthread, every call refuses with EPERM. */
static void outside(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct iovec iov = {"x", 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct pollfd pf = {.fd = 0, .events = POLLIN};
    char buf[4];

    /* (lthread_socket, lthread_pipe and lthread_close work outside an
     * lthread: tests/test_outside.c.) */
    EXPECT_ERR(lthread_accept(0, NULL, NULL), EPERM);
    EXPECT_ERR(lthread_connect(0, (struct sockaddr *)&sin, sizeof(sin), 0),
               EPERM);
    EXPECT_ERR(lthread_recv(0, buf, 4, 0, 0), EPERM);
    EXPECT_ERR(lthread_recvfrom(0, buf, 4, 0, NULL, NULL, 0), EPERM);
    EXPECT_ERR(lthread_recvmsg(0, &msg, 0, 0), EPERM);
    EXPECT_ERR(lthread_read(0, buf, 4, 0), EPERM);
    EXPECT_ERR(lthread_send(1, "x", 1, 0), EPERM);
    EXPECT_ERR(lthread_sendmsg(1, &msg, 0), EPERM);
    EXPECT_ERR(lthread_sendto(1, "x", 1, 0, NULL, 0), EPERM);
    EXPECT_ERR(lthread_writev(1, &iov, 1), EPERM);
    EXPECT_ERR(lthread_write(1, "x", 1), EPERM);
    EXPECT_ERR(lthread_wait_read(0, 0), EPERM);
    EXPECT_ERR(lthread_wait_write(1, 0), EPERM);
    EXPECT_ERR(lthread_poll(&pf, 1, 0), EPERM);
    EXPECT_ERR(lthread_sendfile(0, 1, 0, 0, NULL), EPERM);
}

/* While lthreads exist but from the pthread's own code (between create and
 * run), it is still outside an lthread. */
static void noop(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
}

int main(void)
{
    lthread_t *lt;

    util_trap_sigpipe();
    outside();
    CHECK_EQ(lthread_create(&lt, noop, NULL), 0);
    outside();
    CHECK_EQ(lthread_run(), 0);
    util_run(bad_args, NULL);
    outside();
    return check_summary("test_socket_errors");
}
