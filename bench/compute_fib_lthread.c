/*
 * compute_fib_lthread: the seed's web server (examples/seed_webserver.c)
 * with fibonacci(30) instead of fibonacci(35), for wrk. One lthread per
 * connection reads the request, computes inside lthread_compute_begin/end,
 * answers with the seed's HTTP/1.0 reply and closes. Differences from the
 * seed: no printf per connection, the port is an argument, the result goes
 * to a volatile sink (the seed's `ret` is dead: gcc may drop the call).
 *
 *   compute_fib_lthread [PORT [N]]     (defaults 3128 and 30)
 *
 * Compare with compute_fib_pool (the same work on a pthread pool); run both
 * with bench/compute_run.sh.
 */
#include <lthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char reply[] =
    "HTTP/1.0 200 OK\r\nContent-length: 11\r\n\r\nHello World";
static unsigned fib_n = 30;
static volatile unsigned sink;

static unsigned fibonacci(unsigned n)
{
    if (n == 0)
        return 0;
    if (n == 1)
        return 1;
    return fibonacci(n - 1) + fibonacci(n - 2);
}

static void http_serv(lthread_t *lt, void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[1024];
    ssize_t ret;

    (void)lt;
    ret = lthread_recv(fd, buf, sizeof(buf), 0, 5000);
    if (ret <= 0) {
        lthread_close(fd);
        return;
    }
    lthread_compute_begin();
    sink = fibonacci(fib_n);
    lthread_compute_end();
    lthread_send(fd, reply, sizeof(reply) - 1, 0);
    lthread_close(fd);
}

static void listener(lthread_t *lt, void *arg)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    lthread_attr_t attr;
    int lsn_fd, opt = 1;

    (void)lt;
    sin.sin_port = htons((uint16_t)(intptr_t)arg);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_DETACHED;
    lsn_fd = lthread_socket(AF_INET, SOCK_STREAM, 0);
    if (lsn_fd < 0) {
        perror("lthread_socket");
        exit(1);
    }
    setsockopt(lsn_fd, SOL_SOCKET, SO_REUSEADDR, &opt, sizeof(opt));
    if (bind(lsn_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(lsn_fd, 1024) < 0) {
        perror("bind/listen");
        exit(1);
    }
    fprintf(stderr, "compute_fib_lthread: listening on 127.0.0.1:%d\n",
            (int)(intptr_t)arg);
    for (;;) {
        lthread_t *cli;
        int fd = lthread_accept(lsn_fd, NULL, NULL);

        if (fd < 0) {
            perror("lthread_accept");
            continue;
        }
        if (lthread_create_ex(&cli, http_serv, (void *)(intptr_t)fd, &attr) < 0)
            close(fd);
    }
}

int main(int argc, char **argv)
{
    lthread_t *lt;
    int port = argc > 1 ? atoi(argv[1]) : 3128;

    if (argc > 2)
        fib_n = (unsigned)atoi(argv[2]);
    lthread_create(&lt, listener, (void *)(intptr_t)port);
    lthread_run();
    return 0;
}
