/*
 * Random 4 KiB reads from one lthread scheduler (bench/disk_common.h has
 * the job): DEPTH lthreads each read in a loop, so DEPTH reads are out at
 * once, while a timer lthread sleeps 1 ms at a time.
 *
 *   disk_lthread MODE FILE DEPTH SECONDS [direct]
 *
 *   io       lthread_io_pread() into a heap buffer: io_uring, or the I/O
 *            pool with LTHREAD_DISK=pool (the variant is named after what
 *            lthread_io_backend() says)
 *   stack    the same into a buffer on the lthread's shared stack region
 *            (what the copy through the heap costs)
 *   compute  blocking pread(2) between lthread_compute_begin() and _end()
 *            (the readers on private stacks: none waits for a region-mate)
 */
#include <lthread.h>

#include "disk_common.h"

static struct disk_job job;
static const char *mode;
static volatile int stop;
static int measuring;

/* A read into a buffer on this lthread's stack, in a frame of its own: the
 * other modes' readers keep small stacks (a region-mate's switch copies
 * the used stack). */
static __attribute__((noinline)) ssize_t read_on_stack(off_t off)
{
    char buf[DISK_BS] __attribute__((aligned(DISK_BS)));
    ssize_t n = lthread_io_pread(job.fd, buf, DISK_BS, off);

    bench_sink += (unsigned char)buf[0];
    return n;
}

static void reader(void *arg)
{
    uint64_t state = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    char *heap = NULL;

    if (posix_memalign((void **)&heap, DISK_BS, DISK_BS) != 0)
        abort();
    while (!stop) {
        off_t off = disk_next(&job, &state);
        ssize_t n;

        if (strcmp(mode, "compute") == 0) {
            if (lthread_compute_begin() != 0)
                abort();
            n = pread(job.fd, heap, DISK_BS, off);
            lthread_compute_end();
        } else if (strcmp(mode, "stack") == 0) {
            n = read_on_stack(off);
        } else {
            n = lthread_io_pread(job.fd, heap, DISK_BS, off);
        }
        if (n != DISK_BS) {
            perror("read");
            abort();
        }
        if (measuring)
            job.reads++;
    }
    free(heap);
}

static void timer(void *arg)
{
    (void)arg;
    while (!stop) {
        uint64_t t0 = bench_now_ns();

        lthread_sleep(1);
        if (measuring)
            disk_late(&job, (bench_now_ns() - t0 - 1000000) / 1e3);
    }
}

static void controller(void *arg)
{
    const char *backend;
    char name[64];

    (void)arg;
    backend = lthread_io_backend();
    lthread_sleep(DISK_WARMUP_NS / 1000000);
    job.cpu0 = disk_cpu_s();
    job.t0_ns = bench_now_ns();
    measuring = 1;
    lthread_sleep((uint64_t)(job.seconds * 1000));
    measuring = 0;
    job.t1_ns = bench_now_ns();
    job.cpu1 = disk_cpu_s();
    stop = 1;
    if (strcmp(mode, "compute") == 0)
        snprintf(name, sizeof(name), "compute");
    else
        snprintf(name, sizeof(name), "%s%s",
                 strcmp(backend, "io_uring") == 0 ? "uring" : backend,
                 strcmp(mode, "stack") == 0 ? "-stack" : "");
    disk_report(&job, name);
}

int main(int argc, char **argv)
{
    lthread_attr_t attr;
    lthread_t *lt;

    if (argc < 2) {
        fprintf(stderr,
                "usage: %s io|stack|compute FILE DEPTH SECONDS "
                "[direct]\n",
                argv[0]);
        return 2;
    }
    mode = argv[1];
    disk_job_init(&job, argc - 1, argv + 1);
    lthread_attr_init(&attr);
    if (strcmp(mode, "compute") == 0)
        attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
    for (int i = 0; i < job.depth; i++)
        lthread_create_ex(&lt, reader, (void *)(uintptr_t)(i + 1), &attr);
    lthread_create(&lt, timer, NULL);
    lthread_create(&lt, controller, NULL);
    lthread_run();
    return 0;
}
