/* lthread_poll: immediate checks, timeouts, waiting on several fds at once
 * for input and output, hang-ups, duplicate and negative fds, several
 * pollers of one fd, wakes that turn out stale, and regular files. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>

#include "lthread_int.h"
#include "test_socket_util.h"

static int pipes[3][2];
static int delayed_fd = -1;
static int delayed_ms;

/* Writes one byte to delayed_fd after delayed_ms. */
static void delayed_writer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_detach();
    lthread_sleep((uint64_t)delayed_ms);
    CHECK_EQ(lthread_write(delayed_fd, "w", 1), 1);
}

static void later_write(int fd, int ms)
{
    lthread_t *lt;

    delayed_fd = fd;
    delayed_ms = ms;
    CHECK_EQ(lthread_create(&lt, delayed_writer, NULL), 0);
}

static void basics(lthread_t *lt, void *arg)
{
    struct pollfd p[4];
    long slow = check_slow();
    double t0, el;
    char c;

    (void)lt;
    (void)arg;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(lthread_pipe(pipes[i]), 0);
    for (int i = 0; i < 3; i++)
        p[i] = (struct pollfd){.fd = pipes[i][0], .events = POLLIN};
    p[3] = (struct pollfd){.fd = -1, .events = POLLIN}; /* ignored */

    /* timeout 0: just looks. */
    t0 = check_now_ms();
    CHECK_EQ(lthread_poll(p, 4, 0), 0);
    CHECK_TIME(check_now_ms() - t0 < 100 * slow);

    /* A timeout with nothing ready. */
    t0 = check_now_ms();
    p[0].revents = 77;
    CHECK_EQ(lthread_poll(p, 4, 40), 0);
    el = check_now_ms() - t0;
    CHECK(el >= 39);
    CHECK_TIME(el < 40 + 100 * slow);
    CHECK_EQ(p[0].revents, 0);

    /* Already ready: at once, with revents. */
    CHECK_EQ(lthread_write(pipes[1][1], "a", 1), 1);
    CHECK_EQ(lthread_poll(p, 4, 1000), 1);
    CHECK_EQ(p[1].revents, POLLIN);
    CHECK_EQ(p[0].revents, 0);
    CHECK_EQ(p[3].revents, 0);
    CHECK_EQ(lthread_read(pipes[1][0], &c, 1, 0), 1);

    /* Parked on three fds; the third becomes ready. */
    later_write(pipes[2][1], 20);
    t0 = check_now_ms();
    CHECK_EQ(lthread_poll(p, 4, 2000), 1);
    el = check_now_ms() - t0;
    CHECK(el >= 15);
    CHECK_TIME(el < 20 + 100 * slow);
    CHECK_EQ(p[2].revents, POLLIN);
    CHECK_EQ(p[0].revents | p[1].revents, 0);
    CHECK_EQ(lthread_read(pipes[2][0], &c, 1, 0), 1);
    CHECK_EQ(lthread__sched_get()->nio_waiting, 0);

    /* -1: forever, until a write. */
    later_write(pipes[0][1], 10);
    CHECK_EQ(lthread_poll(p, 3, -1), 1);
    CHECK_EQ(p[0].revents, POLLIN);
    CHECK_EQ(lthread_read(pipes[0][0], &c, 1, 0), 1);

    /* The same fd twice with different events; a write end is writable. */
    p[0] = (struct pollfd){.fd = pipes[0][0], .events = POLLIN};
    p[1] = (struct pollfd){.fd = pipes[0][0], .events = POLLPRI};
    p[2] = (struct pollfd){.fd = pipes[1][1], .events = POLLOUT};
    CHECK_EQ(lthread_poll(p, 3, 1000), 1);
    CHECK_EQ(p[2].revents, POLLOUT);
    later_write(pipes[0][1], 10);
    CHECK_EQ(lthread_poll(p, 2, 1000), 1);
    CHECK_EQ(p[0].revents, POLLIN);
    CHECK_EQ(p[1].revents, 0);
    CHECK_EQ(lthread_read(pipes[0][0], &c, 1, 0), 1);

    /* nfds 0: a sleep. */
    t0 = check_now_ms();
    CHECK_EQ(lthread_poll(NULL, 0, 20), 0);
    CHECK(check_now_ms() - t0 >= 19);
}

/* ---- output and hang-up -------------------------------------------------- */

static void drainer(lthread_t *lt, void *arg)
{
    static char buf[1 << 16];

    (void)lt;
    (void)arg;
    lthread_sleep(10);
    CHECK(lthread_read(pipes[0][0], buf, sizeof(buf), 1000) > 0);
}

static void hangup_closer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(10);
    CHECK_EQ(lthread_close(pipes[1][1]), 0);
}

static void out_and_hup(lthread_t *lt, void *arg)
{
    static char junk[4096];
    struct pollfd p;
    lthread_t *d;
    int n = 0;

    (void)lt;
    (void)arg;
    /* Fill the pipe, then wait until a reader makes room. */
    while (write(pipes[0][1], junk, sizeof(junk)) > 0)
        n++;
    CHECK(n > 0);
    p = (struct pollfd){.fd = pipes[0][1], .events = POLLOUT};
    CHECK_EQ(lthread_poll(&p, 1, 0), 0);
    CHECK_EQ(lthread_create(&d, drainer, NULL), 0);
    CHECK_EQ(lthread_poll(&p, 1, 2000), 1);
    CHECK(p.revents & POLLOUT);
    CHECK_EQ(lthread_join(d, NULL, 0), 0);

    /* The write end closes while we poll the read end: POLLHUP. */
    p = (struct pollfd){.fd = pipes[1][0], .events = POLLIN};
    CHECK_EQ(lthread_create(&d, hangup_closer, NULL), 0);
    CHECK_EQ(lthread_poll(&p, 1, 2000), 1);
    CHECK(p.revents & POLLHUP);
    CHECK_EQ(lthread_join(d, NULL, 0), 0);
    for (int i = 0; i < 3; i++) {
        lthread_close(pipes[i][0]);
        if (i != 1)
            lthread_close(pipes[i][1]);
    }
}

/* ---- several pollers, stale wakes -------------------------------------------
 */

static int npolled, nconsumed;

/* Polls pipes[0][0]; whoever gets there first takes the byte, the others
 * find nothing left and must go back to waiting (then time out). */
static void competing_poller(lthread_t *lt, void *arg)
{
    struct pollfd p = {.fd = pipes[0][0], .events = POLLIN};
    char c;
    int rc;

    (void)lt;
    (void)arg;
    rc = lthread_poll(&p, 1, 100);
    if (rc == 1 && read(pipes[0][0], &c, 1) == 1)
        nconsumed++;
    else
        CHECK_EQ(rc, 0);
    npolled++;
}

static void several_pollers(lthread_t *lt, void *arg)
{
    enum { N = 4 };
    lthread_t *ps[N];

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_pipe(pipes[0]), 0);
    npolled = nconsumed = 0;
    for (int i = 0; i < N; i++)
        CHECK_EQ(lthread_create(&ps[i], competing_poller, NULL), 0);
    lthread_sleep(10);
    CHECK_EQ(lthread_write(pipes[0][1], "x", 1), 1);
    for (int i = 0; i < N; i++)
        CHECK_EQ(lthread_join(ps[i], NULL, 0), 0);
    CHECK_EQ(npolled, N);
    CHECK_EQ(nconsumed, 1);
    CHECK_EQ(lthread__sched_get()->nio_waiting, 0);
    lthread_close(pipes[0][0]);
    lthread_close(pipes[0][1]);
}

/* Regular files are always ready; a socket and a pipe mix fine. */
static void files_and_sockets(lthread_t *lt, void *arg)
{
    char path[] = "/tmp/lthread-poll-XXXXXX";
    int f = mkstemp(path), c = -1, s = -1;
    struct pollfd p[2];

    (void)lt;
    (void)arg;
    CHECK(f >= 0);
    unlink(path);
    p[0] = (struct pollfd){.fd = f, .events = POLLIN | POLLOUT};
    CHECK_EQ(lthread_poll(p, 1, -1), 1);
    CHECK_EQ(p[0].revents, POLLIN | POLLOUT);
    CHECK_EQ(lthread_wait_read(f, 0), 0);
    CHECK_EQ(lthread_wait_write(f, 0), 0);
    close(f);

    CHECK_EQ(util_pair(AF_UNIX, &c, &s), 0);
    CHECK_EQ(lthread_pipe(pipes[0]), 0);
    p[0] = (struct pollfd){.fd = c, .events = POLLIN};
    p[1] = (struct pollfd){.fd = pipes[0][0], .events = POLLIN};
    later_write(s, 10);
    CHECK_EQ(lthread_poll(p, 2, 1000), 1);
    CHECK_EQ(p[0].revents, POLLIN);
    CHECK_EQ(p[1].revents, 0);
    lthread_close(c);
    lthread_close(s);
    lthread_close(pipes[0][0]);
    lthread_close(pipes[0][1]);
}

int main(void)
{
    struct pollfd p = {.fd = 0, .events = POLLIN};

    util_trap_sigpipe();
    errno = 0;
    CHECK_EQ(lthread_poll(&p, 1, 0), -1);
    CHECK_EQ(errno, EPERM);
    util_run(basics, NULL);
    util_run(out_and_hup, NULL);
    util_run(several_pollers, NULL);
    util_run(files_and_sockets, NULL);
    return check_summary("test_poll");
}
