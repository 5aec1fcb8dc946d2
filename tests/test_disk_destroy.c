/*
 * Destroying lthreads in disk calls, once per backend (tests/disk_util.h).
 *
 *  - A request not yet handed over is dropped: the kernel never sees it.
 *  - A request in flight: lthread_destroy() returns at once, but the
 *    lthread is freed only when the operation has ended. A read of an
 *    empty pipe stays in flight until a plain pthread writes to it (the
 *    ring cancels it sooner; an I/O pthread cannot be interrupted). Its
 *    buffer is on a shared stack region, a private stack or the heap;
 *    lthreads with private stacks made right after the destroy fill their
 *    stacks with a pattern: had the destroyed lthread's stack been
 *    unmapped and its addresses reused while the kernel still had the
 *    read, the pipe's bytes would land in one of them.
 *  - lthread_run() does not return while such a read is in flight; a
 *    joiner of the destroyed lthread gets ECANCELED.
 *  - The destroy posted from a plain pthread.
 *  - Many lthreads destroyed at random points of file reads and writes.
 */
#include <lthread.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "disk_util.h"

static int pipefd[2];

/* ---- a plain pthread that writes to the pipe after a while --------------- */

struct writer {
    pthread_t tid;
    int delay_ms;
    int wrote; /* set (atomically) once it has written */
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char bytes[64];

    memset(bytes, 'P', sizeof(bytes));
    usleep((useconds_t)w->delay_ms * 1000);
    __atomic_store_n(&w->wrote, 1, __ATOMIC_RELEASE);
    if (write(pipefd[1], bytes, sizeof(bytes)) != (ssize_t)sizeof(bytes))
        perror("write");
    return NULL;
}

static void writer_start(struct writer *w, int delay_ms)
{
    w->delay_ms = delay_ms;
    w->wrote = 0;
    if (pthread_create(&w->tid, NULL, writer_main, w) != 0)
        abort();
}

/* Bytes waiting in the pipe, taken out. */
static int pipe_pending(void)
{
    struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
    char buf[256];
    ssize_t n;

    if (poll(&p, 1, 0) != 1)
        return 0;
    n = read(pipefd[0], buf, sizeof(buf));
    return n < 0 ? 0 : (int)n;
}

/* ---- 1. a request dropped before it was handed over ------------------------
 */

static lthread_t *victim;
static int victim_returned;

static void reader_stack(void *arg)
{
    char buf[64];

    (void)arg;
    (void)lthread_io_read(pipefd[0], buf, sizeof(buf));
    victim_returned = 1; /* never: it is destroyed */
}

static void destroy_at_once(void *arg)
{
    (void)arg;
    /* The reader ran first and queued its request; the round has not
     * handed it over yet. */
    CHECK_EQ(lthread_destroy(victim), 0);
}

static void t_pending(void)
{
    struct writer w;
    lthread_t *lt;
    double t0;

    writer_start(&w, 300 * (int)check_slow());
    t0 = check_now_ms();
    CHECK_EQ(lthread_create(&victim, reader_stack, NULL), 0);
    CHECK_EQ(lthread_create(&lt, destroy_at_once, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    /* Dropped before the kernel saw it: nothing waited for the writer
     * (had the pool got it, lthread_run() would have waited for the
     * writer, and the read would have taken the bytes). */
    printf("pending: lthread_run() returned after %.1f ms\n",
           check_now_ms() - t0);
    CHECK_TIME(!__atomic_load_n(&w.wrote, __ATOMIC_ACQUIRE));
    CHECK(!victim_returned);
    pthread_join(w.tid, NULL);
    CHECK_EQ(pipe_pending(), 64);
}

/* ---- 2. in flight, with the buffer in three places ----------------------- */

enum where { ON_SHARED, ON_PRIVATE, ON_HEAP };
static const char *const where_name[] = {"shared stack", "private stack",
                                         "heap"};

static char *heap_buf;

static void reader_any(void *arg)
{
    enum where where = (enum where)(intptr_t)arg;
    char buf[64];

    (void)lthread_io_read(pipefd[0], where == ON_HEAP ? heap_buf : buf, 64);
    victim_returned = 1;
}

#define FILLERS 8
#define FILL_BYTES 16384

static int fillers_intact;

/* A private stack filled with a pattern across the wait for the pipe's
 * writer; counts itself intact if nothing wrote into it. */
static void filler(void *arg)
{
    unsigned char pad[FILL_BYTES];
    int ok = 1;

    (void)arg;
    memset(pad, 0x3C, sizeof(pad));
    lthread_sleep(150);
    for (size_t i = 0; i < sizeof(pad); i++)
        ok &= pad[i] == 0x3C;
    fillers_intact += ok;
}

static int join_result, join_errno;

static void joiner(void *arg)
{
    (void)arg;
    join_result = lthread_join(victim, NULL, 0);
    join_errno = errno;
}

static double wrote_at;

/* Writes the pipe's 64 bytes, which end a read still in flight. */
static void write_pipe(void)
{
    char bytes[64];

    memset(bytes, 'P', sizeof(bytes));
    wrote_at = check_now_ms();
    CHECK_EQ(lthread_write(pipefd[1], bytes, sizeof(bytes)), 64);
}

static void destroy_later(void *arg)
{
    lthread_attr_t attr;
    lthread_t *lt;

    (void)arg;
    lthread_sleep(20); /* the read is in flight */
    CHECK_EQ(lthread_destroy(victim), 0);
    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_PRIVATE_STACK | LTHREAD_ATTR_DETACHED;
    for (int i = 0; i < FILLERS; i++)
        CHECK_EQ(lthread_create_ex(&lt, filler, NULL, &attr), 0);
    /* The fillers have filled their stacks: now the read may end. */
    lthread_sleep(40);
    write_pipe();
}

static void t_inflight(enum where where)
{
    lthread_attr_t attr;
    lthread_t *lt;
    double t0, took;
    int left;

    victim_returned = 0;
    fillers_intact = 0;
    join_result = 0;
    heap_buf = malloc(64);
    lthread_attr_init(&attr);
    if (where == ON_PRIVATE)
        attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
    t0 = check_now_ms();
    CHECK_EQ(
        lthread_create_ex(&victim, reader_any, (void *)(intptr_t)where, &attr),
        0);
    CHECK_EQ(lthread_create(&lt, joiner, NULL), 0);
    CHECK_EQ(lthread_create(&lt, destroy_later, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    took = check_now_ms() - t0;
    left = pipe_pending();
    printf("in flight, buffer on the %s: lthread_run() returned after "
           "%.1f ms, the pipe was written at %.1f ms, %d bytes left in it\n",
           where_name[where], took, wrote_at - t0, left);
    CHECK(!victim_returned);
    CHECK_EQ(fillers_intact, FILLERS);
    CHECK_EQ(join_result, -1);
    CHECK_EQ(join_errno, ECANCELED);
    if (strcmp(disk_want, "pool") == 0) {
        /* An I/O pthread was in read(2) until the writer came: the read
         * took the bytes, and lthread_run() waited for it. */
        CHECK_EQ(left, 0);
        CHECK(took >= wrote_at - t0);
    } else {
        /* Cancelled, or done with the bytes: one or the other. */
        CHECK(left == 0 || left == 64);
        if (left == 0)
            CHECK(took >= wrote_at - t0);
    }
    free(heap_buf);
}

/* ---- 3. the destroy posted from a plain pthread -------------------------- */

static lthread_t *sentinel;

/* Woken by the destroyer after its destroy: posts from one pthread are
 * handled in order, so the destroy has been done when this runs. */
static void sentinel_body(void *arg)
{
    (void)arg;
    lthread_sleep(60000);
    write_pipe();
}

static void *destroyer_main(void *arg)
{
    (void)arg;
    usleep(20000);
    if (lthread_destroy(victim) != 0 || lthread_wakeup(sentinel) != 0)
        perror("lthread_destroy");
    return NULL;
}

static void t_from_pthread(void)
{
    pthread_t d;
    double t0;

    victim_returned = 0;
    t0 = check_now_ms();
    CHECK_EQ(lthread_create(&victim, reader_stack, NULL), 0);
    CHECK_EQ(lthread_create(&sentinel, sentinel_body, NULL), 0);
    CHECK_EQ(pthread_create(&d, NULL, destroyer_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    pthread_join(d, NULL);
    printf("destroyed from a pthread: lthread_run() returned after %.1f "
           "ms\n",
           check_now_ms() - t0);
    CHECK(!victim_returned);
    (void)pipe_pending();
}

/* ---- 4. many, at random points of file I/O ------------------------------- */

#define MANY 200
#define CHUNK 16384

static int file_fd;
static lthread_t *many[MANY];
static unsigned char *many_heap[MANY]; /* freed after the run */
static int many_done, many_wrong;

static void file_worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    unsigned char stack_buf[CHUNK];
    unsigned char *heap = many_heap[i], *buf = (i % 2) ? stack_buf : heap;
    off_t off = (off_t)(i % 16) * CHUNK;

    for (int round = 0; round < 4; round++) {
        if (round % 2) {
            /* Rewrite the same bytes: the file's contents never change. */
            disk_fill(buf, CHUNK, (unsigned long long)off, 5);
            (void)lthread_io_pwrite(file_fd, buf, CHUNK, off);
        } else if (lthread_io_pread(file_fd, buf, CHUNK, off) != CHUNK ||
                   disk_diff(buf, CHUNK, (unsigned long long)off, 5) != CHUNK) {
            many_wrong++;
        }
    }
    many_done++;
}

static void many_destroyer(void *arg)
{
    unsigned seed = 12345;

    (void)arg;
    for (int step = 0; step < 8; step++) {
        lthread_sleep(0);
        for (int i = step; i < MANY; i += 8) {
            seed = seed * 1103515245u + 12345u;
            if (i % 4 == 0 && (seed >> 16) % 2 && many[i]) {
                CHECK_EQ(lthread_destroy(many[i]), 0);
                many[i] = NULL;
            }
        }
    }
}

static void t_many(const char *dir)
{
    lthread_attr_t attr;
    unsigned char *all = malloc(16 * CHUNK);
    char path[300];
    lthread_t *lt;
    int destroyed = 0;

    snprintf(path, sizeof(path), "%s/many", dir);
    file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(file_fd >= 0);
    disk_fill(all, 16 * CHUNK, 0, 5);
    CHECK_EQ(pwrite(file_fd, all, 16 * CHUNK, 0), 16 * CHUNK);
    for (int i = 0; i < MANY; i++) {
        /* lthread_destroy() frees no user memory: the test does. */
        many_heap[i] = malloc(CHUNK);
        lthread_attr_init(&attr);
        attr.flags = LTHREAD_ATTR_DETACHED |
                     (i % 3 == 0 ? LTHREAD_ATTR_PRIVATE_STACK : 0);
        CHECK_EQ(lthread_create_ex(&many[i], file_worker, (void *)(intptr_t)i,
                                   &attr),
                 0);
    }
    CHECK_EQ(lthread_create(&lt, many_destroyer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    for (int i = 0; i < MANY; i++) {
        destroyed += !many[i];
        free(many_heap[i]);
    }
    printf("many: %d destroyed, %d finished, %d wrong reads\n", destroyed,
           many_done, many_wrong);
    CHECK(destroyed > 0);
    CHECK_EQ(many_done + destroyed, MANY);
    CHECK_EQ(many_wrong, 0);
    close(file_fd);
    unlink(path);
    free(all);
}

static void check_backend(void *arg)
{
    (void)arg;
    disk_check_backend();
}

static int run(void)
{
    char dir[256];
    lthread_t *lt;

    if (disk_tmpdir(dir, sizeof(dir), "disk-destroy") < 0 || pipe(pipefd) < 0) {
        perror("setup");
        return 1;
    }
    CHECK_EQ(lthread_create(&lt, check_backend, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    t_pending();
    t_inflight(ON_SHARED);
    t_inflight(ON_PRIVATE);
    t_inflight(ON_HEAP);
    t_from_pthread();
    t_many(dir);
    rmdir(dir);
    close(pipefd[0]);
    close(pipefd[1]);
    return check_summary(strcmp(disk_want, "pool") == 0
                             ? "test_disk_destroy (pool)"
                             : "test_disk_destroy (io_uring)");
}

int main(void)
{
    return disk_run_backends(run);
}
