/* 10,000 concurrent TCP connections on one scheduler: the server (this
 * process) accepts them all and parks one lthread per connection in recv
 * at the same time; the clients (a child process, which needs its own
 * 10,000 fds) likewise all wait for their replies at once. Skipped, with a
 * message, if RLIMIT_NOFILE's hard limit is too low. */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "lthread_int.h"
#include "test_socket_util.h"

/* TSan makes a fiber of each lthread and allows about 8000: fewer there. */
#define N (CHECK_TSAN ? 3000 : 10000)
/* Every wait's bound: far beyond a working run (about 2 s here, 40 s seen
 * under TSan on a loaded 2-CPU machine), scaled like every time bound. */
#define TMO ((uint64_t)(20000 * check_slow()))

static struct sockaddr_in server_addr;
static int go_pipe[2];         /* server -> clients: "everyone is parked" */
static lthread_cond_t *all_in; /* the last arrival broadcasts it */
static int nstarted, nconnected, nreceived, nreplied, nfailed;

/* ---- server (parent) ------------------------------------------------------
 */

static void handler(lthread_t *lt, void *arg)
{
    int fd = (int)(intptr_t)arg;
    uint32_t id, reply;

    (void)lt;
    lthread_detach();
    nstarted++;
    if (lthread_recv(fd, &id, sizeof(id), MSG_WAITALL, TMO) != sizeof(id)) {
        nfailed++;
        lthread_close(fd);
        return;
    }
    /* Reply only once every client has spoken: then all N clients wait
     * in recv at once, too. */
    if (++nreceived == N)
        lthread_cond_broadcast(all_in);
    else
        lthread_cond_wait(all_in, TMO);
    reply = id * 3 + 1;
    if (lthread_send(fd, &reply, sizeof(reply), 0) != sizeof(reply))
        nfailed++;
    else
        nreplied++;
    /* Wait for the client to close. */
    if (lthread_recv(fd, &id, sizeof(id), 0, TMO) != 0)
        nfailed++;
    lthread_close(fd);
}

static void server(lthread_t *lt, void *arg)
{
    int lfd = (int)(intptr_t)arg;
    struct lthread__sched *s = lthread__sched_get();
    size_t peak;
    lthread_t *h;

    (void)lt;
    CHECK_EQ(lthread_cond_create(&all_in), 0);
    for (int i = 0; i < N; i++) {
        int c = lthread_accept(lfd, NULL, NULL);

        if (c < 0) {
            CHECK(c >= 0);
            break;
        }
        CHECK_EQ(lthread_create(&h, handler, (void *)(intptr_t)c), 0);
    }
    /* Every handler starts and parks in recv: nobody has sent yet. */
    while (nstarted < N)
        lthread_sleep(1);
    lthread_sleep(1);
    peak = s->nio_waiting;
    CHECK_EQ(peak, N);
    printf("server: %zu lthreads parked on sockets at once\n", peak);
    CHECK_EQ(lthread_write(go_pipe[1], "g", 1), 1);
    while (nreplied + nfailed < N)
        lthread_sleep(5);
    lthread_close(lfd);
    lthread_close(go_pipe[1]);
    /* Handlers finish their last recv, then the cond is free. */
    while (s->nlive > 1)
        lthread_sleep(5);
    CHECK_EQ(lthread_cond_destroy(all_in), 0);
}

/* ---- clients (child) -------------------------------------------------------
 */

static void client(lthread_t *lt, void *arg)
{
    uint32_t id = (uint32_t)(intptr_t)arg, reply = 0;
    int fd;

    (void)lt;
    lthread_detach();
    fd = lthread_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || lthread_connect(fd, (struct sockaddr *)&server_addr,
                                  sizeof(server_addr), TMO) != 0) {
        fprintf(stderr, "client %u: connect: %s\n", id, strerror(errno));
        nfailed++;
        nconnected++;
        if (fd >= 0)
            lthread_close(fd);
        return;
    }
    nconnected++;
    /* Speak only when the server says every handler is parked. */
    lthread_cond_wait(all_in, 0);
    if (lthread_send(fd, &id, sizeof(id), 0) != sizeof(id) ||
        lthread_recv(fd, &reply, sizeof(reply), MSG_WAITALL, TMO) !=
            sizeof(reply) ||
        reply != id * 3 + 1)
        nfailed++;
    else
        nreplied++;
    lthread_close(fd);
}

static void go_waiter(lthread_t *lt, void *arg)
{
    char g;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_read(go_pipe[0], &g, 1, TMO + 10000), 1);
    lthread_cond_broadcast(all_in);
    lthread_close(go_pipe[0]);
}

static void clients(lthread_t *lt, void *arg)
{
    lthread_t *c;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_cond_create(&all_in), 0);
    CHECK_EQ(lthread_create(&c, go_waiter, NULL), 0);
    for (int i = 0; i < N; i++) {
        /* Keep the server's accept queue from overflowing: a dropped SYN
         * costs a 1 s retransmission. */
        while (i - nconnected > 256)
            lthread_sleep(1);
        CHECK_EQ(lthread_create(&c, client, (void *)(intptr_t)i), 0);
    }
    CHECK_EQ(lthread_join(c, NULL, 0), 0);
    while (nreplied + nfailed < N)
        lthread_sleep(5);
    CHECK_EQ(lthread_cond_destroy(all_in), 0);
}

int main(void)
{
    struct rlimit rl;
    socklen_t len = sizeof(server_addr);
    double t0 = check_now_ms();
    int lfd, one = 1, status = 0;
    pid_t pid;

    util_trap_sigpipe();
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < N + 100) {
        printf("test_socket_many: skipped: RLIMIT_NOFILE hard limit %llu "
               "< %d\n",
               (unsigned long long)rl.rlim_max, N + 100);
        return 0;
    }
    rl.rlim_cur = rl.rlim_max;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);

    /* The listener exists before the child connects to it. */
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(bind(lfd, (struct sockaddr *)&server_addr, sizeof(server_addr)),
             0);
    CHECK_EQ(listen(lfd, 4096), 0);
    CHECK_EQ(getsockname(lfd, (struct sockaddr *)&server_addr, &len), 0);
    CHECK_EQ(pipe(go_pipe), 0);

    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(lfd);
        close(go_pipe[1]);
        util_run(clients, NULL);
        CHECK_EQ(nfailed, 0);
        CHECK_EQ(nreplied, N);
        printf("clients: %d replies, %d failures\n", nreplied, nfailed);
        status = check_summary("test_socket_many (clients)");
        fflush(stdout);
        _exit(status);
    }
    close(go_pipe[0]);
    util_run(server, (void *)(intptr_t)lfd);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(nfailed, 0);
    CHECK_EQ(nreplied, N);
    printf("%d connections, %d served, %.0f ms\n", N, nreplied,
           check_now_ms() - t0);
    return check_summary("test_socket_many");
}
