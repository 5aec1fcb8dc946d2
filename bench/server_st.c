/*
 * server_st: the keep-alive "hello" server of the benchmarks on State
 * Threads: the main ST thread accepts, one ST thread per connection reads,
 * counts the complete requests and writes one response per request (the
 * same logic as server_epoll.c and server_lthread.c).
 *
 *   server_st PORT [poll|select]
 *
 * Event system: poll by default. Debian's libst 1.9 is built without epoll
 * (ST_EVENTSYS_ALT fails), and select cannot watch fds >= 1024, which the
 * memory run needs. Default stack size (64 KiB in Debian's build). The
 * handler's buffer is on its stack, as in server_lthread.c. Runs until
 * killed.
 */
#include <netinet/in.h>
#include <signal.h>
#include <st.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_http.h"

static void *handler(void *arg)
{
    st_netfd_t c = arg;
    char buf[SERVER_BUF];
    int matched = 0;

    for (;;) {
        ssize_t n = st_read(c, buf, sizeof(buf), ST_UTIME_NO_TIMEOUT);

        if (n <= 0)
            break;
        for (int k = server_count_requests(buf, (size_t)n, &matched); k > 0;
             k--)
            if (st_write(c, server_response, SERVER_RESPONSE_LEN,
                         ST_UTIME_NO_TIMEOUT) != (ssize_t)SERVER_RESPONSE_LEN)
                goto out;
    }
out:
    st_netfd_close(c);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int evsys = argc > 2 && strcmp(argv[2], "select") == 0 ? ST_EVENTSYS_SELECT
                                                           : ST_EVENTSYS_POLL;
    int one = 1;
    st_netfd_t lsn;
    int fd;

    server_raise_nofile(); /* before st_init(): it sizes its fd tables */
    signal(SIGPIPE, SIG_IGN);
    if (st_set_eventsys(evsys) < 0 || st_init() < 0) {
        perror("server_st: st_init");
        return 1;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(fd, SOMAXCONN) < 0 || !(lsn = st_netfd_open_socket(fd))) {
        perror("server_st: listen");
        return 1;
    }
    printf("server_st: listening on 127.0.0.1:%d (event system %s)\n", port,
           st_get_eventsys_name());
    fflush(stdout);
    for (;;) {
        st_netfd_t c = st_accept(lsn, NULL, NULL, ST_UTIME_NO_TIMEOUT);

        if (!c) {
            st_usleep(1000); /* EMFILE and the like: let others finish */
            continue;
        }
        if (!st_thread_create(handler, c, 0, 0))
            st_netfd_close(c);
    }
}
