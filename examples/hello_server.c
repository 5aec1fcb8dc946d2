/*
 * hello_server: a keep-alive HTTP server that answers every request with
 * "Hello World", running one lthread scheduler per CPU.
 *
 *   hello_server [port [threads [seconds]]]
 *
 *   port     TCP port on 127.0.0.1 (default 8080)
 *   threads  schedulers, one pthread each (default: one per online CPU)
 *   seconds  stop after this many seconds (default 0: until SIGINT/SIGTERM)
 *
 * Each pthread has its own listening socket, bound to the same port with
 * SO_REUSEPORT: the kernel spreads new connections over the sockets, so the
 * schedulers share nothing and need no locks. In each pthread a listener
 * lthread accepts connections and starts one lthread per connection, which
 * reads requests and sends one response for each complete request (a
 * request ends with an empty line, "\r\n\r\n"; request bodies are not
 * supported: this is a demo, not an HTTP parser).
 *
 * Try it:   hello_server 8080 &  curl http://127.0.0.1:8080/
 * To serve other hosts than this one, bind INADDR_ANY instead of loopback.
 */
#include <errno.h>
#include <lthread.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often (ms) waiting lthreads look at the stop flag. */
#define POLL_MS 250

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 12\r\n"
                               "\r\n"
                               "Hello World\n";

/* Set by SIGINT, SIGTERM or SIGALRM (the `seconds` limit). */
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/*
 * Counts the request ends ("\r\n\r\n") in buf[0..n). A terminator may be
 * split between two reads: *matched carries how many of its bytes ended
 * the previous chunk.
 */
static int count_requests(const char *buf, size_t n, int *matched)
{
    static const char end[4] = "\r\n\r\n";
    int count = 0, m = *matched;

    for (size_t i = 0; i < n; i++) {
        if (buf[i] == end[m]) {
            if (++m == 4) {
                count++;
                m = 0;
            }
        } else {
            m = buf[i] == '\r'; /* a '\r' may start the next terminator */
        }
    }
    *matched = m;
    return count;
}

/* One lthread per connection: requests in, one response per request out. */
static void serve_connection(lthread_t *lt, void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[1024];
    int matched = 0;

    (void)lt;
    lthread_detach();
    for (;;) {
        /* Wait at most POLL_MS, so that a stop request is noticed. */
        ssize_t n = lthread_recv(fd, buf, sizeof(buf), 0, POLL_MS);

        if (n == LTHREAD_TIMEOUT) {
            if (stopping)
                break;
            continue;
        }
        if (n <= 0) /* 0: the client closed; -1: an error */
            break;
        for (int k = count_requests(buf, (size_t)n, &matched); k > 0; k--)
            if (lthread_send(fd, response, sizeof(response) - 1, 0) < 0)
                goto out;
    }
out:
    lthread_close(fd);
}

/*
 * Waits for a stop request, then closes the listening socket: the
 * listener's lthread_accept() then fails with EBADF and the listener ends.
 * Connection lthreads notice `stopping` themselves.
 */
static void stopper(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_detach();
    while (!stopping)
        lthread_sleep(POLL_MS);
    lthread_close((int)(intptr_t)arg);
}

/* Accepts connections on this pthread's listening socket until stopped. */
static void listener(lthread_t *lt, void *arg)
{
    int lsn = (int)(intptr_t)arg;

    (void)lt;
    lthread_detach();
    for (;;) {
        /* Suspends this lthread (not the pthread) until a client comes. */
        int fd = lthread_accept(lsn, NULL, NULL);
        lthread_t *conn;

        if (fd < 0) {
            if (errno == EBADF) /* the stopper closed the socket: done */
                break;
            if (errno == EMFILE || errno == ENFILE)
                lthread_sleep(10); /* out of fds: let some clients finish */
            else if (errno != ECONNABORTED && errno != EINTR)
                perror("hello_server: accept");
            continue;
        }
        if (lthread_create(&conn, serve_connection, (void *)(intptr_t)fd)) {
            perror("hello_server: lthread_create");
            lthread_close(fd);
        }
    }
}

/* Body of each pthread: its own scheduler, running its own listener. */
static void *scheduler_thread(void *arg)
{
    lthread_t *lt;

    if (lthread_create(&lt, listener, arg) ||
        lthread_create(&lt, stopper, arg)) {
        perror("hello_server: lthread_create");
        exit(1);
    }
    lthread_run(); /* returns once the listener and all clients are done */
    return NULL;
}

/* A listening socket on 127.0.0.1:port that shares the port with others. */
static int open_listener(int port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    long nthreads = argc > 2 ? atol(argv[2]) : sysconf(_SC_NPROCESSORS_ONLN);
    unsigned seconds = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
    struct sigaction sa = {.sa_handler = on_signal};
    pthread_t *threads;

    if (port <= 0 || port > 65535 || nthreads < 1 || nthreads > 1024) {
        fprintf(stderr, "usage: %s [port [threads [seconds]]]\n", argv[0]);
        return 2;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    threads = calloc((size_t)nthreads, sizeof(*threads));
    if (!threads)
        return 1;
    /* All sockets first: the port is fully served once we say so. */
    for (long i = 0; i < nthreads; i++) {
        int fd = open_listener(port);

        if (fd < 0) {
            fprintf(stderr, "hello_server: port %d: %s\n", port,
                    strerror(errno));
            return 1;
        }
        if (pthread_create(&threads[i], NULL, scheduler_thread,
                           (void *)(intptr_t)fd) != 0) {
            fprintf(stderr, "hello_server: pthread_create failed\n");
            return 1;
        }
    }
    printf("hello_server: listening on 127.0.0.1:%d, %ld schedulers\n", port,
           nthreads);
    fflush(stdout);
    if (seconds)
        alarm(seconds);

    for (long i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    printf("hello_server: stopped\n");
    return 0;
}
