/*
 * https_server: hello_server.c over TLS. A keep-alive HTTPS server that
 * answers every request with "Hello World", one lthread scheduler per CPU,
 * on OpenSSL (built only where ./configure found it: libssl-dev).
 *
 *   https_server [-c] cert.pem key.pem [port [threads [seconds]]]
 *
 *   -c       run each step of the TLS handshake in a compute section
 *            (lthread_compute_begin()/end()): the public-key work (the
 *            certificate's signature, the key exchange) is done by the
 *            compute pthreads while the scheduler goes on serving others
 *   cert.pem the server's certificate (and its chain), PEM
 *   key.pem  its private key, PEM
 *   port     TCP port on 127.0.0.1 (default 8443; 0: any free port, named
 *            by the "listening on" line)
 *   threads  schedulers, one pthread each (default: one per online CPU)
 *   seconds  stop after this many seconds (default 0: until SIGINT/SIGTERM)
 *
 * As in hello_server.c, each pthread has its own listening socket on the
 * same port (SO_REUSEPORT), a listener lthread and one lthread per
 * connection. The connection's lthread does the handshake, then reads
 * requests and answers each complete one ("\r\n\r\n" ends a request; no
 * request bodies). The TLS calls are non-blocking OpenSSL calls on the
 * socket; where OpenSSL wants the socket to be readable or writable the
 * lthread waits for it with lthread_wait_read()/lthread_wait_write()
 * (examples/tls_io.h, which says why a socket BIO and not a memory BIO).
 * Every wait has a deadline: the handshake 10 s, an idle keep-alive
 * connection 60 s, a response the client does not take 10 s.
 *
 * No session resumption: every connection makes a full handshake (what -c
 * is about), and the server sends no session tickets that nobody here
 * would use.
 *
 * Without -c a handshake step runs on the scheduler's pthread: about a
 * millisecond of RSA-2048 signing during which none of its other
 * connections is served. With -c it runs on a compute pthread; see the
 * "TLS" section of BENCHMARKS.md for what that costs and buys.
 *
 * Stopping (SIGINT, SIGTERM): as in hello_server.c, a stopper lthread per
 * scheduler ends the listener and the connections where they wait and
 * frees their SSL objects. A connection whose handshake step is running in
 * a compute section cannot be destroyed (EBUSY): it sees the stop when the
 * step returns and ends itself. At the end it prints what it served.
 *
 * Try it (a self-signed certificate for 127.0.0.1):
 *   openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
 *       -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem
 *   https_server cert.pem key.pem 8443 &
 *   curl --cacert cert.pem https://127.0.0.1:8443/
 */
#include "tls_io.h"

#include <errno.h>
#include <fcntl.h>
#include <lthread.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define HANDSHAKE_MS 10000 /* the whole handshake */
#define IDLE_MS 60000      /* waiting for the next request */
#define SEND_MS 10000      /* sending one response */

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 12\r\n"
                               "\r\n"
                               "Hello World\n";

static SSL_CTX *ctx;     /* shared by every scheduler (OpenSSL locks it) */
static int compute_hs;   /* -c */
static int stop_pipe[2]; /* a stop request is a byte written to [1] */

/* One scheduler's state. Only that scheduler's lthreads use it. */
struct server {
    int listen_fd;
    lthread_t *listener;
    struct conn *conns; /* the open connections */
    int stopping;       /* set by the stopper; read by connections */
    /* What was served, added up by main() at the end. */
    long accepted, handshakes, failed, requests;
};

/* One open connection (heap: the listener, the stopper and the
 * connection's lthread use it). */
struct conn {
    struct server *server;
    lthread_t *lt;
    int fd;
    SSL *ssl;
    int clean; /* no fatal TLS error: close_notify may be sent */
    struct conn *prev, *next;
};

static void on_signal(int sig)
{
    int saved_errno = errno;

    (void)sig;
    if (write(stop_pipe[1], "", 1) < 0) {
        /* full: a stop request is waiting already */
    }
    errno = saved_errno;
}

/* Counts the request ends ("\r\n\r\n") in buf[0..n); *matched carries a
 * terminator split between two reads (as in hello_server.c). */
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
            m = buf[i] == '\r';
        }
    }
    *matched = m;
    return count;
}

/* Unlinks a connection, says goodbye (close_notify, if the socket takes
 * it now: never waits), frees its SSL object, closes its socket. */
static void conn_close(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->server->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->clean && SSL_is_init_finished(c->ssl))
        SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    lthread_close(c->fd);
    free(c);
}

/* The handshake, all of it within HANDSHAKE_MS. 0 when done. */
static int handshake(struct conn *c)
{
    uint64_t deadline = tls_now_ms() + HANDSHAKE_MS;
    struct tls_status st;
    int rc;

    /* With -c, a compute section is only worth it once the ClientHello is
     * here: wait for it on the scheduler. */
    if (compute_hs && lthread_wait_read(c->fd, HANDSHAKE_MS) != 0)
        return -1;
    rc = tls_call(c->ssl, c->fd, TLS_HANDSHAKE, NULL, 0, deadline, compute_hs,
                  &c->server->stopping, &st);
    c->clean = !st.fatal;
    return rc == 1 && !c->server->stopping ? 0 : -1;
}

/* Requests in, one response per request out, until the client closes,
 * stays idle IDLE_MS, or fails. */
static void serve_requests(struct conn *c)
{
    char buf[1024];
    int matched = 0, n;
    struct tls_status st;

    while ((n = tls_call(c->ssl, c->fd, TLS_READ, buf, sizeof(buf),
                         tls_now_ms() + IDLE_MS, 0, NULL, &st)) > 0) {
        for (int k = count_requests(buf, (size_t)n, &matched); k > 0; k--) {
            if (tls_call(c->ssl, c->fd, TLS_WRITE, (void *)response,
                         (int)sizeof(response) - 1, tls_now_ms() + SEND_MS, 0,
                         NULL, &st) <= 0) {
                /* A write that timed out leaves a record half sent. */
                c->clean = 0;
                return;
            }
            c->server->requests++;
        }
    }
    c->clean = !st.fatal && n == 0;
}

/* One lthread per connection. */
static void serve_connection(void *arg)
{
    struct conn *c = arg;

    lthread_detach();
    if (handshake(c) == 0) {
        c->server->handshakes++;
        serve_requests(c);
    } else if (!c->server->stopping) {
        c->server->failed++;
    }
    conn_close(c);
}

/* Starts a serve_connection lthread for a new connection. */
static void conn_open(struct server *srv, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c) {
        c->server = srv;
        c->fd = fd;
        c->ssl = tls_new(ctx, fd);
    }
    if (!c || !c->ssl || lthread_create(&c->lt, serve_connection, c) != 0) {
        fprintf(stderr, "https_server: new connection: out of memory\n");
        if (c)
            SSL_free(c->ssl);
        free(c);
        lthread_close(fd);
        return;
    }
    SSL_set_accept_state(c->ssl);
    srv->accepted++;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
}

static void listener(void *arg)
{
    struct server *srv = arg;

    lthread_detach();
    for (;;) {
        int fd = lthread_accept(srv->listen_fd, NULL, NULL);

        if (fd < 0) {
            if (errno != EMFILE && errno != ENFILE)
                perror("https_server: accept");
            lthread_sleep(10);
            continue;
        }
        conn_open(srv, fd);
    }
}

/* Waits for a stop request, then ends the listener and every connection
 * (one in a compute section ends itself when back: see the top). */
static void stopper(void *arg)
{
    struct server *srv = arg;
    struct conn *c, *next;

    lthread_detach();
    if (lthread_wait_read(stop_pipe[0], 0) < 0)
        perror("https_server: waiting for a stop request");
    srv->stopping = 1;
    lthread_destroy(srv->listener);
    lthread_close(srv->listen_fd);
    for (c = srv->conns; c; c = next) {
        next = c->next;
        if (lthread_destroy(c->lt) == 0)
            conn_close(c);
    }
}

static void *scheduler_thread(void *arg)
{
    struct server *srv = arg;
    lthread_t *stop;

    if (lthread_create(&srv->listener, listener, srv) ||
        lthread_create(&stop, stopper, srv)) {
        perror("https_server: lthread_create");
        exit(1);
    }
    lthread_run();
    return NULL;
}

/* A listening socket on 127.0.0.1:port shared with the other schedulers'
 * (port 0: any free port, written back to *port). */
static int open_listener(int *port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)*port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    socklen_t len = sizeof(sin);
    int one = 1;
    int fd = lthread_socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        lthread_close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

/* The TLS context: the certificate and its key, checked against each
 * other. Prints OpenSSL's reason and returns NULL on failure. */
static SSL_CTX *make_ctx(const char *cert, const char *key)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());

    if (!c || tls_ctx_common(c) != 0 ||
        SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c) != 1 ||
        SSL_CTX_set_num_tickets(c, 0) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(c);
        return NULL;
    }
    return c;
}

/* 1,000 connections want more fds than the usual soft limit of 1,024. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-c] cert.pem key.pem [port [threads [seconds]]]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    struct server *servers;
    pthread_t *threads;
    long nthreads, accepted = 0, hs = 0, failed = 0, requests = 0;
    unsigned seconds;
    int port, opt;

    while ((opt = getopt(argc, argv, "c")) != -1) {
        if (opt != 'c')
            return usage(argv[0]);
        compute_hs = 1;
    }
    argv += optind - 1;
    argc -= optind - 1;
    if (argc < 3)
        return usage(argv[0]);
    port = argc > 3 ? atoi(argv[3]) : 8443;
    nthreads = argc > 4 ? atol(argv[4]) : sysconf(_SC_NPROCESSORS_ONLN);
    seconds = argc > 5 ? (unsigned)atoi(argv[5]) : 0;
    if (port < 0 || port > 65535 || nthreads < 1 || nthreads > 1024)
        return usage(argv[0]);
    ctx = make_ctx(argv[1], argv[2]);
    if (!ctx) {
        fprintf(stderr, "https_server: cannot use %s and %s\n", argv[1],
                argv[2]);
        return 1;
    }
    raise_fd_limit();
    if (pipe(stop_pipe) < 0 || fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK) < 0) {
        perror("https_server: pipe");
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
    for (long i = 0; i < nthreads; i++) {
        servers[i].listen_fd = open_listener(&port);
        if (servers[i].listen_fd < 0) {
            fprintf(stderr, "https_server: port %d: %s\n", port,
                    strerror(errno));
            return 1;
        }
        if (pthread_create(&threads[i], NULL, scheduler_thread, &servers[i]) !=
            0) {
            fprintf(stderr, "https_server: pthread_create failed\n");
            return 1;
        }
    }
    printf("https_server: listening on 127.0.0.1:%d, %ld schedulers, "
           "handshakes %s\n",
           port, nthreads, compute_hs ? "in compute sections" : "inline");
    fflush(stdout);
    if (seconds)
        alarm(seconds);

    for (long i = 0; i < nthreads; i++) {
        pthread_join(threads[i], NULL);
        accepted += servers[i].accepted;
        hs += servers[i].handshakes;
        failed += servers[i].failed;
        requests += servers[i].requests;
    }
    free(threads);
    free(servers);
    SSL_CTX_free(ctx);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    printf("https_server: %ld connections, %ld handshakes, %ld failed, "
           "%ld requests\n",
           accepted, hs, failed, requests);
    printf("https_server: stopped\n");
    return 0;
}
