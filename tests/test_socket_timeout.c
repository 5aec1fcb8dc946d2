/* Timeouts and refusals of connect and accept: a listener whose accept
 * queue is full makes connect time out (-2, ETIMEDOUT); waiting to accept
 * times out; refused and missing peers are -1 with the kernel's errno (an
 * ENOENT is not mistaken for the -2 of a timeout). */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>

#include "test_socket_util.h"

struct family_arg {
    int family;
};

/*
 * listen(fd, 0) and never accept: once the accept queue holds what the
 * backlog allows, Linux drops further SYNs (TCP) or answers EAGAIN (Unix),
 * so a connect cannot complete and must time out.
 */
static void backlog_full(lthread_t *lt, void *arg)
{
    int family = ((struct family_arg *)arg)->family;
    long slow = check_slow();
    struct util_addr a;
    int lfd, fds[8], n = 0, rc = 0;
    double t0, el = 0;

    (void)lt;
    lfd = util_bind(family, SOCK_STREAM, 0, &a);
    CHECK(lfd >= 0);
    for (n = 0; n < 8; n++) {
        fds[n] = lthread_socket(family, SOCK_STREAM, 0);
        CHECK(fds[n] >= 0);
        t0 = check_now_ms();
        errno = 0;
        rc = lthread_connect(fds[n], (struct sockaddr *)&a.ss, a.len, 100);
        el = check_now_ms() - t0;
        if (rc != 0)
            break;
    }
    /* The first one or two fill the queue; then one times out. */
    CHECK(n >= 1 && n < 8);
    CHECK_EQ(rc, -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(el >= 99);
    CHECK_TIME(el < 100 + 100 * slow);
    printf("%s: connect #%d timed out after %.1f ms\n",
           util_family_name(family), n + 1, el);
    for (int i = 0; i <= n && i < 8; i++)
        CHECK_EQ(lthread_close(fds[i]), 0);
    CHECK_EQ(lthread_close(lfd), 0);
    util_addr_cleanup(&a);
}

static struct util_addr late_addr;

/* Connects late, so that the acceptor waits first. */
static void late_connector(lthread_t *lt, void *arg)
{
    int fd;

    (void)lt;
    (void)arg;
    lthread_sleep(30);
    fd = lthread_socket(late_addr.ss.ss_family, SOCK_STREAM, 0);
    CHECK_EQ(lthread_connect(fd, (struct sockaddr *)&late_addr.ss,
                             late_addr.len, 1000),
             0);
    CHECK_EQ(lthread_send(fd, "hi", 2, 0), 2);
    lthread_close(fd);
}

static void accept_waits(lthread_t *lt, void *arg)
{
    int family = ((struct family_arg *)arg)->family;
    long slow = check_slow();
    lthread_t *conn;
    double t0, el;
    char buf[4];
    int lfd, s;

    (void)lt;
    lfd = util_bind(family, SOCK_STREAM, 8, &late_addr);
    CHECK(lfd >= 0);
    /* lthread_accept has no timeout: wait for the listener instead. */
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_wait_read(lfd, 40), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    el = check_now_ms() - t0;
    CHECK(el >= 39);
    CHECK_TIME(el < 40 + 100 * slow);
    /* A parked accept wakes when the peer connects. */
    CHECK_EQ(lthread_create(&conn, late_connector, NULL), 0);
    t0 = check_now_ms();
    s = lthread_accept(lfd, NULL, NULL);
    el = check_now_ms() - t0;
    CHECK(s >= 0);
    CHECK(el >= 25);
    CHECK_EQ(lthread_recv(s, buf, sizeof(buf), 0, 1000), 2);
    CHECK_EQ(lthread_join(conn, NULL, 0), 0);
    CHECK_EQ(lthread_recv(s, buf, sizeof(buf), 0, 1000), 0);
    lthread_close(s);
    lthread_close(lfd);
    util_addr_cleanup(&late_addr);
}

static void refusals(lthread_t *lt, void *arg)
{
    int family = ((struct family_arg *)arg)->family;
    struct util_addr a;
    int lfd, fd;

    (void)lt;
    /* An address nobody listens on: bind, note it, close. */
    lfd = util_bind(family, SOCK_STREAM, 1, &a);
    CHECK(lfd >= 0);
    CHECK_EQ(lthread_close(lfd), 0);
    fd = lthread_socket(family, SOCK_STREAM, 0);
    errno = 0;
    CHECK_EQ(lthread_connect(fd, (struct sockaddr *)&a.ss, a.len, 1000), -1);
    /* A closed Unix socket's path still exists: ECONNREFUSED too. */
    CHECK_EQ(errno, ECONNREFUSED);
    lthread_close(fd);
    if (family == AF_UNIX) {
        /* No such path: ENOENT, which is -2 as a negative errno, must
         * still come back as -1. */
        util_addr_cleanup(&a);
        fd = lthread_socket(AF_UNIX, SOCK_STREAM, 0);
        errno = 0;
        CHECK_EQ(lthread_connect(fd, (struct sockaddr *)&a.ss, a.len, 1000),
                 -1);
        CHECK_EQ(errno, ENOENT);
        lthread_close(fd);
    }
    util_addr_cleanup(&a);
}

int main(void)
{
    util_trap_sigpipe();
    for (size_t i = 0; i < 3; i++) {
        struct family_arg fa = {util_families[i]};

        util_run(backlog_full, &fa);
        util_run(accept_waits, &fa);
        util_run(refusals, &fa);
    }
    return check_summary("test_socket_timeout");
}
