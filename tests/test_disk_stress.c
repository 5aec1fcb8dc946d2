/*
 * Disk I/O under load, once per backend (tests/disk_util.h).
 *
 * Integrity: 1000 lthreads at once read and write a 256 MB file (sparse:
 * made with ftruncate, deleted at the end) at random places, each in a
 * 256 KiB chunk of its own: whole-block writes (pwrite, pwritev) and reads
 * of random byte ranges (pread, preadv), with buffers on the heap, on
 * shared stack regions and on private stacks. Every read is checked
 * against the model of the file and against a plain pread(2) of the same
 * bytes; at the end the whole file is read back with pread(2).
 *
 * Responsiveness: meanwhile, on the same scheduler, a ping lthread answers
 * a plain pthread over a pipe and a timer lthread sleeps 2 ms at a time,
 * while noise lthreads write, sync and read 256 KiB blocks of another
 * file. Once the workers are done (their checks cost CPU time, which
 * delays everyone), the noise goes on alone until the pinger has had
 * PINGS answers (progress), within a deadline of seconds; the longest
 * round trip and the latest timer of that phase are CHECK_TIMEs (a
 * scheduler blocked in fdatasync(2) takes hundreds of ms to answer).
 */
#include <lthread.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "disk_util.h"

#define FILE_SIZE (256ull << 20)
#define BLOCK 4096
#define NBLOCKS (FILE_SIZE / BLOCK)
#define WORKERS 1000
#define CHUNK_BLOCKS 64 /* per worker: 256 KiB */
/* Under TSan every switch and every copy costs much more: fewer ops
 * (still 1000 lthreads at once). */
#define OPS (CHECK_TSAN ? 3 : 10)
#define MAX_READ (3 * BLOCK)
#define PINGS 20
#define NOISE 4
#define NOISE_SIZE (16u << 20)
#define NOISE_IO (256u << 10)

static int fd, noise_fd;
static unsigned char version[NBLOCKS]; /* 0: never written (a hole) */
static long wrong, checked_bytes, ops_done;
static int workers_left;

/* Compares a read of [off, off + len) with the model and with pread(2). */
static void check_read(const unsigned char *got, size_t len,
                       unsigned long long off)
{
    unsigned char *plain = malloc(len), *want = malloc(len);
    size_t bad = 0;

    for (size_t at = 0, n; at < len; at += n) {
        unsigned long long o = off + at;

        n = BLOCK - o % BLOCK;
        if (n > len - at)
            n = len - at;
        disk_fill(want + at, n, o, version[o / BLOCK]);
    }
    if (pread(fd, plain, len, (off_t)off) != (ssize_t)len)
        bad = len;
    else if (memcmp(got, want, len) != 0 || memcmp(plain, want, len) != 0)
        for (size_t i = 0; i < len; i++)
            bad += got[i] != want[i] || plain[i] != want[i];
    if (bad && !wrong)
        printf("read of %zu bytes at %llu: %zu wrong\n", len, off, bad);
    wrong += (long)bad;
    checked_bytes += (long)len;
    free(plain);
    free(want);
}

/* ---- the workers --------------------------------------------------------- */

struct worker {
    int index;
    unsigned seed;
};

static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

static void do_write(struct worker *w, unsigned char *stack_buf, int vec)
{
    unsigned first = (unsigned)w->index * CHUNK_BLOCKS;
    unsigned nb = 1 + next_rand(&w->seed) % 2;
    unsigned b = first + next_rand(&w->seed) % (CHUNK_BLOCKS - nb + 1);
    unsigned v = 1 + next_rand(&w->seed) % 250;
    unsigned long long off = (unsigned long long)b * BLOCK;
    size_t len = (size_t)nb * BLOCK;
    unsigned char *heap = malloc(len);
    int on_stack = next_rand(&w->seed) % 2;
    unsigned char *buf = on_stack ? stack_buf : heap;
    ssize_t n;

    disk_fill(buf, len, off, v);
    if (vec) {
        /* Two parts, split anywhere: the first on the stack, the rest on
         * the heap. */
        size_t cut = 1 + next_rand(&w->seed) % (len - 1);
        struct iovec iov[2] = {{stack_buf, cut}, {heap + cut, len - cut}};

        disk_fill(stack_buf, cut, off, v);
        disk_fill(heap + cut, len - cut, off + cut, v);
        n = lthread_io_pwritev(fd, iov, 2, (off_t)off);
    } else {
        n = lthread_io_pwrite(fd, buf, len, (off_t)off);
    }
    if (n != (ssize_t)len) {
        printf("write of %zu at %llu: %zd (%s)\n", len, off, n,
               strerror(errno));
        wrong++;
    } else {
        for (unsigned i = 0; i < nb; i++)
            version[b + i] = (unsigned char)v;
    }
    free(heap);
}

static void do_read(struct worker *w, unsigned char *stack_buf, int vec)
{
    unsigned long long first =
        (unsigned long long)w->index * CHUNK_BLOCKS * BLOCK;
    size_t len = 1 + next_rand(&w->seed) % MAX_READ;
    unsigned long long off =
        first + next_rand(&w->seed) % (CHUNK_BLOCKS * BLOCK - len + 1);
    unsigned char *heap = malloc(len);
    ssize_t n;

    if (vec && len >= 3) {
        /* Stack, heap, stack. */
        size_t a = 1 + next_rand(&w->seed) % (len - 2);
        size_t b = 1 + next_rand(&w->seed) % (len - a - 1);
        struct iovec iov[3] = {
            {stack_buf, a}, {heap, b}, {stack_buf + a, len - a - b}};

        n = lthread_io_preadv(fd, iov, 3, (off_t)off);
        if (n == (ssize_t)len) {
            /* Back in file order in heap[]. */
            memmove(heap + a, heap, b);
            memcpy(heap, stack_buf, a);
            memcpy(heap + a + b, stack_buf + a, len - a - b);
        }
    } else if (next_rand(&w->seed) % 2) {
        n = lthread_io_pread(fd, stack_buf, len, (off_t)off);
        memcpy(heap, stack_buf, len);
    } else {
        n = lthread_io_pread(fd, heap, len, (off_t)off);
    }
    if (n != (ssize_t)len) {
        printf("read of %zu at %llu: %zd (%s)\n", len, off, n, strerror(errno));
        wrong++;
    } else {
        check_read(heap, len, off);
    }
    free(heap);
}

static void worker_body(void *arg)
{
    struct worker *w = arg;
    unsigned char stack_buf[MAX_READ];

    for (int op = 0; op < OPS; op++) {
        unsigned r = next_rand(&w->seed) % 100;

        if (r < 30)
            do_write(w, stack_buf, 0);
        else if (r < 40)
            do_write(w, stack_buf, 1);
        else if (r < 80)
            do_read(w, stack_buf, 0);
        else
            do_read(w, stack_buf, 1);
        ops_done++;
    }
    /* (Not the big file: written back, its scattered blocks would make
     * its unlink slow where the filesystem discards freed blocks.) */
    if (w->index % 100 == 0 && lthread_io_fdatasync(noise_fd) != 0)
        wrong++;
    workers_left--;
}

/* ---- what must keep running meanwhile ---------------------------------------
 */

/* 1 while the workers run, 2 while the noise goes on alone, 0 at the end
 * (read by the pinger pthread). */
static int phase = 1;

static int phase_now(void)
{
    return __atomic_load_n(&phase, __ATOMIC_ACQUIRE);
}

static int loading(void)
{
    return phase_now() != 0;
}
static int ping_r, pong_w;

/* Answers every ping byte with a pong byte: on the scheduler's fds. */
static void ping_body(void *arg)
{
    int fds[2] = {ping_r, pong_w};
    char c;

    (void)arg;
    while (lthread_read(fds[0], &c, 1, 0) == 1)
        if (lthread_write(fds[1], &c, 1) != 1)
            break;
}

/* Per phase: how late the timer was at most, and its ticks. */
static double timer_late[3];
static long timer_ticks[3];

static void timer_body(void *arg)
{
    (void)arg;
    while (loading()) {
        int ph = phase_now();
        double t0 = check_now_ms(), late;

        lthread_sleep(2);
        late = check_now_ms() - t0 - 2;
        if (late > timer_late[ph])
            timer_late[ph] = late;
        timer_ticks[ph]++;
    }
}

static long noise_rounds;

static void noise_body(void *arg)
{
    unsigned seed = (unsigned)(intptr_t)arg;
    unsigned char *buf = malloc(NOISE_IO);

    memset(buf, 0x77, NOISE_IO);
    while (loading()) {
        off_t off =
            (off_t)(next_rand(&seed) % (NOISE_SIZE / NOISE_IO)) * NOISE_IO;

        if (lthread_io_pwrite(noise_fd, buf, NOISE_IO, off) !=
                (ssize_t)NOISE_IO ||
            lthread_io_pread(noise_fd, buf, NOISE_IO, off) != (ssize_t)NOISE_IO)
            wrong++;
        if (++noise_rounds % 8 == 0)
            (void)lthread_io_fdatasync(noise_fd);
        /* (Parked in each call already, unless the calls block.) */
        lthread_sleep(0);
    }
    free(buf);
}

/* The pinger: a plain pthread that pings every 2 ms while the load is on
 * and records how long the answers take. */
static int ping_w, pong_r;
static long pongs[3]; /* per phase */
static double rtt_max[3];

static void *pinger_main(void *arg)
{
    (void)arg;
    while (loading()) {
        struct pollfd p = {.fd = pong_r, .events = POLLIN};
        double t0 = check_now_ms(), rtt;
        char c = 'p';
        int ph;

        if (write(ping_w, &c, 1) != 1)
            break;
        /* No deadline of our own: the controller ends the load. */
        while (poll(&p, 1, 100) == 0 && loading())
            ;
        if (!(p.revents & POLLIN) || read(pong_r, &c, 1) != 1)
            break;
        rtt = check_now_ms() - t0;
        ph = phase_now();
        if (rtt > rtt_max[ph])
            rtt_max[ph] = rtt;
        __atomic_add_fetch(&pongs[ph], 1, __ATOMIC_RELAXED);
        usleep(2000);
    }
    return NULL;
}

/* ---- the controller ------------------------------------------------------ */

static char dir[256];
static struct worker workers[WORKERS];

static void controller(void *arg)
{
    lthread_attr_t attr;
    lthread_t *lt;
    double t0 = check_now_ms(), deadline = t0 + 60000.0 * check_slow(), t;

    (void)arg;
    disk_check_backend();
    for (int i = 0; i < NOISE; i++)
        lthread_create(&lt, noise_body, (void *)(intptr_t)(i + 1));
    lthread_create(&lt, timer_body, NULL);
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (struct worker){i, (unsigned)i * 7919u + 1};
        lthread_attr_init(&attr);
        attr.flags = LTHREAD_ATTR_DETACHED |
                     (i % 7 == 0 ? LTHREAD_ATTR_PRIVATE_STACK : 0);
        if (lthread_create_ex(&lt, worker_body, &workers[i], &attr) != 0)
            workers_left--;
    }
    while (workers_left && check_now_ms() < deadline)
        lthread_sleep(5);
    t = check_now_ms() - t0;
    printf("%d workers x %d ops in %.0f ms (%ld left), %.1f MB checked, %ld "
           "wrong\n",
           WORKERS, OPS, t, (long)workers_left, checked_bytes / 1e6, wrong);
    CHECK_EQ(workers_left, 0);
    CHECK(checked_bytes > 0);
    /* Phase 2: the noise alone (the workers' checks take CPU time, which
     * delays everyone on the scheduler) until the pinger had its answers. */
    __atomic_store_n(&phase, 2, __ATOMIC_RELEASE);
    deadline = check_now_ms() + 30000.0 * check_slow();
    while (__atomic_load_n(&pongs[2], __ATOMIC_RELAXED) < PINGS &&
           check_now_ms() < deadline)
        lthread_sleep(5);
    __atomic_store_n(&phase, 0, __ATOMIC_RELEASE);
    CHECK_EQ(wrong, 0);
    /* The ping lthread waits for its next ping: end it. */
    lthread_close(ping_r);
}

/* The whole file with plain pread(2), against the model. */
static void verify_file(void)
{
    static const unsigned char zero[BLOCK];
    unsigned char *buf = malloc(1 << 20);
    long bad_blocks = 0;
    double t0 = check_now_ms();

    for (unsigned long long off = 0; off < FILE_SIZE; off += 1 << 20) {
        if (pread(fd, buf, 1 << 20, (off_t)off) != 1 << 20) {
            bad_blocks++;
            continue;
        }
        for (unsigned i = 0; i < (1 << 20) / BLOCK; i++) {
            unsigned long long b = off / BLOCK + i;
            const unsigned char *p = buf + (size_t)i * BLOCK;

            if (version[b] ? disk_diff(p, BLOCK, b * BLOCK, version[b]) != BLOCK
                           : memcmp(p, zero, BLOCK) != 0)
                bad_blocks++;
        }
    }
    printf("the whole file read back with pread(2) in %.0f ms: %ld wrong "
           "blocks\n",
           check_now_ms() - t0, bad_blocks);
    CHECK_EQ(bad_blocks, 0);
    free(buf);
}

static int run(void)
{
    char path[300], noise_path[300];
    int p1[2], p2[2];
    pthread_t pinger;
    lthread_t *lt;
    int rc;

    if (disk_tmpdir(dir, sizeof(dir), "disk-stress") < 0 || pipe(p1) < 0 ||
        pipe(p2) < 0) {
        perror("setup");
        return 1;
    }
    ping_r = p1[0];
    ping_w = p1[1];
    pong_r = p2[0];
    pong_w = p2[1];
    snprintf(path, sizeof(path), "%s/big", dir);
    snprintf(noise_path, sizeof(noise_path), "%s/noise", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    noise_fd = open(noise_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && noise_fd >= 0);
    CHECK_EQ(ftruncate(fd, (off_t)FILE_SIZE), 0);
    CHECK_EQ(ftruncate(noise_fd, (off_t)NOISE_SIZE), 0);
    workers_left = WORKERS;
    CHECK_EQ(lthread_create(&lt, ping_body, NULL), 0);
    CHECK_EQ(lthread_create(&lt, controller, NULL), 0);
    CHECK_EQ(pthread_create(&pinger, NULL, pinger_main, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    __atomic_store_n(&phase, 0, __ATOMIC_RELEASE);
    pthread_join(pinger, NULL);
    for (int ph = 1; ph <= 2; ph++)
        printf("%s: %ld pongs, longest round trip %.1f ms; %ld timer ticks, "
               "latest by %.1f ms\n",
               ph == 1 ? "with the workers" : "with the noise alone", pongs[ph],
               rtt_max[ph], timer_ticks[ph], timer_late[ph]);
    printf("noise: %ld rounds of %u KiB written and read, a fdatasync every "
           "8\n",
           noise_rounds, NOISE_IO >> 10);
    CHECK(pongs[2] >= PINGS);
    CHECK_TIME(rtt_max[2] < 250.0 * check_slow());
    CHECK_TIME(timer_late[2] < 250.0 * check_slow());
    verify_file();
    close(fd);
    close(noise_fd);
    unlink(path);
    unlink(noise_path);
    rmdir(dir);
    close(ping_w);
    close(pong_r);
    close(pong_w);
    rc = check_summary(strcmp(disk_want, "pool") == 0
                           ? "test_disk_stress (pool)"
                           : "test_disk_stress (io_uring)");
    return rc;
}

int main(void)
{
    return disk_run_backends(run);
}
