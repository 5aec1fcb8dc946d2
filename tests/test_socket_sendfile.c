/* lthread_sendfile: whole files (offset 0, nbytes 0), ranges, ranges past
 * the end, with and without headers and trailers, over TCP and Unix
 * sockets, large enough to park on a full socket buffer; EPIPE without
 * SIGPIPE. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>

#include "test_socket_util.h"

#define FILE_LEN ((size_t)3 * 1024 * 1024 + 12345)

static int file_fd;
static unsigned char *file_data;

struct rx {
    int fd;
    unsigned char *buf;
    size_t cap, len;
};

/* Reads until EOF. */
static void receiver(lthread_t *lt, void *arg)
{
    struct rx *r = arg;
    ssize_t n;

    (void)lt;
    while ((n = lthread_recv(r->fd, r->buf + r->len, r->cap - r->len, 0,
                             5000)) > 0)
        r->len += (size_t)n;
    CHECK_EQ(n, 0);
}

struct sf_case {
    off_t offset;
    size_t nbytes;
    int headers, trailers;
};

static void one_case(int family, const struct sf_case *k)
{
    static char h1[] = "HTTP/1.1 200 OK\r\n", h2[] = "X-Test: yes\r\n\r\n";
    static char t1[] = "--trailer--";
    struct iovec hdr[2] = {{h1, sizeof(h1) - 1}, {h2, sizeof(h2) - 1}};
    struct iovec trl[1] = {{t1, sizeof(t1) - 1}};
    struct sf_hdtr hdtr = {hdr, k->headers ? 2 : 0, trl, k->trailers ? 1 : 0};
    static struct rx r;
    size_t body, exp_len, off;
    unsigned char *exp;
    lthread_t *rl;
    int c, s;

    CHECK_EQ(util_pair(family, &c, &s), 0);
    r = (struct rx){.fd = s, .cap = FILE_LEN + 1000};
    r.buf = malloc(r.cap);
    CHECK_EQ(lthread_create(&rl, receiver, &r), 0);
    CHECK_EQ(lthread_sendfile(file_fd, c, k->offset, k->nbytes,
                              k->headers || k->trailers ? &hdtr : NULL),
             0);
    CHECK_EQ(shutdown(c, SHUT_WR), 0);
    CHECK_EQ(lthread_join(rl, NULL, 0), 0);

    /* What should have come: headers, the range (clipped to the file),
     * trailers. */
    body = (size_t)k->offset >= FILE_LEN ? 0 : FILE_LEN - (size_t)k->offset;
    if (k->nbytes && k->nbytes < body)
        body = k->nbytes;
    exp = malloc(FILE_LEN + 1000);
    off = 0;
    if (k->headers) {
        memcpy(exp, h1, hdr[0].iov_len);
        memcpy(exp + hdr[0].iov_len, h2, hdr[1].iov_len);
        off = hdr[0].iov_len + hdr[1].iov_len;
    }
    if (body)
        memcpy(exp + off, file_data + k->offset, body);
    off += body;
    if (k->trailers) {
        memcpy(exp + off, t1, trl[0].iov_len);
        off += trl[0].iov_len;
    }
    exp_len = off;
    CHECK_EQ(r.len, exp_len);
    CHECK(r.len == exp_len && memcmp(r.buf, exp, exp_len) == 0);
    free(exp);
    free(r.buf);
    lthread_close(c);
    lthread_close(s);
}

static void cases(lthread_t *lt, void *arg)
{
    static const struct sf_case ks[] = {
        {0, 0, 1, 1},                /* whole file, headers, trailers */
        {0, 0, 0, 0},                /* whole file, no hdtr */
        {1000, 0, 1, 0},             /* from an offset to the end */
        {12345, 100000, 0, 1},       /* a range, trailers only */
        {FILE_LEN - 10, 1000, 1, 1}, /* a range past the end: clipped */
        {FILE_LEN + 5, 0, 1, 1},     /* offset past the end: no body */
        {7, 1, 1, 1},                /* one byte */
    };

    (void)lt;
    (void)arg;
    for (int f = 0; f < 3; f += 2) { /* IPv4 and Unix */
        for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
            one_case(util_families[f], &ks[i]);
    }
}

static void epipe(lthread_t *lt, void *arg)
{
    int c, s, rc = 0, i;

    (void)lt;
    (void)arg;
    CHECK_EQ(util_pair(AF_UNIX, &c, &s), 0);
    CHECK_EQ(lthread_close(s), 0);
    errno = 0;
    for (i = 0; i < 10 && rc == 0; i++)
        rc = lthread_sendfile(file_fd, c, 0, 0, NULL);
    CHECK_EQ(rc, -1);
    CHECK(errno == EPIPE || errno == ECONNRESET);
    lthread_close(c);
}

int main(void)
{
    char path[] = "/tmp/lthread-sendfile-XXXXXX";

    util_trap_sigpipe();
    file_fd = mkstemp(path);
    CHECK(file_fd >= 0);
    unlink(path);
    file_data = malloc(FILE_LEN);
    util_fill(file_data, FILE_LEN, 0, 77);
    CHECK_EQ(write(file_fd, file_data, FILE_LEN), (ssize_t)FILE_LEN);
    util_run(cases, NULL);
    util_run(epipe, NULL);
    close(file_fd);
    free(file_data);
    return check_summary("test_socket_sendfile");
}
