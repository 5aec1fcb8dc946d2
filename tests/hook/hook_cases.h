/*
 * The hook library's semantics, case by case: each hooked call parks only
 * its caller (a ticker keeps ticking), the user's O_NONBLOCK is kept apart
 * from the real one, dup and close keep the table right, SO_RCVTIMEO and
 * SO_SNDTIMEO bound the waits, and outside lthreads (main, a plain
 * pthread, a compute section) every call is the plain one. Run by
 * test_hook (linked with -llthread_hook) and test_hook_preload (the same
 * cases in a binary that does not link it, under LD_PRELOAD), and mixed
 * with the library's own socket calls, which reach the hooks too.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <time.h>

#include "../../src/hook/iface.h"
#include "hook_util.h"

/* True when the process's read() is the hook library's. */
static int hooks_active(void)
{
    Dl_info info;
    void *f = dlsym(RTLD_DEFAULT, "read");

    return f && dladdr(f, &info) && info.dli_fname &&
           strstr(info.dli_fname, "liblthread_hook");
}

/* ---- a pipe read parks only its reader ----------------------------------- */

struct pipe_case {
    int fds[2];
    struct ticker tk;
    long ticks_at_write;
    char got[8];
    ssize_t n;
};

static void pipe_reader(void *arg)
{
    struct pipe_case *c = arg;

    c->n = read(c->fds[0], c->got, sizeof(c->got));
    c->tk.stop = 1;
}

static void pipe_writer(void *arg)
{
    struct pipe_case *c = arg;

    usleep(50 * 1000); /* hooked: parks */
    c->ticks_at_write = c->tk.ticks;
    CHECK_EQ(write(c->fds[1], "hello", 5), 5);
}

static void case_pipe(void)
{
    struct pipe_case c = {.n = -9};
    lthread_t *lt;

    CHECK(pipe(c.fds) == 0); /* blocking, made outside an lthread */
    ticker_start(&c.tk);
    CHECK(lthread_create(&lt, pipe_reader, &c) == 0);
    CHECK(lthread_create(&lt, pipe_writer, &c) == 0);
    CHECK(lthread_run() == 0);
    CHECK_EQ(c.n, 5);
    CHECK(memcmp(c.got, "hello", 5) == 0);
    CHECK(c.ticks_at_write >= 5); /* the ticker ran while read() waited */
    /* Still blocking in the user's view, outside an lthread too. */
    CHECK_EQ(fcntl(c.fds[0], F_GETFL) & O_NONBLOCK, 0);
    close(c.fds[0]);
    close(c.fds[1]);
}

/* ---- TCP: socket, accept, connect, send, recv, readv, writev ----------- */

struct tcp_case {
    int lfd, port;
    struct ticker tk;
    long ticks_before_reply;
    int ok_server, ok_client;
};

static void tcp_server(void *arg)
{
    struct tcp_case *c = arg;
    char buf[64];
    int fd = accept(c->lfd, NULL, NULL);
    ssize_t n;

    CHECK(fd >= 0);
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    n = recv(fd, buf, 4, MSG_WAITALL);
    CHECK_EQ(n, 4);
    usleep(30 * 1000);
    c->ticks_before_reply = c->tk.ticks;
    CHECK_EQ(send(fd, "pong", 4, 0), 4);
    /* readv: two buffers filled by one message */
    {
        char a[3], b[3];
        struct iovec v[2] = {{a, 3}, {b, 3}};

        CHECK_EQ(readv(fd, v, 2), 6);
        CHECK(memcmp(a, "abc", 3) == 0 && memcmp(b, "def", 3) == 0);
    }
    /* A big reply: send() loops over partial writes while parked. */
    {
        size_t big = 4 << 20;
        char *p = calloc(1, big);

        CHECK_EQ(write(fd, p, big), (ssize_t)big);
        free(p);
    }
    c->ok_server = 1;
    close(fd);
}

static void tcp_client(void *arg)
{
    struct tcp_case *c = arg;
    char buf[4];
    size_t big = 4 << 20, got = 0;
    char *p = malloc(65536);
    int fd = tcp_connect(c->port);
    struct iovec v[2] = {{"abc", 3}, {"def", 3}};

    CHECK(fd >= 0);
    CHECK_EQ(send(fd, "ping", 4, 0), 4);
    CHECK_EQ(recv(fd, buf, 4, MSG_WAITALL), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    CHECK_EQ(writev(fd, v, 2), 6);
    usleep(20 * 1000); /* let the server's send fill the socket */
    while (got < big) {
        ssize_t n = read(fd, p, 65536);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    CHECK_EQ(got, big);
    CHECK_EQ(read(fd, p, 1), 0); /* EOF */
    free(p);
    close(fd);
    c->ok_client = 1;
    c->tk.stop = 1;
}

static void tcp_main(void *arg)
{
    struct tcp_case *c = arg;
    lthread_t *lt;

    c->lfd = tcp_listener(&c->port);
    CHECK(c->lfd >= 0);
    CHECK(lthread_create(&lt, tcp_server, c) == 0);
    CHECK(lthread_create(&lt, tcp_client, c) == 0);
}

static void case_tcp(void)
{
    struct tcp_case c = {.lfd = -1};
    lthread_t *lt;

    ticker_start(&c.tk);
    CHECK(lthread_create(&lt, tcp_main, &c) == 0);
    CHECK(lthread_run() == 0);
    CHECK(c.ok_server && c.ok_client);
    CHECK(c.ticks_before_reply >= 3);
    close(c.lfd);
}

/* ---- the user's O_NONBLOCK, dup, close, timeouts ------------------------- */

struct flag_case {
    int port, lfd, peer, a;
    int woken_err;
    ssize_t woken_n;
};

static void waiter_on_a(void *arg)
{
    struct flag_case *c = arg;
    char b;

    c->woken_n = read(c->a, &b, 1);
    c->woken_err = errno;
}

static void flag_main(void *arg)
{
    struct flag_case *c = arg;
    struct timeval tv = {0, 100 * 1000};
    double t0;
    char b[16];
    int on = 1, off = 0, d, fd;
    lthread_t *lt;

    c->lfd = tcp_listener(&c->port);
    fd = tcp_connect(c->port);
    c->peer = accept(c->lfd, NULL, NULL);
    CHECK(fd >= 0 && c->peer >= 0);
    /* Non-blocking in the user's view: EAGAIN, not a park. */
    CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK_EQ(recv(fd, b, 1, 0), -1);
    CHECK(errno == EAGAIN);
    CHECK_EQ(read(fd, b, 1), -1);
    /* FIONBIO back to blocking: the same read waits, within SO_RCVTIMEO. */
    CHECK(ioctl(fd, FIONBIO, &off) == 0);
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    t0 = check_now_ms();
    CHECK_EQ(read(fd, b, 1), -1);
    CHECK(errno == EAGAIN);
    CHECK(check_now_ms() - t0 >= 99);
    CHECK_TIME(check_now_ms() - t0 < 100 + 400 * check_slow());
    CHECK(ioctl(fd, FIONBIO, &on) == 0);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK(ioctl(fd, FIONBIO, &off) == 0);
    /* dup keeps the user's view; the copy waits as well. */
    d = dup(fd);
    CHECK(d >= 0);
    CHECK_EQ(fcntl(d, F_GETFL) & O_NONBLOCK, 0);
    CHECK_EQ(write(c->peer, "x", 1), 1);
    CHECK_EQ(read(d, b, 1), 1);
    /* dup2 over a number another lthread waits on: it wakes (EBADF). */
    c->a = dup(fd);
    CHECK(lthread_create(&lt, waiter_on_a, c) == 0);
    lthread_sleep(10);
    CHECK(dup2(d, c->a) == c->a);
    lthread_sleep(10);
    CHECK_EQ(c->woken_n, -1);
    CHECK_EQ(c->woken_err, EBADF);
    CHECK_EQ(fcntl(c->a, F_GETFL) & O_NONBLOCK, 0);
    /* close() wakes a waiter too. */
    c->woken_n = 0;
    CHECK(lthread_create(&lt, waiter_on_a, c) == 0);
    lthread_sleep(10);
    CHECK(close(c->a) == 0);
    lthread_sleep(10);
    CHECK_EQ(c->woken_n, -1);
    CHECK_EQ(c->woken_err, EBADF);
    /* A socket made non-blocking from the start. */
    {
        int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

        CHECK(fcntl(nb, F_GETFL) & O_NONBLOCK);
        CHECK_EQ(accept(nb, NULL, NULL), -1); /* not listening: EINVAL */
        close(nb);
    }
    /* SO_SNDTIMEO: a send into a full socket ends with the count sent. */
    {
        size_t big = 16 << 20;
        char *p = calloc(1, big);
        ssize_t n;

        CHECK(setsockopt(d, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0);
        t0 = check_now_ms();
        n = send(d, p, big, 0);
        CHECK(n > 0 && (size_t)n < big);
        CHECK(check_now_ms() - t0 >= 99);
        /* Again: -1/EAGAIN if nothing fits, else a part (the kernel
         * may still grow the buffers), never everything. */
        n = send(d, p, big, 0);
        CHECK(n == -1 ? errno == EAGAIN : n > 0 && (size_t)n < big);
        free(p);
    }
    close(d);
    close(fd);
    close(c->peer);
    close(c->lfd);
}

static void case_flags(void)
{
    struct flag_case c = {.lfd = -1};
    lthread_t *lt;

    CHECK(lthread_create(&lt, flag_main, &c) == 0);
    CHECK(lthread_run() == 0);
}

/* ---- poll, ppoll, select, epoll_wait, sleeps ------------------------------
 */

struct wait_case {
    int fds[2], ep;
    struct ticker tk;
    int step;
};

static void wait_poker(void *arg)
{
    struct wait_case *c = arg;

    /* Each step: the waiter below waits, then is fed one byte. */
    for (int i = 0; i < 4; i++) {
        nanosleep(&(struct timespec){0, 30 * 1000 * 1000}, NULL);
        CHECK_EQ(write(c->fds[1], "w", 1), 1);
        while (c->step == i)
            lthread_sleep(1);
    }
}

static void wait_waiter(void *arg)
{
    struct wait_case *c = arg;
    struct pollfd p = {.fd = c->fds[0], .events = POLLIN};
    struct epoll_event ev = {.events = EPOLLIN}, out;
    struct timeval tv = {5, 0};
    fd_set r;
    long t;
    char b;

    t = c->tk.ticks;
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK(p.revents & POLLIN);
    CHECK(c->tk.ticks - t >= 5);
    CHECK_EQ(read(c->fds[0], &b, 1), 1);
    c->step = 1;

    t = c->tk.ticks;
    CHECK_EQ(ppoll(&p, 1, &(struct timespec){5, 0}, NULL), 1);
    CHECK(c->tk.ticks - t >= 5);
    CHECK_EQ(read(c->fds[0], &b, 1), 1);
    c->step = 2;

    t = c->tk.ticks;
    FD_ZERO(&r);
    FD_SET(c->fds[0], &r);
    CHECK_EQ(select(c->fds[0] + 1, &r, NULL, NULL, &tv), 1);
    CHECK(FD_ISSET(c->fds[0], &r));
    CHECK(tv.tv_sec < 5 || tv.tv_usec < 1000000); /* time left */
    CHECK(c->tk.ticks - t >= 5);
    CHECK_EQ(read(c->fds[0], &b, 1), 1);
    c->step = 3;

    c->ep = epoll_create1(0);
    ev.data.fd = c->fds[0];
    CHECK(epoll_ctl(c->ep, EPOLL_CTL_ADD, c->fds[0], &ev) == 0);
    t = c->tk.ticks;
    CHECK_EQ(epoll_wait(c->ep, &out, 1, 5000), 1);
    CHECK_EQ(out.data.fd, c->fds[0]);
    CHECK(c->tk.ticks - t >= 5);
    CHECK_EQ(read(c->fds[0], &b, 1), 1);
    c->step = 4;
    /* Timeouts: nothing comes. */
    CHECK_EQ(epoll_wait(c->ep, &out, 1, 30), 0);
    CHECK_EQ(poll(&p, 1, 30), 0);
    tv = (struct timeval){0, 30000};
    FD_ZERO(&r);
    FD_SET(c->fds[0], &r);
    CHECK_EQ(select(c->fds[0] + 1, &r, NULL, NULL, &tv), 0);
    close(c->ep);
    c->tk.stop = 1;
}

static void case_waits(void)
{
    struct wait_case c = {.step = 0};
    lthread_t *lt;

    CHECK(pipe(c.fds) == 0);
    ticker_start(&c.tk);
    CHECK(lthread_create(&lt, wait_waiter, &c) == 0);
    CHECK(lthread_create(&lt, wait_poker, &c) == 0);
    CHECK(lthread_run() == 0);
    CHECK_EQ(c.step, 4);
    close(c.fds[0]);
    close(c.fds[1]);
}

/* Ten lthreads sleeping 100 ms each through sleep, usleep and nanosleep
 * take about 100 ms together, not a second. */
static int sleepers_done;

static void sleeper(void *arg)
{
    long i = (long)arg;

    if (i % 3 == 0)
        CHECK_EQ(usleep(100 * 1000), 0);
    else if (i % 3 == 1)
        CHECK_EQ(nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL), 0);
    else
        CHECK_EQ(sleep(0), 0);
    sleepers_done++;
}

static void case_sleeps(void)
{
    double t0 = check_now_ms(), dt;
    lthread_t *lt;

    for (long i = 0; i < 10; i++)
        CHECK(lthread_create(&lt, sleeper, (void *)i) == 0);
    CHECK(lthread_run() == 0);
    dt = check_now_ms() - t0;
    printf("10 hooked sleeps of 100 ms: %.0f ms\n", dt);
    CHECK_EQ(sleepers_done, 10);
    CHECK(dt >= 99);
    CHECK_TIME(dt < 100 + 400 * check_slow());
}

/* ---- name resolution in a compute section; pass-through outside --------- */

static int gai_ok;

static void resolver(void *arg)
{
    struct addrinfo hints = {.ai_family = AF_INET,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;

    (void)arg;
    CHECK_EQ(getaddrinfo("127.0.0.1", "80", &hints, &res), 0);
    CHECK(res && res->ai_family == AF_INET);
    if (res)
        freeaddrinfo(res);
    CHECK(gethostbyname("127.0.0.1") != NULL);
    CHECK_EQ(getaddrinfo("no.such.host.invalid", "80", &hints, &res) != 0, 1);
    gai_ok = 1;
}

/* In a compute section, a blocking read blocks the compute pthread: the
 * hook passes it through (the data is there already). */
static void computer(void *arg)
{
    int *fds = arg;
    char b = 0;

    CHECK(lthread_compute_begin() == 0);
    CHECK_EQ(read(fds[0], &b, 1), 1);
    CHECK(lthread_compute_end() == 0);
    CHECK_EQ(b, 'c');
}

/* A plain pthread reading a socket the hook made non-blocking underneath
 * blocks as the user asked, until main's lthread writes. */
static void *plain_reader(void *arg)
{
    int *fd = arg;
    char b[2];

    return (void *)(long)read(*fd, b, 2);
}

static void writer_late(void *arg)
{
    int *fd = arg;

    lthread_sleep(50);
    CHECK_EQ(write(*fd, "ok", 2), 2);
}

/* Makes the table learn *fd in an lthread: a read that times out. */
static void learner(void *arg)
{
    int *fd = arg;
    struct timeval tv = {0, 1000};
    char b;

    CHECK(setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    CHECK_EQ(read(*fd, &b, 1), -1);
    CHECK(errno == EAGAIN);
    tv.tv_usec = 0;
    CHECK(setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
}

static void case_outside(void)
{
    int fds[2], sv[2];
    pthread_t t;
    lthread_t *lt;
    void *ret;

    lthread_create(&lt, resolver, NULL);
    CHECK(lthread_run() == 0);
    CHECK(gai_ok);
    CHECK(pipe(fds) == 0);
    CHECK_EQ(write(fds[1], "c", 1), 1);
    lthread_create(&lt, computer, fds);
    CHECK(lthread_run() == 0);
    close(fds[0]);
    close(fds[1]);

    /* sv[0] learnt in an lthread (made O_NONBLOCK underneath), then read
     * by a plain pthread: it must block, not fail with EAGAIN. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    lthread_create(&lt, learner, &sv[0]);
    CHECK(lthread_run() == 0);
    CHECK(pthread_create(&t, NULL, plain_reader, &sv[0]) == 0);
    lthread_create(&lt, writer_late, &sv[1]);
    CHECK(lthread_run() == 0);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK_EQ((long)ret, 2);
    close(sv[0]);
    close(sv[1]);
}

/* ---- the flag the hooks test before anything else ----------------------- */

/* lthread_hook_scheduler (src/hook/iface.h) is what lets a pthread with
 * no scheduler pass straight through: set from the first lthread_create()
 * to the end of lthread_run(), on that pthread only. */
static int flag_in_lthread = -1, flag_in_compute = -1, flag_on_plain = -1;

static void *flag_plain(void *arg)
{
    (void)arg;
    flag_on_plain = lthread_hook_scheduler;
    return NULL;
}

static void flag_reader(void *arg)
{
    pthread_t t;

    (void)arg;
    flag_in_lthread = lthread_hook_scheduler;
    CHECK(pthread_create(&t, NULL, flag_plain, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(lthread_compute_begin() == 0);
    flag_in_compute = lthread_hook_scheduler;
    CHECK(lthread_compute_end() == 0);
}

static void case_flagword(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_hook_scheduler, 0);
    CHECK(lthread_create(&lt, flag_reader, NULL) == 0);
    CHECK(lthread_hook_scheduler != 0); /* the scheduler exists now */
    CHECK(lthread_run() == 0);
    CHECK_EQ(lthread_hook_scheduler, 0);
    CHECK(flag_in_lthread != 0 && flag_in_lthread != -1);
    CHECK_EQ(flag_on_plain, 0);
    CHECK_EQ(flag_in_compute, 0);
}

/* ---- the library's own calls on hooked fds ---------------------------- */

struct mix_case {
    int lfd, port, ok;
};

static void mix_server(void *arg)
{
    struct mix_case *c = arg;
    char buf[5];
    int fd = lthread_accept(c->lfd, NULL, NULL);

    CHECK(fd >= 0);
    CHECK_EQ(lthread_recv(fd, buf, 5, MSG_WAITALL, 2000), 5);
    CHECK_EQ(lthread_send(fd, buf, 5, 0), 5);
    lthread_close(fd);
}

static void mix_client(void *arg)
{
    struct mix_case *c = arg;
    char buf[5];
    int fd = tcp_connect(c->port); /* hooked calls */

    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "mixed", 5), 5);
    CHECK_EQ(lthread_read(fd, buf, 5, 2000) > 0, 1); /* the library's */
    CHECK_EQ(read(fd, buf, 1), 0);                   /* hooked: EOF */
    close(fd);
    c->ok = 1;
}

static void case_mixed(void)
{
    struct mix_case c;
    lthread_t *lt;

    c.ok = 0;
    c.lfd = lthread_socket(AF_INET, SOCK_STREAM, 0);
    {
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof(a);

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(bind(c.lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
        CHECK(listen(c.lfd, 16) == 0);
        CHECK(getsockname(c.lfd, (struct sockaddr *)&a, &len) == 0);
        c.port = ntohs(a.sin_port);
    }
    lthread_create(&lt, mix_server, &c);
    lthread_create(&lt, mix_client, &c);
    CHECK(lthread_run() == 0);
    CHECK(c.ok);
    lthread_close(c.lfd);
}

static int run_cases(const char *name)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(hooks_active());
    if (!hooks_active())
        return check_summary(name);
    case_flagword();
    case_pipe();
    case_tcp();
    case_flags();
    case_waits();
    case_sleeps();
    case_outside();
    case_mixed();
    return check_summary(name);
}
