/*
 * hello_server: a keep-alive HTTP server that answers every request with
 * "Hello World", running one lthread scheduler per CPU.
 *
 *   hello_server [port [threads [seconds]]]
 *
 *   port     TCP port on 127.0.0.1 (default 8080; 0: any free port, named
 *            by the "listening on" line)
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
 * Stopping: the signal handler writes a byte to a pipe that every
 * scheduler's stopper lthread waits on. Each stopper then ends its
 * scheduler's listener and connections where they wait (lthread_destroy())
 * and closes their sockets. Nothing wakes up before that, however many
 * keep-alive connections are idle, and a client that stops reading holds
 * nothing up.
 *
 * Try it:   hello_server 8080 &  curl http://127.0.0.1:8080/
 * To serve other hosts than this one, bind INADDR_ANY instead of loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <lthread.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* A client that stops reading while we send to it is dropped after this
 * long: lthread_send() honours the socket's SO_SNDTIMEO. */
#define SEND_TIMEOUT_S 10

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 12\r\n"
                               "\r\n"
                               "Hello World\n";

/* A stop request (SIGINT, SIGTERM, or SIGALRM after `seconds`) is a byte
 * written to stop_pipe[1]. Nobody reads it: stop_pipe[0] stays readable,
 * for every scheduler's stopper. */
static int stop_pipe[2];

/* What one scheduler's stopper must end. Only that scheduler's lthreads
 * use it (one pthread): no lock. */
struct server {
    int listen_fd;
    lthread_t *listener;
    struct conn *conns; /* the open connections */
};

/* One open connection. Heap memory: the listener, the stopper and the
 * connection's own lthread all use it. */
struct conn {
    struct server *server;
    lthread_t *lt;
    int fd;
    struct conn *prev, *next;
};

static void on_signal(int sig)
{
    int saved_errno = errno; /* a handler must leave errno as it was */

    (void)sig;
    /* write(2) is async-signal-safe. The pipe is non-blocking: if it is
     * full, a stop request is waiting already and this one is dropped. */
    if (write(stop_pipe[1], "", 1) < 0) {
        /* nothing to do */
    }
    errno = saved_errno;
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

/* Unlinks a connection, closes its socket and frees it. */
static void conn_close(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->server->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    lthread_close(c->fd);
    free(c);
}

/* One lthread per connection: requests in, one response per request out. */
static void serve_connection(lthread_t *lt, void *arg)
{
    struct conn *c = arg;
    char buf[1024];
    int matched = 0;
    ssize_t n;

    (void)lt;
    lthread_detach();
    /* No timeout: an idle keep-alive client costs nothing until it sends.
     * n is 0 when the client closed, -1 on an error. */
    while ((n = lthread_recv(c->fd, buf, sizeof(buf), 0, 0)) > 0) {
        /* Each send sends the whole response, or fails: -1 on an error,
         * -2 when the client read nothing for SEND_TIMEOUT_S seconds.
         * Either way, drop the client. */
        for (int k = count_requests(buf, (size_t)n, &matched); k > 0; k--)
            if (lthread_send(c->fd, response, sizeof(response) - 1, 0) < 0)
                goto out;
    }
out:
    conn_close(c);
}

/* Starts a serve_connection lthread for a new connection. */
static void conn_open(struct server *srv, int fd)
{
    struct timeval send_timeout = {.tv_sec = SEND_TIMEOUT_S};
    struct conn *c = calloc(1, sizeof(*c));

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
               sizeof(send_timeout));
    if (c) {
        c->server = srv;
        c->fd = fd;
    }
    if (!c || lthread_create(&c->lt, serve_connection, c) != 0) {
        perror("hello_server: new connection");
        free(c);
        lthread_close(fd);
        return;
    }
    /* The new lthread runs once this one waits: it is on the list then. */
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
}

/* Accepts connections on this pthread's listening socket until the
 * stopper ends it. */
static void listener(lthread_t *lt, void *arg)
{
    struct server *srv = arg;

    (void)lt;
    lthread_detach();
    for (;;) {
        /* Suspends this lthread (not the pthread) until a client comes. */
        int fd = lthread_accept(srv->listen_fd, NULL, NULL);

        if (fd < 0) {
            /* Out of fds (let some clients finish) or another failure:
             * wait a little, then accept again. */
            if (errno != EMFILE && errno != ENFILE)
                perror("hello_server: accept");
            lthread_sleep(10);
            continue;
        }
        conn_open(srv, fd);
    }
}

/* Waits for a stop request, then ends this scheduler's listener and
 * connections where they wait, and closes their sockets: the scheduler's
 * lthread_run() then returns. */
static void stopper(lthread_t *lt, void *arg)
{
    struct server *srv = arg;

    (void)lt;
    lthread_detach();
    if (lthread_wait_read(stop_pipe[0], 0) < 0)
        perror("hello_server: waiting for a stop request");
    lthread_destroy(srv->listener);
    lthread_close(srv->listen_fd);
    while (srv->conns) {
        lthread_destroy(srv->conns->lt);
        conn_close(srv->conns);
    }
}

/* Body of each pthread: its own scheduler, running its own listener. */
static void *scheduler_thread(void *arg)
{
    struct server *srv = arg;
    lthread_t *stop;

    if (lthread_create(&srv->listener, listener, srv) ||
        lthread_create(&stop, stopper, srv)) {
        perror("hello_server: lthread_create");
        exit(1);
    }
    lthread_run(); /* returns once the stopper has ended everything */
    return NULL;
}

/*
 * A listening socket on 127.0.0.1:port that shares the port with others.
 * Port 0 takes any free port: *port becomes the port it got, which the
 * next sockets then share.
 */
static int open_listener(int *port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)*port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    socklen_t len = sizeof(sin);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    long nthreads = argc > 2 ? atol(argv[2]) : sysconf(_SC_NPROCESSORS_ONLN);
    unsigned seconds = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
    struct sigaction sa = {.sa_handler = on_signal};
    struct server *servers;
    pthread_t *threads;

    if (port < 0 || port > 65535 || nthreads < 1 || nthreads > 1024) {
        fprintf(stderr, "usage: %s [port [threads [seconds]]]\n", argv[0]);
        return 2;
    }
    /* The pipe first: the handler may run as soon as it is installed. */
    if (pipe(stop_pipe) < 0 || fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK) < 0) {
        perror("hello_server: pipe");
        return 1;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    servers = calloc((size_t)nthreads, sizeof(*servers));
    threads = calloc((size_t)nthreads, sizeof(*threads));
    if (!servers || !threads)
        return 1;
    /* All sockets first: the port is fully served once we say so. */
    for (long i = 0; i < nthreads; i++) {
        servers[i].listen_fd = open_listener(&port);
        if (servers[i].listen_fd < 0) {
            fprintf(stderr, "hello_server: port %d: %s\n", port,
                    strerror(errno));
            return 1;
        }
        if (pthread_create(&threads[i], NULL, scheduler_thread, &servers[i]) !=
            0) {
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
    free(servers);
    printf("hello_server: stopped\n");
    return 0;
}
