/*
 * chan_http_server: a keep-alive HTTP server that answers every request
 * with "Hello World"; one scheduler accepts connections and hands them
 * through a channel to N worker schedulers, which serve them.
 *
 *   chan_http_server [port [workers [seconds]]]
 *
 *   port     TCP port on 127.0.0.1 (default 8080; 0: any free port, named
 *            by the "listening on" line)
 *   workers  worker schedulers, one pthread each (default: one per online
 *            CPU)
 *   seconds  stop after this many seconds (default 0: until SIGINT/SIGTERM)
 *
 * The acceptor pthread runs one scheduler with one listening socket. Its
 * acceptor lthread sends each new socket (an int) into the channel
 * `accepted`. Every worker pthread runs a scheduler whose taker lthread
 * receives from that channel and starts one lthread per connection, which
 * reads requests and sends one response for each complete request (a
 * request ends with an empty line, "\r\n\r\n"; bodies are not supported:
 * this is a demo, not an HTTP parser). All the takers wait on the same
 * channel: a worker busy with its connections takes fewer new ones.
 * Compare examples/hello_server.c, where the kernel spreads connections
 * over one listening socket per scheduler (SO_REUSEPORT).
 *
 * Stopping: the signal handler writes a byte to a pipe that one stopper
 * lthread per scheduler waits on. The acceptor's stopper closes the
 * listening socket (the acceptor's lthread_accept() fails with EBADF) and
 * the channel (the takers receive what is still in it, then fail with
 * EPIPE); each worker's stopper ends its connections where they wait
 * (lthread_destroy()) and closes their sockets. Nothing wakes up before
 * that, however many keep-alive connections are idle, and a client that
 * stops reading holds nothing up.
 *
 * Try it:   chan_http_server 8080 &  curl http://127.0.0.1:8080/
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

/* Accepted sockets that may wait in the channel for a taker; beyond that
 * the acceptor waits, and new clients wait in the kernel's backlog. */
#define CHANNEL_CAPACITY 16

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 12\r\n"
                               "\r\n"
                               "Hello World\n";

/* A stop request (SIGINT, SIGTERM, or SIGALRM after `seconds`) is a byte
 * written to stop_pipe[1]. Nobody reads it: stop_pipe[0] stays readable,
 * for every scheduler's stopper. */
static int stop_pipe[2];

/* Accepted sockets, from the acceptor to the workers' takers. */
static lthread_chan_t *accepted;

/* The acceptor's listening socket. */
static int listen_fd;

/* What one worker's stopper must end. Only that worker's lthreads use
 * it (one pthread): no lock. */
struct worker {
    int stopping;       /* the stopper has run: take no new connections */
    struct conn *conns; /* the open connections */
    long served;        /* connections taken */
};

/* One open connection. Heap memory: the taker, the stopper and the
 * connection's own lthread all use it. */
struct conn {
    struct worker *worker;
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

/* Waits for a stop request. */
static void wait_for_stop(void)
{
    if (lthread_wait_read(stop_pipe[0], 0) < 0)
        perror("chan_http_server: waiting for a stop request");
}

/* ---- The acceptor's scheduler ------------------------------------------ */

/* Accepts connections and sends each socket into the channel, until the
 * stopper closes the listening socket or the channel. */
static void acceptor(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_detach();
    for (;;) {
        int fd = lthread_accept(listen_fd, NULL, NULL);

        if (fd < 0) {
            if (errno == EBADF) /* closed by the stopper */
                return;
            /* Out of fds (let some clients finish) or another failure:
             * wait a little, then accept again. */
            if (errno != EMFILE && errno != ENFILE)
                perror("chan_http_server: accept");
            lthread_sleep(10);
            continue;
        }
        /* The channel copies the int: fd is ours no more once sent. The
         * send waits while CHANNEL_CAPACITY sockets wait for a taker. */
        if (lthread_chan_send(accepted, &fd, 0) != 0) {
            lthread_close(fd); /* EPIPE: we are stopping */
            return;
        }
    }
}

/* Waits for a stop request, then stops the acceptor and the takers. */
static void acceptor_stopper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_detach();
    wait_for_stop();
    /* The acceptor waits either in lthread_accept(): the close wakes it
     * with EBADF; or in lthread_chan_send(): the channel's close wakes it
     * with EPIPE. */
    lthread_close(listen_fd);
    lthread_chan_close(accepted);
}

static void *acceptor_thread(void *arg)
{
    lthread_t *accept_lt, *stop;

    (void)arg;
    if (lthread_create(&accept_lt, acceptor, NULL) ||
        lthread_create(&stop, acceptor_stopper, NULL)) {
        perror("chan_http_server: lthread_create");
        exit(1);
    }
    lthread_run(); /* returns once the acceptor and its stopper are done */
    return NULL;
}

/* ---- The workers' schedulers ------------------------------------------- */

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
        c->worker->conns = c->next;
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

/* Starts a serve_connection lthread for a socket taken from the channel. */
static void conn_open(struct worker *w, int fd)
{
    struct timeval send_timeout = {.tv_sec = SEND_TIMEOUT_S};
    struct conn *c = calloc(1, sizeof(*c));

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
               sizeof(send_timeout));
    if (c) {
        c->worker = w;
        c->fd = fd;
    }
    if (!c || lthread_create(&c->lt, serve_connection, c) != 0) {
        perror("chan_http_server: new connection");
        free(c);
        lthread_close(fd);
        return;
    }
    /* The new lthread runs once this one waits: it is on the list then. */
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->served++;
}

/* Takes accepted sockets from the channel until it is closed and empty. */
static void taker(lthread_t *lt, void *arg)
{
    struct worker *w = arg;
    int fd;

    (void)lt;
    lthread_detach();
    /* Parks this lthread (not the pthread) until a socket comes; fails
     * with EPIPE once the channel is closed and every socket sent before
     * the close has been taken. */
    while (lthread_chan_recv(accepted, &fd, 0) == 0) {
        if (w->stopping)
            lthread_close(fd); /* handed over as we stop: not served */
        else
            conn_open(w, fd);
    }
}

/* Waits for a stop request, then ends this worker's connections where
 * they wait and closes their sockets. The taker ends by itself when the
 * acceptor's stopper closes the channel. */
static void worker_stopper(lthread_t *lt, void *arg)
{
    struct worker *w = arg;

    (void)lt;
    lthread_detach();
    wait_for_stop();
    w->stopping = 1;
    while (w->conns) {
        lthread_destroy(w->conns->lt);
        conn_close(w->conns);
    }
}

static void *worker_thread(void *arg)
{
    struct worker *w = arg;
    lthread_t *take, *stop;

    if (lthread_create(&take, taker, w) ||
        lthread_create(&stop, worker_stopper, w)) {
        perror("chan_http_server: lthread_create");
        exit(1);
    }
    lthread_run(); /* returns once the taker and the stopper are done */
    return NULL;
}

/* ---- main ---------------------------------------------------------------- */

/* A listening socket on 127.0.0.1:port (0: any free port; *port becomes
 * the port it got). */
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
    long nworkers = argc > 2 ? atol(argv[2]) : sysconf(_SC_NPROCESSORS_ONLN);
    unsigned seconds = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
    struct sigaction sa = {.sa_handler = on_signal};
    struct worker *workers;
    pthread_t acceptor_pthread, *threads;
    long served = 0;

    if (port < 0 || port > 65535 || nworkers < 1 || nworkers > 1024) {
        fprintf(stderr, "usage: %s [port [workers [seconds]]]\n", argv[0]);
        return 2;
    }
    /* The pipe first: the handler may run as soon as it is installed. */
    if (pipe(stop_pipe) < 0 || fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK) < 0) {
        perror("chan_http_server: pipe");
        return 1;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    workers = calloc((size_t)nworkers, sizeof(*workers));
    threads = calloc((size_t)nworkers, sizeof(*threads));
    if (!workers || !threads)
        return 1;
    if (lthread_chan_create(&accepted, sizeof(int), CHANNEL_CAPACITY) != 0) {
        perror("chan_http_server: lthread_chan_create");
        return 1;
    }
    listen_fd = open_listener(&port);
    if (listen_fd < 0) {
        fprintf(stderr, "chan_http_server: port %d: %s\n", port,
                strerror(errno));
        return 1;
    }
    for (long i = 0; i < nworkers; i++) {
        if (pthread_create(&threads[i], NULL, worker_thread, &workers[i]) !=
            0) {
            fprintf(stderr, "chan_http_server: pthread_create failed\n");
            return 1;
        }
    }
    if (pthread_create(&acceptor_pthread, NULL, acceptor_thread, NULL) != 0) {
        fprintf(stderr, "chan_http_server: pthread_create failed\n");
        return 1;
    }
    printf("chan_http_server: listening on 127.0.0.1:%d, 1 acceptor, %ld "
           "workers\n",
           port, nworkers);
    fflush(stdout);
    if (seconds)
        alarm(seconds);

    pthread_join(acceptor_pthread, NULL);
    for (long i = 0; i < nworkers; i++) {
        pthread_join(threads[i], NULL);
        served += workers[i].served;
    }
    /* Every taker has seen EPIPE: the channel is closed and empty. */
    lthread_chan_destroy(accepted);
    free(threads);
    free(workers);
    printf("chan_http_server: served %ld connections\n", served);
    printf("chan_http_server: stopped\n");
    return 0;
}
