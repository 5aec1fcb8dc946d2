/*
 * worker_pool: lthreads on several schedulers take jobs from one channel
 * and send their results through another.
 *
 *   worker_pool [jobs [schedulers [lthreads]]]
 *
 *   jobs        how many jobs (default 100000)
 *   schedulers  worker schedulers, one pthread each (default 4)
 *   lthreads    worker lthreads per scheduler (default 16)
 *
 * main() starts the worker pthreads, then runs the boss lthread on its own
 * scheduler. The boss, in one loop, sends job n (n = 1, 2, ... jobs) into the
 * channel `jobs` and receives results from the channel `results`, with
 * lthread_chan_select(): whichever can be done first. It could not send
 * every job first and collect afterwards: both channels would fill up, the
 * boss waiting for room in `jobs`, the workers for room in `results`.
 *
 * A job's result is n * n; the boss checks that every job came back once
 * and that the results add up to 1 + 4 + ... + jobs^2. Then it closes both
 * channels: the workers' lthread_chan_recv() fails with EPIPE, they
 * return, each scheduler's lthread_run() returns, and main() joins the
 * pthreads. Exits 0 when everything added up, 1 otherwise.
 *
 * The workers also count the jobs they did in one counter, under an
 * lthread mutex shared by all the schedulers, and in one counter per
 * scheduler, which only that scheduler's lthreads touch (lthreads of one
 * scheduler never run in parallel: no lock).
 */
#include <errno.h>
#include <lthread.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values that wait in the channels at most. */
#define CHANNEL_CAPACITY 64

struct job {
    uint64_t id; /* 0 .. jobs-1 */
    uint64_t n;
};

struct result {
    uint64_t id;
    uint64_t value;
    int scheduler; /* who did it */
};

/* One worker scheduler. */
struct scheduler {
    int index;
    pthread_t pthread;
    long done; /* jobs done by its lthreads (only they touch it) */
};

static long njobs = 100000, nschedulers = 4, nlthreads = 16;
static struct scheduler *schedulers;
static lthread_chan_t *jobs, *results;

/* Jobs done by all the workers, under `done_lock`. */
static lthread_mutex_t *done_lock;
static long done_total;

/* The work: n squared. */
static uint64_t work(uint64_t n)
{
    return n * n;
}

/* A worker lthread: jobs in, results out, until `jobs` is closed. */
static void worker(lthread_t *lt, void *arg)
{
    struct scheduler *s = arg;
    struct job job;
    struct result res;

    (void)lt;
    /* Parks this lthread until a job comes (the other lthreads of the
     * scheduler run meanwhile); EPIPE once the boss has closed `jobs`. */
    while (lthread_chan_recv(jobs, &job, 0) == 0) {
        res.id = job.id;
        res.value = work(job.n);
        res.scheduler = s->index;
        s->done++;
        /* Parks while another pthread's lthread holds the mutex. */
        lthread_mutex_lock(done_lock);
        done_total++;
        lthread_mutex_unlock(done_lock);
        if (lthread_chan_send(results, &res, 0) != 0)
            break;
    }
}

static void *scheduler_thread(void *arg)
{
    struct scheduler *s = arg;
    lthread_t *lt;

    for (long i = 0; i < nlthreads; i++) {
        if (lthread_create(&lt, worker, s) != 0) {
            perror("worker_pool: lthread_create");
            exit(1);
        }
    }
    lthread_run(); /* returns once every worker has returned */
    return NULL;
}

/* Sends the jobs, collects the results, checks them, closes the
 * channels. *arg is set to 1 when everything added up. */
static void boss(lthread_t *lt, void *arg)
{
    int *ok = arg;
    unsigned char *seen = calloc((size_t)njobs, 1);
    uint64_t sum = 0, expected, n = (uint64_t)njobs;
    long sent = 0, received = 0, wrong = 0;
    struct job job = {.id = 0, .n = 1};
    struct result res;

    (void)lt;
    if (!seen) {
        perror("worker_pool");
        exit(1);
    }
    while (received < njobs) {
        struct lthread_chan_op ops[2];
        size_t nops = 0;
        int i;

        if (sent < njobs)
            ops[nops++] = (struct lthread_chan_op){
                .ch = jobs, .op = LTHREAD_CHAN_SEND, .elem = &job};
        ops[nops++] = (struct lthread_chan_op){
            .ch = results, .op = LTHREAD_CHAN_RECV, .elem = &res};
        /* Parks until one of them can be done, and does that one. */
        i = lthread_chan_select(ops, nops, 0);
        if (i < 0 || ops[i].err != 0) {
            fprintf(stderr, "worker_pool: select: %s\n",
                    strerror(i < 0 ? errno : ops[i].err));
            exit(1);
        }
        if (ops[i].op == LTHREAD_CHAN_SEND) {
            /* The channel copied the job: prepare the next one. */
            sent++;
            job.id++;
            job.n++;
        } else {
            received++;
            if (res.id >= (uint64_t)njobs || seen[res.id]++ ||
                res.value != work(res.id + 1))
                wrong++;
            sum += res.value;
        }
    }
    /* The workers wait for jobs: closing `jobs` ends them. */
    lthread_chan_close(jobs);
    lthread_chan_close(results);

    expected = n * (n + 1) * (2 * n + 1) / 6;
    printf("worker_pool: %ld results, sum %llu, expected %llu: %s\n",
           received, (unsigned long long)sum, (unsigned long long)expected,
           sum == expected && wrong == 0 ? "ok" : "WRONG");
    *ok = sum == expected && wrong == 0;
    free(seen);
}

int main(int argc, char **argv)
{
    lthread_t *lt;
    int ok = 0;
    long total = 0;

    if (argc > 1)
        njobs = atol(argv[1]);
    if (argc > 2)
        nschedulers = atol(argv[2]);
    if (argc > 3)
        nlthreads = atol(argv[3]);
    /* (jobs^3 / 3 must fit in 64 bits.) */
    if (njobs < 1 || njobs > 1000000 || nschedulers < 1 ||
        nschedulers > 1024 || nlthreads < 1 || nlthreads > 100000) {
        fprintf(stderr, "usage: %s [jobs [schedulers [lthreads]]]\n",
                argv[0]);
        return 2;
    }
    schedulers = calloc((size_t)nschedulers, sizeof(*schedulers));
    if (!schedulers ||
        lthread_chan_create(&jobs, sizeof(struct job), CHANNEL_CAPACITY) ||
        lthread_chan_create(&results, sizeof(struct result),
                            CHANNEL_CAPACITY) ||
        lthread_mutex_create(&done_lock)) {
        perror("worker_pool");
        return 1;
    }
    printf("worker_pool: %ld jobs, %ld schedulers x %ld lthreads\n", njobs,
           nschedulers, nlthreads);

    /* The workers' lthreads wait for jobs until the boss runs: a wait on
     * a channel (or a mutex) is never taken for a deadlock, since any
     * pthread may end it. */
    for (long i = 0; i < nschedulers; i++) {
        schedulers[i].index = (int)i;
        if (pthread_create(&schedulers[i].pthread, NULL, scheduler_thread,
                           &schedulers[i]) != 0) {
            fprintf(stderr, "worker_pool: pthread_create failed\n");
            return 1;
        }
    }
    if (lthread_create(&lt, boss, &ok) != 0) {
        perror("worker_pool: lthread_create");
        return 1;
    }
    lthread_run(); /* returns once the boss is done */

    for (long i = 0; i < nschedulers; i++) {
        pthread_join(schedulers[i].pthread, NULL);
        printf("worker_pool: scheduler %ld did %ld jobs\n", i,
               schedulers[i].done);
        total += schedulers[i].done;
    }
    printf("worker_pool: %ld jobs done in all, %ld counted under the "
           "mutex\n",
           total, done_total);
    if (total != njobs || done_total != njobs)
        ok = 0;
    /* Nobody waits on them any more: they can be freed. */
    lthread_chan_destroy(jobs);
    lthread_chan_destroy(results);
    lthread_mutex_destroy(done_lock);
    free(schedulers);
    printf("worker_pool: %s\n", ok ? "done" : "FAILED");
    return ok ? 0 : 1;
}
