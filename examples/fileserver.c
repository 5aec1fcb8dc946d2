/*
 * fileserver: a static file server for one directory, on lthreads: file
 * reads with lthread_io_pread(), which parks only the connection's lthread
 * while the disk works, and lthread_send() (or lthread_sendfile() with -s).
 *
 *   fileserver [-s] DIR [port [seconds]]
 *
 *   -s       send file bodies with lthread_sendfile() (the kernel's copy
 *            from the page cache to the socket: no read into our memory,
 *            but a page that is not in memory is read from the disk with
 *            the scheduler waiting, so it suits files that are cached)
 *   DIR      the directory served; nothing outside it is ever served
 *   port     TCP port on 127.0.0.1 (default 8080; 0: any free port, named
 *            by the "listening on" line)
 *   seconds  stop after this many seconds (default 0: until SIGINT/SIGTERM)
 *
 * HTTP/1.1 GET and HEAD, keep-alive, pipelined requests, a single byte
 * range ("Range: bytes=A-B", "A-", "-N") answered 206 with Content-Range
 * (416 when it starts past the end; several ranges are answered with the
 * whole file, as RFC 9110 allows), Content-Length always. A directory is
 * served through its index.html.
 *
 * What is refused, and how (never a crash):
 *  - a target that does not start with '/', a malformed %-escape, a NUL
 *    byte (raw or %00) or any other control character: 403;
 *  - a ".." segment, raw or escaped (%2e%2e, %2E%2e...): 403 (nothing to
 *    normalise away: a client that means the parent has no business here);
 *  - every path is looked up below DIR ("//etc/passwd" is DIR/etc/passwd:
 *    404 unless it exists there);
 *  - a symbolic link whose target is outside DIR: the file is opened, and
 *    the path the kernel gives for the open file (/proc/self/fd) must lie
 *    inside DIR's real path, else 403 (this also covers links in the
 *    middle of the path, and a link swapped in after a check: the opened
 *    file itself is checked). Links that stay inside DIR are served;
 *  - anything but a regular file (a FIFO would block the open: files are
 *    opened O_NONBLOCK, then put back to blocking): 403.
 *
 * Stopping: as hello_server, a signal writes to a pipe that the stopper
 * lthread waits on; it destroys the listener and every connection. A
 * connection destroyed while its disk read is in flight is freed by the
 * library only when the read ends: its buffer and file must outlive it,
 * so they are freed after lthread_run() has returned.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define SEND_TIMEOUT_S 10
#define IDLE_TIMEOUT_MS 60000
#define HEAD_MAX 8192          /* request line and headers */
#define BODY_CHUNK (64 * 1024) /* bytes read from the file per send */

static int stop_pipe[2];
static int use_sendfile;
static int root_fd;          /* the directory served */
static char root_path[4096]; /* its real path */
static size_t root_len;
static long served; /* requests answered */

struct conn {
    lthread_t *lt;
    int fd;
    int file; /* the file being sent, or -1 */
    char *buf;
    char head[HEAD_MAX];
    size_t have; /* bytes of head[] received, not yet handled */
    int destroyed;
    struct conn *prev, *next;
};

static struct conn *conns;     /* open connections */
static struct conn *graveyard; /* destroyed: freed after lthread_run() */
static lthread_t *listener_lt;
static int listen_fd;

static void on_signal(int sig)
{
    int saved_errno = errno;

    (void)sig;
    if (write(stop_pipe[1], "", 1) < 0) {
        /* the pipe is full: a stop is pending already */
    }
    errno = saved_errno;
}

/* ---- answers --------------------------------------------------------- */

static int send_all(struct conn *c, const char *p, size_t n)
{
    return lthread_send(c->fd, p, n, 0) == (ssize_t)n ? 0 : -1;
}

/* A short error answer; returns -1 when the connection must close. */
static int send_error(struct conn *c, int status, const char *reason,
                      const char *extra, int keep)
{
    char msg[512];
    int bodylen = (int)strlen(reason) + 1;
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %d\r\n"
                     "%s%s"
                     "\r\n"
                     "%s\n",
                     status, reason, bodylen, extra ? extra : "",
                     keep ? "" : "Connection: close\r\n", reason);

    served++;
    if (send_all(c, msg, (size_t)n) < 0)
        return -1;
    return keep ? 0 : -1;
}

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html"},     {".htm", "text/html"},
        {".txt", "text/plain"},     {".css", "text/css"},
        {".js", "text/javascript"}, {".json", "application/json"},
        {".png", "image/png"},      {".jpg", "image/jpeg"},
        {".svg", "image/svg+xml"},  {".pdf", "application/pdf"},
    };
    const char *dot = strrchr(path, '.');

    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

/* ---- the request target ------------------------------------------------ */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/*
 * Turns the request target t[0..n) into a path relative to the served
 * directory, in out[outlen] ("" for the directory itself). Returns 0, or
 * the status to answer: 403 (not an origin-form path, a bad escape, a NUL
 * or control byte, a ".." segment) or 414 (too long).
 */
static int target_path(const char *t, size_t n, char *out, size_t outlen)
{
    char dec[HEAD_MAX];
    size_t d = 0, o = 0, i;

    if (n == 0 || t[0] != '/')
        return 403;
    /* Query and fragment are not part of the path. */
    for (i = 0; i < n && t[i] != '?' && t[i] != '#'; i++) {
        int ch = (unsigned char)t[i];

        if (ch == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)t[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)t[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return 403;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch < 0x20 || ch == 0x7f) /* NUL and the other controls */
            return 403;
        dec[d++] = (char)ch;
    }
    /* Segment by segment: "" and "." are skipped, ".." refused. */
    for (i = 0; i < d;) {
        size_t start, len;

        while (i < d && dec[i] == '/')
            i++;
        start = i;
        while (i < d && dec[i] != '/')
            i++;
        len = i - start;
        if (len == 0 || (len == 1 && dec[start] == '.'))
            continue;
        if (len == 2 && dec[start] == '.' && dec[start + 1] == '.')
            return 403;
        if (o + len + 2 > outlen)
            return 414;
        if (o)
            out[o++] = '/';
        memcpy(out + o, dec + start, len);
        o += len;
    }
    out[o] = '\0';
    return 0;
}

/* Whether the open file fd lies inside the served directory, by the path
 * the kernel gives for it. */
static int inside_root(int fd, const char *rel)
{
    char link[64], real[PATH_MAX];
    ssize_t n;

#if defined(__linux__)
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, real, sizeof(real) - 1);
    if (n < 0)
        return 0;
    real[n] = '\0';
#else
    /* No /proc: resolve the name instead (a link swapped in between is
     * not caught). realpath() may block: in a compute section. */
    char joined[PATH_MAX];
    int ok;

    (void)fd;
    (void)link;
    (void)n;
    snprintf(joined, sizeof(joined), "%s/%s", root_path, rel);
    if (lthread_compute_begin() == 0) {
        ok = realpath(joined, real) != NULL;
        lthread_compute_end();
    } else {
        ok = realpath(joined, real) != NULL;
    }
    if (!ok)
        return 0;
#endif
    (void)rel;
    return strncmp(real, root_path, root_len) == 0 &&
           (real[root_len] == '/' || real[root_len] == '\0');
}

/*
 * Opens rel below the served directory for reading: a regular file that
 * lies inside it (a directory: its index.html). Returns the fd, or minus
 * the status to answer (403, 404).
 */
static int open_file(const char *rel, struct stat *st, int *index)
{
    const char *name = *rel ? rel : ".";
    int fd = lthread_io_openat(root_fd, name,
                               O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0)
        return errno == EACCES || errno == EPERM ? -403 : -404;
    if (!inside_root(fd, rel)) {
        lthread_io_close(fd);
        return -403;
    }
    if (lthread_io_fstat(fd, st) < 0) {
        lthread_io_close(fd);
        return -404;
    }
    *index = 0;
    if (S_ISDIR(st->st_mode)) {
        int dir = fd;

        *index = 1;
        fd = lthread_io_openat(dir, "index.html",
                               O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        lthread_io_close(dir);
        if (fd < 0)
            return -404;
        if (!inside_root(fd, rel) || lthread_io_fstat(fd, st) < 0) {
            lthread_io_close(fd);
            return -403;
        }
    }
    if (!S_ISREG(st->st_mode)) {
        lthread_io_close(fd);
        return -403;
    }
    /* A regular file: reads go to the disk whatever the flag says, and
     * O_NONBLOCK would only send io_uring's reads the long way round. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

/* ---- ranges -------------------------------------------------------------- */

/* The value of header `name` in the request head (NUL-terminated copy in
 * out), or NULL. */
static const char *header(const char *head, size_t len, const char *name,
                          char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = memchr(head, '\n', len), *end = head + len;

    while (p && p + 1 < end) {
        const char *line = p + 1,
                   *eol = memchr(line, '\n', (size_t)(end - line));

        if (!eol)
            break;
        if ((size_t)(eol - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;
            size_t n;

            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            n = (size_t)(eol - v);
            while (n && (v[n - 1] == '\r' || v[n - 1] == ' '))
                n--;
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        p = eol;
    }
    return NULL;
}

/* A decimal number of at most 18 digits; -1 if there is none. */
static long long number(const char **p)
{
    long long v = 0;
    int digits = 0;

    while (isdigit((unsigned char)**p) && digits < 18) {
        v = v * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    return digits && !isdigit((unsigned char)**p) ? v : -1;
}

/*
 * Parses a Range header for a file of `size` bytes: 1 with [*from, *to]
 * to send, 0 to send the whole file (no header, another unit, several
 * ranges, a syntax error: RFC 9110 says ignore them), -1 when the range
 * cannot be satisfied (416).
 */
static int parse_range(const char *v, long long size, long long *from,
                       long long *to)
{
    long long a, b;

    if (!v || strncmp(v, "bytes=", 6) != 0 || strchr(v, ','))
        return 0;
    v += 6;
    if (*v == '-') {
        v++;
        b = number(&v);
        if (b < 0 || *v)
            return 0;
        if (b == 0 || size == 0)
            return -1;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    a = number(&v);
    if (a < 0 || *v != '-')
        return 0;
    v++;
    b = *v ? number(&v) : LLONG_MAX;
    if (b < 0 || *v || b < a)
        return 0;
    if (a >= size)
        return -1;
    *from = a;
    *to = b >= size ? size - 1 : b;
    return 1;
}

/* ---- one request -----------------------------------------------------------
 */

/* Sends [from, to] of c->file after the header hdr: read and send, or the
 * kernel's sendfile. Returns 0 or -1. */
static int send_body(struct conn *c, char *hdr, size_t hlen, long long from,
                     long long to)
{
    long long left = to - from + 1;

    if (use_sendfile) {
        struct iovec h = {hdr, hlen};
        struct sf_hdtr hdtr = {&h, 1, NULL, 0};

        return lthread_sendfile(c->file, c->fd, (off_t)from, (size_t)left,
                                &hdtr);
    }
    if (send_all(c, hdr, hlen) < 0)
        return -1;
    while (left > 0) {
        size_t want = left < BODY_CHUNK ? (size_t)left : BODY_CHUNK;
        ssize_t n = lthread_io_pread(c->file, c->buf, want, (off_t)from);

        /* The file shrank: the promised length cannot be kept. */
        if (n <= 0)
            return -1;
        if (send_all(c, c->buf, (size_t)n) < 0)
            return -1;
        from += n;
        left -= n;
    }
    return 0;
}

/*
 * Answers the request in head[0..len) (its terminating blank line
 * included). Returns 0 to keep the connection, -1 to close it.
 */
static int handle(struct conn *c, char *head, size_t len)
{
    char rel[HEAD_MAX], hdr[1024], value[256];
    const char *sp1, *sp2, *eol;
    struct stat st;
    long long from, to, size;
    const char *ctype;
    int keep, is_head, status, range, hlen, index;

    eol = memchr(head, '\n', len);
    sp1 = memchr(head, ' ', (size_t)(eol - head));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2)
        return send_error(c, 400, "Bad Request", NULL, 0);
    /* HTTP/1.1 keeps the connection unless told; 1.0 closes it. */
    keep = strncmp(sp2 + 1, "HTTP/1.1", 8) == 0;
    if (header(head, len, "Connection", value, sizeof(value)))
        keep = keep ? strcasecmp(value, "close") != 0
                    : strcasecmp(value, "keep-alive") == 0;
    /* A request body would be taken for the next request. */
    if (header(head, len, "Content-Length", value, sizeof(value)) ||
        header(head, len, "Transfer-Encoding", value, sizeof(value)))
        keep = 0;
    is_head = sp1 - head == 4 && memcmp(head, "HEAD", 4) == 0;
    if (!is_head && !(sp1 - head == 3 && memcmp(head, "GET", 3) == 0))
        return send_error(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n",
                          keep);
    /* The target: a NUL in the request line stops here too. */
    status =
        memchr(head, '\0', (size_t)(eol - head))
            ? 403
            : target_path(sp1 + 1, (size_t)(sp2 - sp1 - 1), rel, sizeof(rel));
    if (status == 403)
        return send_error(c, 403, "Forbidden", NULL, keep);
    if (status)
        return send_error(c, 414, "URI Too Long", NULL, 0);
    c->file = open_file(rel, &st, &index);
    if (c->file < 0) {
        status = -c->file;
        c->file = -1;
        return status == 403 ? send_error(c, 403, "Forbidden", NULL, keep)
                             : send_error(c, 404, "Not Found", NULL, keep);
    }
    size = (long long)st.st_size;
    ctype = content_type(index ? "index.html" : rel);
    range = parse_range(header(head, len, "Range", value, sizeof(value)) ? value
                                                                         : NULL,
                        size, &from, &to);
    if (range < 0) {
        char extra[64];

        snprintf(extra, sizeof(extra), "Content-Range: bytes */%lld\r\n", size);
        lthread_io_close(c->file);
        c->file = -1;
        return send_error(c, 416, "Range Not Satisfiable", extra, keep);
    }
    if (!range) {
        from = 0;
        to = size - 1;
    }
    if (range)
        hlen = snprintf(hdr, sizeof(hdr),
                        "HTTP/1.1 206 Partial Content\r\n"
                        "Content-Type: %s\r\n"
                        "Content-Length: %lld\r\n"
                        "Content-Range: bytes %lld-%lld/%lld\r\n"
                        "Accept-Ranges: bytes\r\n"
                        "%s\r\n",
                        ctype, to - from + 1, from, to, size,
                        keep ? "" : "Connection: close\r\n");
    else
        hlen = snprintf(hdr, sizeof(hdr),
                        "HTTP/1.1 200 OK\r\n"
                        "Content-Type: %s\r\n"
                        "Content-Length: %lld\r\n"
                        "Accept-Ranges: bytes\r\n"
                        "%s\r\n",
                        ctype, size, keep ? "" : "Connection: close\r\n");
    served++;
    if (is_head || size == 0)
        status = send_all(c, hdr, (size_t)hlen);
    else
        status = send_body(c, hdr, (size_t)hlen, from, to);
    lthread_io_close(c->file);
    c->file = -1;
    return status < 0 ? -1 : (keep ? 0 : -1);
}

/* ---- connections --------------------------------------------------------- */

static void conn_unlink(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void conn_free(struct conn *c)
{
    if (c->file >= 0)
        close(c->file);
    free(c->buf);
    free(c);
}

/* The end of the request head in c->head[0..c->have), or 0. */
static size_t head_end(const struct conn *c)
{
    for (size_t i = 3; i < c->have; i++)
        if (c->head[i] == '\n' && c->head[i - 1] == '\r' &&
            c->head[i - 2] == '\n' && c->head[i - 3] == '\r')
            return i + 1;
    return 0;
}

static void serve_connection(void *arg)
{
    struct conn *c = arg;
    ssize_t n;
    size_t end;

    lthread_detach();
    for (;;) {
        while (!(end = head_end(c))) {
            if (c->have == sizeof(c->head)) {
                (void)send_error(c, 431, "Request Header Fields Too Large",
                                 NULL, 0);
                goto out;
            }
            n = lthread_recv(c->fd, c->head + c->have,
                             sizeof(c->head) - c->have, 0, IDLE_TIMEOUT_MS);
            if (n <= 0)
                goto out;
            c->have += (size_t)n;
        }
        if (handle(c, c->head, end) < 0)
            goto out;
        /* Pipelined requests stay for the next round. */
        memmove(c->head, c->head + end, c->have - end);
        c->have -= end;
    }
out:
    conn_unlink(c);
    lthread_close(c->fd);
    conn_free(c);
}

static void conn_open(int fd)
{
    struct timeval send_timeout = {.tv_sec = SEND_TIMEOUT_S};
    struct conn *c = calloc(1, sizeof(*c));

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
               sizeof(send_timeout));
    if (c) {
        c->fd = fd;
        c->file = -1;
        c->buf = malloc(BODY_CHUNK);
    }
    if (!c || !c->buf || lthread_create(&c->lt, serve_connection, c) != 0) {
        perror("fileserver: new connection");
        if (c)
            free(c->buf);
        free(c);
        lthread_close(fd);
        return;
    }
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
}

static void listener(void *arg)
{
    (void)arg;
    lthread_detach();
    printf("fileserver: disk I/O through %s\n", lthread_io_backend());
    fflush(stdout);
    for (;;) {
        int fd = lthread_accept(listen_fd, NULL, NULL);

        if (fd < 0) {
            if (errno != EMFILE && errno != ENFILE)
                perror("fileserver: accept");
            lthread_sleep(10);
            continue;
        }
        conn_open(fd);
    }
}

/* Ends everything on a stop request. A destroyed connection may have a
 * disk read in flight into c->buf: its memory is freed after
 * lthread_run(), when no read can be out any more. */
static void stopper(void *arg)
{
    (void)arg;
    lthread_detach();
    if (lthread_wait_read(stop_pipe[0], 0) < 0)
        perror("fileserver: waiting for a stop request");
    lthread_destroy(listener_lt);
    lthread_close(listen_fd);
    while (conns) {
        struct conn *c = conns;

        lthread_destroy(c->lt);
        conn_unlink(c);
        lthread_close(c->fd);
        c->destroyed = 1;
        c->next = graveyard;
        graveyard = c;
    }
}

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
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        lthread_close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [-s] DIR [port [seconds]]\n", argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    int port = 8080, argi = 1;
    unsigned seconds = 0;
    lthread_t *lt;

    if (argi < argc && strcmp(argv[argi], "-s") == 0) {
        use_sendfile = 1;
        argi++;
    }
    if (argi >= argc || argc - argi > 3)
        usage(argv[0]);
    if (argc - argi > 1)
        port = atoi(argv[argi + 1]);
    if (argc - argi > 2)
        seconds = (unsigned)atoi(argv[argi + 2]);
    if (port < 0 || port > 65535)
        usage(argv[0]);
    if (!realpath(argv[argi], root_path) ||
        (root_fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "fileserver: %s: %s\n", argv[argi], strerror(errno));
        return 1;
    }
    root_len = strlen(root_path);
    if (root_len == 1)
        root_len = 0; /* "/": every path is inside */
    if (pipe(stop_pipe) < 0 || fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK) < 0) {
        perror("fileserver: pipe");
        return 1;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    listen_fd = open_listener(&port);
    if (listen_fd < 0) {
        fprintf(stderr, "fileserver: port %d: %s\n", port, strerror(errno));
        return 1;
    }
    if (lthread_create(&listener_lt, listener, NULL) != 0 ||
        lthread_create(&lt, stopper, NULL) != 0) {
        perror("fileserver: lthread_create");
        return 1;
    }
    printf("fileserver: serving %s on 127.0.0.1:%d%s\n", root_path, port,
           use_sendfile ? " (sendfile)" : "");
    printf("fileserver: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    if (seconds)
        alarm(seconds);
    lthread_run();
    /* No disk request is out now: the destroyed connections' memory can
     * go. */
    while (graveyard) {
        struct conn *c = graveyard;

        graveyard = c->next;
        conn_free(c);
    }
    close(root_fd);
    printf("fileserver: %ld requests answered\n", served);
    printf("fileserver: stopped\n");
    return 0;
}
