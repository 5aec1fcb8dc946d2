/*
 * https_client: opens N TLS connections at once to an HTTPS server on
 * 127.0.0.1 (https_server), one lthread each, verifies the server's
 * certificate, then makes M keep-alive requests on each and checks every
 * reply. Built only where ./configure found OpenSSL (libssl-dev).
 *
 *   https_client [-n connections] [-m requests] [-t timeout_ms] ca.pem port
 *
 *   -n       simultaneous connections (default 10)
 *   -m       requests on each connection, one after another (default 10)
 *   -t       deadline of each connect + handshake, and of each request
 *            (default 30000 ms)
 *   ca.pem   the certificate authority the server's certificate must chain
 *            to; its name must match IP address 127.0.0.1
 *   port     the server's TCP port on 127.0.0.1
 *
 * Two phases, timed apart: every connection connects and makes its
 * handshake (handshakes/s: all of them over the time until the last one
 * is done); once all are done (a barrier: a condition variable), all send
 * their requests (requests/s, and each request's latency from its first
 * byte sent to the last byte of its reply). A reply is good when it is
 * "HTTP/1.1 200", with a Content-Length, and the body "Hello World\n".
 *
 * The TLS calls are non-blocking OpenSSL calls on the socket that park the
 * lthread in lthread_wait_read()/lthread_wait_write() while OpenSSL waits
 * for the socket (examples/tls_io.h). Prints one summary line; exits 0
 * only if every handshake and every reply was good.
 */
#include "tls_io.h"

#include <lthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

static const char body[] = "Hello World\n";

static SSL_CTX *ctx;
static int port, nconns = 10, nrequests = 10;
static uint64_t timeout_ms = 30000;

/* Shared by the client lthreads, all on one scheduler: no lock. */
static int handshaking;        /* connections not past their handshake */
static int released;           /* the barrier is open */
static lthread_cond_t *all_in; /* broadcast when handshaking reaches 0 */
static uint64_t t_start, t_handshakes, t_end; /* ns, monotonic */
static long handshakes, good, bad, printed;
static double *latency; /* ms, one per good reply */

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Prints the first few failures only: 1,000 identical lines help nobody. */
static void report(int id, const char *what, const char *why)
{
    if (printed++ < 5)
        fprintf(stderr, "https_client: connection %d: %s: %s\n", id, what, why);
}

/* Connects and makes the handshake, verifying the certificate. */
static SSL *open_tls(int id, int *fdp)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    uint64_t deadline = tls_now_ms() + timeout_ms;
    struct tls_status st;
    char why[256];
    SSL *ssl = NULL;
    int fd = lthread_socket(AF_INET, SOCK_STREAM, 0), rc;

    if (fd < 0 || lthread_connect(fd, (struct sockaddr *)&sin, sizeof(sin),
                                  timeout_ms) != 0) {
        report(id, "connect", strerror(errno));
        goto out_close;
    }
    ssl = tls_new(ctx, fd);
    if (!ssl || SSL_set_tlsext_host_name(ssl, "localhost") != 1 ||
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1") != 1) {
        report(id, "SSL_new", "out of memory");
        goto out_free;
    }
    SSL_set_connect_state(ssl);
    rc = tls_call(ssl, fd, TLS_HANDSHAKE, NULL, 0, deadline, 0, NULL, &st);
    if (rc != 1) {
        report(id, "handshake",
               rc == 0 ? "closed by the server"
                       : tls_describe(&st, rc, why, sizeof(why)));
        goto out_free;
    }
    *fdp = fd;
    return ssl;
out_free:
    SSL_free(ssl);
out_close:
    if (fd >= 0)
        lthread_close(fd);
    return NULL;
}

/* Reads one reply into buf and checks it. 0 when good. */
static int read_reply(int id, SSL *ssl, int fd, char *buf, size_t size)
{
    uint64_t deadline = tls_now_ms() + timeout_ms;
    size_t got = 0, head, want;
    struct tls_status st;
    char why[256], *end, *cl;
    int n;

    for (;;) {
        n = tls_call(ssl, fd, TLS_READ, buf + got, (int)(size - 1 - got),
                     deadline, 0, NULL, &st);
        if (n <= 0) {
            report(id, "reading a reply",
                   n == 0 ? "closed by the server"
                          : tls_describe(&st, n, why, sizeof(why)));
            return -1;
        }
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            head = (size_t)(end + 4 - buf);
            cl = strcasestr(buf, "\r\nContent-Length:");
            if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || !cl || cl > end) {
                report(id, "bad reply", "not 200, or no Content-Length");
                return -1;
            }
            want = head + strtoul(cl + 17, NULL, 10);
            if (got >= want)
                break;
        }
        if (got == size - 1) {
            report(id, "bad reply", "too long");
            return -1;
        }
    }
    if (got != want || want - head != sizeof(body) - 1 ||
        memcmp(buf + head, body, sizeof(body) - 1) != 0) {
        report(id, "bad reply", "wrong body, or bytes after it");
        return -1;
    }
    return 0;
}

/* Waits at the barrier until every connection is past its handshake. */
static void barrier(void)
{
    if (--handshaking == 0) {
        t_handshakes = now_ns();
        released = 1;
        lthread_cond_broadcast(all_in);
        return;
    }
    while (!released)
        if (lthread_cond_wait(all_in, timeout_ms) == -2)
            break; /* a stuck peer must not hold the rest forever */
}

static void client(void *arg)
{
    int id = (int)(intptr_t)arg, fd = -1, clean = 1;
    SSL *ssl = open_tls(id, &fd);
    char req[64], reply[512];

    lthread_detach();
    if (ssl)
        handshakes++;
    barrier();
    if (!ssl) {
        bad += nrequests;
        t_end = now_ns();
        return;
    }
    for (int i = 0; i < nrequests; i++) {
        int len =
            snprintf(req, sizeof(req),
                     "GET /%d/%d HTTP/1.1\r\nHost: localhost\r\n\r\n", id, i);
        uint64_t t0 = now_ns();
        struct tls_status st;
        char why[256];
        int rc = tls_call(ssl, fd, TLS_WRITE, req, len,
                          tls_now_ms() + timeout_ms, 0, NULL, &st);

        if (rc <= 0) {
            report(id, "sending a request",
                   tls_describe(&st, rc, why, sizeof(why)));
            clean = 0;
        } else if (read_reply(id, ssl, fd, reply, sizeof(reply)) != 0) {
            clean = 0;
        } else {
            latency[good++] = (double)(now_ns() - t0) / 1e6;
            continue;
        }
        bad += nrequests - i;
        break;
    }
    if (clean)
        SSL_shutdown(ssl); /* close_notify; not waiting for the server's */
    SSL_free(ssl);
    lthread_close(fd);
    t_end = now_ns();
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

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
            "usage: %s [-n connections] [-m requests] [-t timeout_ms] "
            "ca.pem port\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    double hs_s, req_s;
    long total;
    int opt;

    while ((opt = getopt(argc, argv, "n:m:t:")) != -1) {
        switch (opt) {
        case 'n':
            nconns = atoi(optarg);
            break;
        case 'm':
            nrequests = atoi(optarg);
            break;
        case 't':
            timeout_ms = strtoull(optarg, NULL, 10);
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (argc - optind != 2)
        return usage(argv[0]);
    port = atoi(argv[optind + 1]);
    if (port <= 0 || port > 65535 || nconns < 1 || nconns > 1000000 ||
        nrequests < 0 || (long)nconns * nrequests > 100000000 ||
        timeout_ms == 0)
        return usage(argv[0]);
    total = (long)nconns * nrequests;
    latency = malloc(sizeof(*latency) * (size_t)(total ? total : 1));
    ctx = SSL_CTX_new(TLS_client_method());
    if (!latency || !ctx || tls_ctx_common(ctx) != 0 ||
        SSL_CTX_load_verify_locations(ctx, argv[optind], NULL) != 1) {
        ERR_print_errors_fp(stderr);
        fprintf(stderr, "https_client: cannot use %s\n", argv[optind]);
        return 1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);

    handshaking = nconns;
    t_start = now_ns();
    if (lthread_cond_create(&all_in) != 0) {
        perror("https_client: lthread_cond_create");
        return 1;
    }
    for (int i = 0; i < nconns; i++) {
        lthread_t *lt;

        if (lthread_create(&lt, client, (void *)(intptr_t)i) != 0) {
            perror("https_client: lthread_create");
            return 1;
        }
    }
    if (lthread_run() != 0)
        perror("https_client: lthread_run");
    lthread_cond_destroy(all_in);
    SSL_CTX_free(ctx);

    hs_s = (double)(t_handshakes - t_start) / 1e9;
    req_s = (double)(t_end - t_handshakes) / 1e9;
    qsort(latency, (size_t)good, sizeof(*latency), cmp_double);
    printf("https_client: %d connections x %d requests: %ld handshakes in "
           "%.3f s (%.0f/s), %ld good replies in %.3f s (%.0f/s), "
           "latency ms p50 %.3f p99 %.3f max %.3f; %ld handshakes failed, "
           "%ld requests failed\n",
           nconns, nrequests, handshakes, hs_s, handshakes / hs_s, good, req_s,
           req_s > 0 ? good / req_s : 0.0, good ? latency[good / 2] : 0.0,
           good ? latency[good * 99 / 100] : 0.0,
           good ? latency[good - 1] : 0.0, nconns - handshakes, bad);
    free(latency);
    return handshakes == nconns && good == total && bad == 0 ? 0 : 1;
}
