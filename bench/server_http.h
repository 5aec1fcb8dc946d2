/*
 * server_http.h: what the three benchmark servers (server_epoll.c,
 * server_lthread.c, server_st.c) share, so that they differ only in how
 * they wait: the response, the request counter, the read buffer size.
 */
#ifndef SERVER_HTTP_H
#define SERVER_HTTP_H

#include <stddef.h>
#include <sys/resource.h>

/* Bytes read at once; the lthread and ST handlers keep it on their stack. */
#define SERVER_BUF 1024

static const char server_response[] = "HTTP/1.1 200 OK\r\n"
                                      "Content-Type: text/plain\r\n"
                                      "Content-Length: 12\r\n"
                                      "\r\n"
                                      "Hello World\n";
#define SERVER_RESPONSE_LEN (sizeof(server_response) - 1)

/*
 * Counts the request ends ("\r\n\r\n") in buf[0..n). A terminator may be
 * split between two reads: *matched carries how many of its bytes ended
 * the previous one. Request bodies are not supported (wrk sends GETs).
 */
static inline int server_count_requests(const char *buf, size_t n, int *matched)
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

/* Soft RLIMIT_NOFILE up to the hard limit: the memory run holds 10,000
 * connections. */
static inline void server_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

#endif /* SERVER_HTTP_H */
