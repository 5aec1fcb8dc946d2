/*
 * hook_client: the client side of a keep-alive HTTP load against
 * examples/hello_server, written twice in one program: with plain
 * blocking socket calls (connect, send, recv), which liblthread_hook turns
 * into parks, and with the lthread API (lthread_connect, lthread_send,
 * lthread_recv). Prints the client's CPU time per request (user + system,
 * getrusage), the figure the hook must keep within 1.1x of the API's.
 *
 *   hook_client hook|api PORT [CONNS [REQUESTS]]
 *
 * `hook` needs the hook library: link it (bench/hook_run.sh does) or
 * LD_PRELOAD it. Each of CONNS lthreads on one scheduler sends REQUESTS
 * requests on its own connection, one at a time, checking each reply.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lthread.h>

static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static int port, requests, use_api;
static long done, bad;

/* Reads one response (ends with "Hello World\n"); 0 or -1. */
static int one_request(int fd)
{
    char buf[512];
    size_t got = 0;

    if ((use_api ? lthread_send(fd, req, sizeof(req) - 1, 0)
                 : send(fd, req, sizeof(req) - 1, 0)) != sizeof(req) - 1)
        return -1;
    for (;;) {
        ssize_t n = use_api
                        ? lthread_recv(fd, buf + got, sizeof(buf) - got, 0, 0)
                        : recv(fd, buf + got, sizeof(buf) - got, 0);

        if (n <= 0)
            return -1;
        got += (size_t)n;
        if (got >= 12 && !memcmp(buf + got - 12, "Hello World\n", 12))
            return 0;
        if (got == sizeof(buf))
            return -1;
    }
}

static void conn(void *arg)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd;

    (void)arg;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = use_api ? lthread_socket(AF_INET, SOCK_STREAM, 0)
                 : socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 ||
        (use_api ? lthread_connect(fd, (struct sockaddr *)&a, sizeof(a), 0)
                 : connect(fd, (struct sockaddr *)&a, sizeof(a))) < 0) {
        bad++;
        return;
    }
    for (int i = 0; i < requests; i++) {
        if (one_request(fd) < 0) {
            bad++;
            break;
        }
        done++;
    }
    if (use_api)
        lthread_close(fd);
    else
        close(fd);
}

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    int conns = argc > 3 ? atoi(argv[3]) : 50;
    struct timespec t0, t1;
    double c0, wall;
    lthread_t *lt;

    if (argc < 3 || (strcmp(argv[1], "hook") && strcmp(argv[1], "api"))) {
        fprintf(stderr, "usage: %s hook|api PORT [CONNS [REQUESTS]]\n",
                argv[0]);
        return 2;
    }
    use_api = !strcmp(argv[1], "api");
    port = atoi(argv[2]);
    requests = argc > 4 ? atoi(argv[4]) : 2000;
    for (int i = 0; i < conns; i++)
        lthread_create(&lt, conn, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    c0 = cpu_s();
    lthread_run();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%s requests %ld errors %ld wall_s %.3f cpu_us_per_req %.3f\n",
           argv[1], done, bad, wall, (cpu_s() - c0) / (double)done * 1e6);
    return bad ? 1 : 0;
}
