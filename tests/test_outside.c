/*
 * Calls made outside any lthread, as real programs make them from main()
 * before lthread_run(): lthread_socket, lthread_pipe and lthread_close do
 * the plain call (non-blocking, close-on-exec) and keep the fd table
 * right for the lthreads that use the fds later; the calls that would
 * have to wait fail with EPERM and leave the fd alone.
 */
#include <lthread.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static int listener, pipefd[2];
static unsigned short port;
static int served, piped;

static void check_flags(int fd)
{
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void server(lthread_t *lt, void *arg)
{
    char buf[8];
    int c;

    (void)lt;
    (void)arg;
    c = lthread_accept(listener, NULL, NULL);
    CHECK(c >= 0);
    CHECK_EQ(lthread_recv(c, buf, 4, MSG_WAITALL, 5000), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ(lthread_send(c, "pong", 4, 0), 4);
    CHECK_EQ(lthread_close(c), 0);
    served = 1;
}

static void client(lthread_t *lt, void *arg)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char buf[8];
    int fd = lthread_socket(AF_INET, SOCK_STREAM, 0);

    (void)lt;
    (void)arg;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0);
    CHECK_EQ(lthread_connect(fd, (struct sockaddr *)&a, sizeof(a), 5000), 0);
    CHECK_EQ(lthread_send(fd, "ping", 4, 0), 4);
    CHECK_EQ(lthread_recv(fd, buf, 4, MSG_WAITALL, 5000), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    CHECK_EQ(lthread_close(fd), 0);
}

static void pipe_reader(lthread_t *lt, void *arg)
{
    char c;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_read(pipefd[0], &c, 1, 5000), 1);
    CHECK_EQ(c, 'x');
    piped++;
}

static void pipe_writer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(10); /* the reader parks first */
    CHECK_EQ(lthread_write(pipefd[1], "x", 1), 1);
}

int main(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    lthread_t *lt;
    char c;
    int one = 1, fds[2];

    /* Made in main(), used by lthreads. */
    listener = lthread_socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    check_flags(listener);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(bind(listener, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ(listen(listener, 16), 0);
    CHECK_EQ(getsockname(listener, (struct sockaddr *)&a, &alen), 0);
    port = ntohs(a.sin_port);
    CHECK_EQ(lthread_pipe(pipefd), 0);
    check_flags(pipefd[0]);
    check_flags(pipefd[1]);

    /* Calls that would wait: EPERM, and the fd is left as it was. */
    CHECK_EQ(lthread_read(pipefd[0], &c, 1, 10), -1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_recv(listener, &c, 1, 0, 10), -1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_wait_read(pipefd[0], 10), -1);
    CHECK_EQ(errno, EPERM);
    CHECK(fcntl(pipefd[0], F_GETFD) >= 0);

    CHECK_EQ(lthread_create(&lt, server, NULL), 0);
    CHECK_EQ(lthread_create(&lt, client, NULL), 0);
    CHECK_EQ(lthread_create(&lt, pipe_reader, NULL), 0);
    CHECK_EQ(lthread_create(&lt, pipe_writer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(served, 1);
    CHECK_EQ(piped, 1);

    /* lthread_close() in main() closes. */
    CHECK_EQ(lthread_close(listener), 0);
    CHECK_EQ(fcntl(listener, F_GETFD), -1);
    CHECK_EQ(errno, EBADF);

    /* A pipe known to a scheduler, closed in main() with lthread_close()
     * while that scheduler exists, and the number reused by a plain
     * pipe2(): the lthreads of that scheduler still get woken. */
    CHECK_EQ(lthread_create(&lt, pipe_reader, NULL), 0); /* the scheduler */
    CHECK_EQ(lthread_create(&lt, pipe_writer, NULL), 0);
    CHECK_EQ(lthread_close(pipefd[0]), 0);
    CHECK_EQ(lthread_close(pipefd[1]), 0);
    CHECK_EQ(pipe2(fds, O_NONBLOCK), 0);
    CHECK(fds[0] == pipefd[0] || fds[0] == pipefd[1]);
    pipefd[0] = fds[0];
    pipefd[1] = fds[1];
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(piped, 2);
    close(fds[0]);
    close(fds[1]);
    return check_summary("test_outside");
}
