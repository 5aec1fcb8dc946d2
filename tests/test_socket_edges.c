/*
 * Edges of the socket calls: lthread_sendfile() checks its header and
 * trailer counts before it sends anything; lthread_connect() to a Unix
 * socket whose listener's queue is full fails with ENOMEM (rather than
 * retrying at once, forever) when it cannot arm the timer of its pause; a
 * timed wait looks at its fd once more before it reports a timeout.
 */
#include <lthread.h>

#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "check.h"

static void bad_trailers(lthread_t *lt, void *arg)
{
    char path[] = "/tmp/lthread-edges-XXXXXX";
    struct iovec one = {"h", 1};
    struct sf_hdtr hd = {&one, 1, &one, IOV_MAX + 1};
    char buf[8];
    int sv[2], fd = mkstemp(path);

    (void)lt;
    (void)arg;
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(write(fd, "file", 4), 4);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(lthread_sendfile(fd, sv[0], 0, 0, &hd), -1);
    CHECK_EQ(errno, EINVAL);
    hd.trl_cnt = -1;
    CHECK_EQ(lthread_sendfile(fd, sv[0], 0, 0, &hd), -1);
    CHECK_EQ(errno, EINVAL);
    /* Nothing went out: neither the header nor the file. */
    CHECK_EQ(lthread_recv(sv[1], buf, sizeof(buf), 0, 20), -2);
    close(sv[0]);
    close(sv[1]);
    close(fd);
}

static void full_backlog(lthread_t *lt, void *arg)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int l, c[64], n = 0, fd;

    (void)lt;
    (void)arg;
    snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/lthread-edges-%d",
             (int)getpid());
    unlink(a.sun_path);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ(listen(l, 0), 0);
    /* Fill the listener's queue (nobody accepts). */
    for (; n < 64; n++) {
        c[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(c[n], (struct sockaddr *)&a, sizeof(a)) < 0) {
            close(c[n]);
            break;
        }
    }
    CHECK(n < 64);
    fd = lthread_socket(AF_UNIX, SOCK_STREAM, 0);
    lthread__alloc_fail_after(0); /* its pause's timer cannot be armed */
    CHECK_EQ(lthread_connect(fd, (struct sockaddr *)&a, sizeof(a), 200), -1);
    CHECK_EQ(errno, ENOMEM);
    lthread__alloc_fail_after(-1);
    /* With memory, the timeout ends it. */
    CHECK_EQ(lthread_connect(fd, (struct sockaddr *)&a, sizeof(a), 50), -2);
    lthread_close(fd);
    for (int i = 0; i < n; i++)
        close(c[i]);
    close(l);
    unlink(a.sun_path);
}

/* A timed wait whose fd became ready while the scheduler was busy past
 * the deadline still sees it, as poll(2) would: one last look. */
static int late_fds[2];

static void late_reader(lthread_t *lt, void *arg)
{
    struct pollfd pf = {.events = POLLIN};
    char c;

    (void)lt;
    pf.fd = late_fds[0];
    switch ((int)(intptr_t)arg) {
    case 0:
        CHECK_EQ(lthread_read(late_fds[0], &c, 1, 5), 1);
        break;
    case 1:
        CHECK_EQ(lthread_wait_read(late_fds[0], 5), 0);
        break;
    default:
        CHECK_EQ(lthread_poll(&pf, 1, 5), 1);
        break;
    }
}

static void busy_writer(lthread_t *lt, void *arg)
{
    double t0;

    (void)lt;
    (void)arg;
    /* The reader has parked (it ran first); the data comes now, and the
     * scheduler only looks again once its timeout has passed. */
    CHECK_EQ(write(late_fds[1], "x", 1), 1);
    t0 = check_now_ms();
    while (check_now_ms() - t0 < 30) /* the scheduler is busy past 5 ms */
        ;
}

static void last_look(int how)
{
    lthread_t *lt;

    CHECK_EQ(lthread_pipe(late_fds), 0);
    CHECK_EQ(lthread_create(&lt, late_reader, (void *)(intptr_t)how), 0);
    CHECK_EQ(lthread_create(&lt, busy_writer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    lthread_close(late_fds[0]);
    lthread_close(late_fds[1]);
}

int main(void)
{
    lthread_t *lt;

    for (int how = 0; how < 3; how++)
        last_look(how);

    CHECK_EQ(lthread_create(&lt, bad_trailers, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_create(&lt, full_backlog, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return check_summary("test_socket_edges");
}
