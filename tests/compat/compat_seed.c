/*
 * A program in the style of the 2012 original's tests: entry functions of
 * the seed's form fn(lthread_t *lt, void *arg), both forms side by side,
 * the seed's calls, a listening socket made in main() before lthread_run().
 */
#include <lthread.h>
#include <stdio.h>

static int failures;
#define EXPECT(c)                                                              \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);            \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static int listener;
static unsigned short port;

static void seed_child(lthread_t *lt, void *arg)
{
    EXPECT(lt == lthread_current());
    lthread_set_data(arg);
    lthread_sleep(5);
    lthread_exit(lthread_get_data());
}

static void later_child(void *arg)
{
    lthread_exit(arg);
}

static void client(lthread_t *lt, void *arg)
{
    struct sockaddr_in a;
    int fd = lthread_socket(AF_INET, SOCK_STREAM, 0);

    (void)lt;
    (void)arg;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(lthread_connect(fd, (struct sockaddr *)&a, sizeof(a), 5000) == 0);
    EXPECT(lthread_send(fd, "hi", 2, 0) == 2);
    lthread_close(fd);
}

static void server(lthread_t *lt, void *arg)
{
    char buf[2];
    int c;

    (void)lt;
    (void)arg;
    c = lthread_accept(listener, NULL, NULL);
    EXPECT(c >= 0);
    EXPECT(lthread_recv(c, buf, 2, MSG_WAITALL, 5000) == 2);
    lthread_close(c);
}

static void parent(lthread_t *lt, void *arg)
{
    lthread_t *a, *b;
    void *v = NULL;

    (void)lt;
    (void)arg;
    EXPECT(lthread_create(&a, seed_child, "seed") == 0);
    EXPECT(lthread_create(&b, later_child, "later") == 0);
    EXPECT(lthread_join(a, &v, 1000) == 0 && strcmp(v, "seed") == 0);
    EXPECT(lthread_join(b, &v, 1000) == 0 && strcmp(v, "later") == 0);
}

int main(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    lthread_t *lt;

    listener = lthread_socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(bind(listener, (struct sockaddr *)&a, sizeof(a)) == 0);
    EXPECT(listen(listener, 8) == 0);
    EXPECT(getsockname(listener, (struct sockaddr *)&a, &len) == 0);
    port = ntohs(a.sin_port);
    EXPECT(lthread_create(&lt, parent, NULL) == 0);
    EXPECT(lthread_create(&lt, server, NULL) == 0);
    EXPECT(lthread_create(&lt, client, NULL) == 0);
    EXPECT(lthread_run() == 0);
    lthread_close(listener);
    printf("compat_seed: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
