/*
 * The disk job (bench/disk_common.h) on libuv: DEPTH uv_fs_read() requests
 * out at once, each completion issuing the next (libuv's thread pool, 4
 * threads unless UV_THREADPOOL_SIZE says otherwise), and a 1 ms one-shot
 * timer on the same loop, re-armed as it fires.
 *
 *   disk_libuv FILE DEPTH SECONDS [direct]
 */
#include <uv.h>

#include "disk_common.h"

static struct disk_job job;
static uv_loop_t *loop;
static int stop, measuring;

struct req {
    uv_fs_t fs;
    uv_buf_t buf;
    uint64_t state;
};

static void submit(struct req *r);

static void on_read(uv_fs_t *fs)
{
    struct req *r = (struct req *)fs;

    if (fs->result != DISK_BS) {
        fprintf(stderr, "read: %s\n", uv_strerror((int)fs->result));
        abort();
    }
    uv_fs_req_cleanup(fs);
    if (measuring)
        job.reads++;
    if (!stop)
        submit(r);
}

static void submit(struct req *r)
{
    if (uv_fs_read(loop, &r->fs, job.fd, &r->buf, 1, disk_next(&job, &r->state),
                   on_read) != 0)
        abort();
}

static uv_timer_t tick, phase;
static uint64_t armed_ns;

static void on_tick(uv_timer_t *t)
{
    /* Signed: libuv counts the 1 ms from the loop's cached time, which
     * may be earlier than when it was armed, so it can fire early. */
    if (measuring)
        disk_late(&job, ((double)uv_hrtime() - armed_ns - 1e6) / 1e3);
    if (stop)
        return;
    armed_ns = uv_hrtime();
    uv_timer_start(t, on_tick, 1, 0);
}

static void on_phase(uv_timer_t *t)
{
    if (!measuring) {
        job.cpu0 = disk_cpu_s();
        job.t0_ns = bench_now_ns();
        measuring = 1;
        uv_timer_start(t, on_phase, (uint64_t)(job.seconds * 1000), 0);
        return;
    }
    measuring = 0;
    job.t1_ns = bench_now_ns();
    job.cpu1 = disk_cpu_s();
    stop = 1;
    uv_timer_stop(&tick);
}

int main(int argc, char **argv)
{
    struct req *reqs;

    disk_job_init(&job, argc, argv);
    loop = uv_default_loop();
    reqs = calloc((size_t)job.depth, sizeof(*reqs));
    for (int i = 0; i < job.depth; i++) {
        void *mem;

        if (posix_memalign(&mem, DISK_BS, DISK_BS) != 0)
            abort();
        reqs[i].buf = uv_buf_init(mem, DISK_BS);
        reqs[i].state = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull + 1;
        submit(&reqs[i]);
    }
    uv_timer_init(loop, &tick);
    uv_timer_init(loop, &phase);
    armed_ns = uv_hrtime();
    uv_timer_start(&tick, on_tick, 1, 0);
    uv_timer_start(&phase, on_phase, DISK_WARMUP_NS / 1000000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    disk_report(&job, "libuv");
    for (int i = 0; i < job.depth; i++)
        free(reqs[i].buf.base);
    free(reqs);
    return 0;
}
