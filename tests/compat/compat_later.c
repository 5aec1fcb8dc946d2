/*
 * A program in the style of the later original library's tests and
 * servers: entry functions of the form fn(void *arg), lthread_self(),
 * lthread_cancel(), lthread_detach2(), lthread_recv_exact(),
 * lthread_read_exact(), lthread_readline(), lthread_io_write() and
 * lthread_io_read() on a file, a socket pair and a pipe made in main()
 * before lthread_run(), a condition signalled from another pthread, and
 * open(..., O_CREAT) with <lthread.h> alone.
 */
#include <lthread.h>
#include <stdio.h>
#include <string.h>

static int failures;
#define EXPECT(c)                                                              \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);            \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static int sv[2], pfd[2];
static lthread_cond_t *cond;
static volatile int signalled;
static int ran;

static void sleeper(void *arg)
{
    (void)arg;
    lthread_sleep(10000); /* cancelled before it ends */
    ran = -1;
}

static void exiter(void *arg)
{
    ran += *(int *)arg;
}

static void reader(void *arg)
{
    char buf[16], *line = NULL;

    (void)arg;
    EXPECT(lthread_self() != NULL);
    EXPECT(lthread_recv_exact(sv[0], buf, 10, 0, 5000) == 10);
    EXPECT(memcmp(buf, "0123456789", 10) == 0);
    EXPECT(lthread_read_exact(pfd[0], buf, 4, 5000) == 4);
    EXPECT(lthread_readline(sv[0], &line, 64, 5000) == 6);
    EXPECT(line && strcmp(line, "hello\n") == 0);
    free(line);
    EXPECT(lthread_readline(sv[0], &line, 3, 5000) == 3);
    EXPECT(line && strcmp(line, "abc") == 0);
    free(line);
    EXPECT(lthread_recv_exact(sv[0], buf, 4, 0, 20) == -2); /* "def" */
    EXPECT(errno == ETIMEDOUT);
}

static void writer(void *arg)
{
    (void)arg;
    lthread_sleep(5);
    EXPECT(lthread_send(sv[1], "01234", 5, 0) == 5);
    lthread_sleep(5);
    EXPECT(lthread_send(sv[1], "56789", 5, 0) == 5);
    EXPECT(lthread_write(pfd[1], "pipe", 4) == 4);
    EXPECT(lthread_send(sv[1], "hello\nabcdef", 12, 0) == 12);
}

static void waiter(void *arg)
{
    (void)arg;
    EXPECT(lthread_cond_wait(cond, 10000) == 0);
    EXPECT(signalled);
}

static void *signaller(void *arg)
{
    (void)arg;
    usleep(50000);
    signalled = 1;
    lthread_cond_signal(cond);
    return NULL;
}

static void keeper(void *arg)
{
    (void)arg;
    /* Keeps the scheduler from being alone with the waiter until the
     * plain pthread has signalled (see lthread_run in the header). */
    while (!signalled)
        lthread_sleep(5);
}

/* A file written and read back with the disk calls, as the later
 * original's programs did. */
static void filer(void *arg)
{
    char path[64], buf[32];
    int fd;

    (void)arg;
    snprintf(path, sizeof(path), "/tmp/lthread-compat-io-%d", (int)getpid());
    fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    EXPECT(fd >= 0);
    EXPECT(lthread_io_write(fd, "hello, disk", 11) == 11);
    EXPECT(lseek(fd, 0, SEEK_SET) == 0);
    EXPECT(lthread_io_read(fd, buf, sizeof(buf)) == 11);
    EXPECT(memcmp(buf, "hello, disk", 11) == 0);
    EXPECT(lthread_io_read(fd, buf, sizeof(buf)) == 0); /* end of file */
    EXPECT(lthread_io_read(-1, buf, 1) == -1 && errno == EBADF);
    close(fd);
    unlink(path);
}

static void manager(void *arg)
{
    lthread_t *s, *e;
    int one = 1;

    (void)arg;
    EXPECT(lthread_create(&s, sleeper, NULL) == 0);
    lthread_sleep(1);
    EXPECT(lthread_cancel(s) == 0);
    EXPECT(lthread_create(&e, exiter, &one) == 0);
    EXPECT(lthread_detach2(e) == 0);
    lthread_sleep(1);
    EXPECT(ran == 1);
}

int main(void)
{
    lthread_t *lt;
    pthread_t t;
    lthread_attr_t attr;
    int fd = open("/tmp/lthread-compat-later", O_CREAT | O_RDWR, 0600);

    EXPECT(fd >= 0);
    close(fd);
    unlink("/tmp/lthread-compat-later");
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    EXPECT(lthread_pipe(pfd) == 0);
    EXPECT(lthread_cond_create(&cond) == 0);
    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
    EXPECT(lthread_create(&lt, reader, NULL) == 0);
    EXPECT(lthread_create_ex(&lt, writer, NULL, &attr) == 0);
    EXPECT(lthread_create(&lt, waiter, NULL) == 0);
    EXPECT(lthread_create(&lt, keeper, NULL) == 0);
    EXPECT(lthread_create(&lt, manager, NULL) == 0);
    EXPECT(lthread_create(&lt, filer, NULL) == 0);
    EXPECT(pthread_create(&t, NULL, signaller, NULL) == 0);
    EXPECT(lthread_run() == 0);
    pthread_join(t, NULL);
    lthread_cond_destroy(cond);
    printf("compat_later: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
