/* fd exhaustion: with RLIMIT_NOFILE lowered and every fd taken, accept
 * returns -1/EMFILE at once (the connection stays queued), socket and pipe
 * fail the same way, and once fds are freed the server serves again. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "lthread_int.h"
#include "test_socket_util.h"

static int lfd;
static int nemfile, nserved, stop;

/* Accepts and echoes one byte per connection; on EMFILE waits a little
 * and tries again, as a server should. */
static void server(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    while (!stop) {
        char c;
        int s = lthread_accept(lfd, NULL, NULL);

        if (s < 0) {
            CHECK(errno == EMFILE || errno == EBADF);
            if (errno == EMFILE)
                nemfile++;
            if (errno == EBADF)
                break; /* the listener was closed: done */
            lthread_sleep(2);
            continue;
        }
        if (lthread_recv(s, &c, 1, 0, 2000) == 1 &&
            lthread_send(s, &c, 1, 0) == 1)
            nserved++;
        lthread_close(s);
    }
}

/* One request: connect (already done for pre-made sockets), a byte, its
 * echo. */
static int request(int c, const struct util_addr *a, char byte)
{
    char back = 0;

    if (lthread_connect(c, (struct sockaddr *)&a->ss, a->len, 2000) != 0)
        return -1;
    if (lthread_send(c, &byte, 1, 0) != 1)
        return -1;
    if (lthread_recv(c, &back, 1, 0, 2000) != 1)
        return -1;
    return back == byte ? 0 : -1;
}

static void driver(lthread_t *lt, void *arg)
{
    struct rlimit saved, low;
    struct util_addr a;
    lthread_t *srv;
    int c1, c2, top, nfill = 0, p[2];
    static int fill[256];

    (void)lt;
    (void)arg;
    lfd = util_bind(AF_INET, SOCK_STREAM, 16, &a);
    CHECK(lfd >= 0);
    CHECK_EQ(lthread_create(&srv, server, NULL), 0);

    /* Served normally. */
    c1 = lthread_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(request(c1, &a, 'a'), 0);
    lthread_close(c1);
    CHECK_EQ(nserved, 1);

    /* The next client's socket is made while fds remain. */
    c2 = lthread_socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c2 >= 0);
    top = c2 > lfd ? c2 : lfd;

    /* Lower the limit a little above what is open, then take the rest. */
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)top + 32;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    while (nfill < 256 && (fill[nfill] = dup(0)) >= 0)
        nfill++;
    CHECK(nfill > 0 && nfill < 256);
    CHECK_EQ(errno, EMFILE);

    errno = 0;
    CHECK_EQ(lthread_socket(AF_INET, SOCK_STREAM, 0), -1);
    CHECK_EQ(errno, EMFILE);
    errno = 0;
    CHECK_EQ(lthread_pipe(p), -1);
    CHECK_EQ(errno, EMFILE);

    /* The client connects (the kernel queues it); accept cannot take it. */
    CHECK_EQ(lthread_connect(c2, (struct sockaddr *)&a.ss, a.len, 2000), 0);
    CHECK_EQ(lthread_send(c2, "b", 1, 0), 1);
    while (nemfile < 3)
        lthread_sleep(1);
    CHECK_EQ(nserved, 1);

    /* Free some fds: the server takes the queued connection and serves. */
    close(fill[--nfill]);
    close(fill[--nfill]);
    {
        char back = 0;
        CHECK_EQ(lthread_recv(c2, &back, 1, 0, 2000), 1);
        CHECK_EQ(back, 'b');
    }
    CHECK_EQ(nserved, 2);
    printf("accept said EMFILE %d times, then served\n", nemfile);
    lthread_close(c2);

    while (nfill > 0)
        close(fill[--nfill]);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);

    /* Served normally again. */
    c1 = lthread_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(request(c1, &a, 'c'), 0);
    lthread_close(c1);
    CHECK_EQ(nserved, 3);

    stop = 1;
    lthread_close(lfd); /* wakes the server's accept with EBADF */
    CHECK_EQ(lthread_join(srv, NULL, 0), 0);
    CHECK_EQ(lthread__sched_get()->nio_waiting, 0);
}

int main(void)
{
    util_trap_sigpipe();
    util_run(driver, NULL);
    return check_summary("test_socket_emfile");
}
