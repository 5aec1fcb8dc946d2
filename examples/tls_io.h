/*
 * tls_io.h: OpenSSL on lthread sockets, for https_server.c and
 * https_client.c. Needs OpenSSL 1.1.1 or later (Debian: libssl-dev).
 *
 * The SSL object reads and writes the socket itself (SSL_set_fd: a socket
 * BIO), and the socket is non-blocking, so an OpenSSL call never blocks:
 * where it would, it fails with SSL_ERROR_WANT_READ or WANT_WRITE, and
 * tls_call() parks the lthread in lthread_wait_read() or
 * lthread_wait_write() on the fd, then calls it again. No syscall hooks are
 * needed, and no byte is copied twice.
 *
 * Why not a memory BIO pair (OpenSSL works on buffers, the lthread moves
 * them with lthread_recv/lthread_send)? It costs a copy each way and a
 * loop to flush the write BIO after every call, and buys nothing here:
 * the socket BIO's recv/send on a non-blocking fd are fine on any pthread,
 * so even a handshake step run in a compute section (https_server -c) can
 * send its flight directly. A memory BIO is the choice when the bytes do
 * not come from an fd OpenSSL can use (a transport of one's own, QUIC).
 *
 * Compute sections: a step run inside lthread_compute_begin()/end() runs
 * on a compute pthread, and OpenSSL's error queue and errno are
 * per-pthread. So tls_step() makes the call, SSL_get_error() and reads
 * errno and the error queue all on the pthread that made the call, and
 * leaves that queue empty; it is noinline so that no thread-local address
 * computed before the section is reused inside it (see lthread.h).
 */
#ifndef LTHREAD_EXAMPLES_TLS_IO_H
#define LTHREAD_EXAMPLES_TLS_IO_H

#include <errno.h>
#include <lthread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#if OPENSSL_VERSION_NUMBER < 0x10101000L
#error "the TLS examples need OpenSSL 1.1.1 or later"
#endif

enum tls_op { TLS_HANDSHAKE, TLS_READ, TLS_WRITE };

/* What the last OpenSSL call of a tls_call() did, read on the pthread that
 * made it. */
struct tls_status {
    int ret;               /* what the call returned */
    int ssl_error;         /* SSL_get_error(): SSL_ERROR_NONE when ret > 0 */
    int sys_errno;         /* errno right after the call */
    unsigned long lib_err; /* OpenSSL's first queued error, 0 if none */
    int fatal;             /* the connection is broken: no SSL_shutdown() */
};

/* Milliseconds on the monotonic clock. */
static inline uint64_t tls_now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* One OpenSSL call, with its outcome collected on the calling pthread. */
static __attribute__((noinline)) void
tls_step(SSL *ssl, enum tls_op op, void *buf, int len, struct tls_status *st)
{
    int ret;

    ERR_clear_error();
    errno = 0;
    switch (op) {
    case TLS_HANDSHAKE:
        ret = SSL_do_handshake(ssl);
        break;
    case TLS_READ:
        ret = SSL_read(ssl, buf, len);
        break;
    default:
        ret = SSL_write(ssl, buf, len);
        break;
    }
    st->sys_errno = errno;
    st->ret = ret;
    st->ssl_error = ret > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, ret);
    st->lib_err = ERR_get_error();
    ERR_clear_error();
}

/*
 * Runs op (SSL_do_handshake, SSL_read or SSL_write of buf[0..len)) until it
 * completes, parking the lthread while the socket fd is not ready, never
 * past deadline (tls_now_ms() time). With compute set, each call to OpenSSL
 * runs in a compute section (where one can be had). When *stop becomes
 * non-zero (stop may be NULL) it gives up after the current call.
 *
 * Returns what OpenSSL returned on success (> 0: bytes read or written, 1
 * for a handshake); 0 when the peer closed the connection (a read: its
 * close_notify, or EOF); -1 with errno on an error (EPROTO: TLS failed,
 * st->lib_err says why; ECANCELED: *stop; a socket error); -2 with errno
 * ETIMEDOUT at the deadline. st describes the last call; st->fatal is set
 * where the connection must not be used again.
 */
static inline int tls_call(SSL *ssl, int fd, enum tls_op op, void *buf, int len,
                           uint64_t deadline, int compute, const int *stop,
                           struct tls_status *st)
{
    for (;;) {
        uint64_t now;
        int w;

        if (compute && lthread_compute_begin() == 0) {
            tls_step(ssl, op, buf, len, st);
            lthread_compute_end();
        } else {
            tls_step(ssl, op, buf, len, st);
        }
        st->fatal = 0;
        switch (st->ssl_error) {
        case SSL_ERROR_NONE:
            return st->ret;
        case SSL_ERROR_ZERO_RETURN: /* close_notify (or EOF: see below) */
            return 0;
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            break;
        case SSL_ERROR_SYSCALL:
            st->fatal = 1;
            if (st->sys_errno == 0 && op == TLS_READ)
                return 0; /* EOF without close_notify (OpenSSL 1.1.1) */
            errno = st->sys_errno ? st->sys_errno : ECONNRESET;
            return -1;
        default: /* SSL_ERROR_SSL: a protocol or verification failure */
            st->fatal = 1;
            errno = EPROTO;
            return -1;
        }
        if (stop && *stop) {
            errno = ECANCELED;
            return -1;
        }
        now = tls_now_ms();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -2;
        }
        /* The wait's timeout is never 0 (which would mean forever). */
        if (st->ssl_error == SSL_ERROR_WANT_READ)
            w = lthread_wait_read(fd, deadline - now);
        else
            w = lthread_wait_write(fd, deadline - now);
        if (w != 0)
            return w; /* -2: ETIMEDOUT; -1: EBADF (closed), ENOMEM */
    }
}

/* A line that says why a tls_call() failed. */
static inline const char *tls_describe(const struct tls_status *st, int rc,
                                       char *buf, size_t size)
{
    if (rc == -2)
        snprintf(buf, size, "timed out");
    else if (st->lib_err)
        ERR_error_string_n(st->lib_err, buf, size);
    else
        snprintf(buf, size, "%s", strerror(errno));
    return buf;
}

/* A new SSL object on fd, buffers released while idle. NULL on failure. */
static inline SSL *tls_new(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl && SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ssl = NULL;
    }
    return ssl;
}

/* Applied to both contexts: TLS 1.2 or later; an SSL object drops its
 * 33 KiB of record buffers while idle (1,000 idle connections: 33 MB less
 * per side); EOF without close_notify reads as a close (OpenSSL 3), as a
 * keep-alive HTTP peer may end that way. */
static inline int tls_ctx_common(SSL_CTX *ctx)
{
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 ? 0 : -1;
}

#endif
