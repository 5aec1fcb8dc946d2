/*
 * The I/O pool: pthreads that do disk requests with plain blocking system
 * calls, for schedulers without io_uring (not built with liburing, an old
 * kernel, io_uring forbidden, LTHREAD_DISK=pool) and for the operations
 * the kernel's io_uring lacks.
 *
 * Process-wide, like the compute pool, but apart from it: a disk request
 * is not an lthread. The lthread stays parked on its scheduler (its region
 * free for its mates) while a pool pthread does the system call on the
 * request, then posts the request home through the scheduler's inbox
 * (inbox.c): one compare-and-swap, and a poller wake for the first post
 * of a batch. A scheduler hands over a round's requests under one lock.
 *
 * Workers are started on demand up to LTHREAD_DISK_THREADS (default 4 per
 * CPU, at least 8) and leave after LTHREAD_DISK_IDLE_MS of idleness
 * (default 10 s). They block every signal: a signal that the system call
 * itself raises (SIGXFSZ past RLIMIT_FSIZE) stays pending on the worker
 * instead of killing the process, and the call fails with EFBIG.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "disk/disk.h"
#include "os/cond.h"

#define DEFAULT_IDLE_MS 10000
#define WORKERS_PER_CPU 4
#define MIN_WORKERS 8

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work; /* jobs were queued; waits on CLOCK_MONOTONIC */
    struct lthread__disk_req *head, *tail; /* jobs, linked by next */
    unsigned njobs;
    unsigned nworkers;
    unsigned nidle;       /* workers waiting on `work` */
    unsigned max_workers; /* 0 until configured */
    uint64_t idle_ms;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_init(void)
{
    (void)lthread__os_cond_init(&pool.work);
}

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);
    char *end;
    unsigned long n;

    if (!v || !*v)
        return dflt;
    n = strtoul(v, &end, 10);
    return (*end || n == 0) ? dflt : n;
}

/* Reads the knobs once; the pool lock is held. */
static void pool_configure(void)
{
    long ncpu;
    unsigned long dflt;

    if (pool.max_workers)
        return;
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    dflt = (unsigned long)ncpu * WORKERS_PER_CPU;
    if (dflt < MIN_WORKERS)
        dflt = MIN_WORKERS;
    pool.max_workers = (unsigned)env_ulong("LTHREAD_DISK_THREADS", dflt);
    pool.idle_ms = env_ulong("LTHREAD_DISK_IDLE_MS", DEFAULT_IDLE_MS);
}

static void deadline_after_ms(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* On the request's scheduler: it is done. */
static void pool_done(struct lthread__sched *s, struct lthread__msg *m)
{
    lthread__disk_complete(s, (struct lthread__disk_req *)m);
}

static void *worker_main(void *arg)
{
    struct lthread__disk_req *r;
    struct lthread__sched *s;
    struct timespec until;
    sigset_t all;

    (void)arg;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        deadline_after_ms(&until, pool.idle_ms);
        while (!pool.head) {
            int rc;

            pool.nidle++;
            rc = lthread__os_cond_wait_until(&pool.work, &pool.lock, &until);
            pool.nidle--;
            if (rc == ETIMEDOUT && !pool.head)
                goto out_exit;
        }
        r = pool.head;
        pool.head = r->next;
        if (!pool.head)
            pool.tail = NULL;
        pool.njobs--;
        pthread_mutex_unlock(&pool.lock);

        r->result = lthread__disk_exec(r);
        /* Its lthread is parked and counted live, so its scheduler is
         * there until this post is handled; r is not ours after it. */
        s = r->sched;
        r->msg.handle = pool_done;
        atomic_fetch_add(&s->inbox.nposting, 1);
        lthread__inbox_post(s, &r->msg);

        pthread_mutex_lock(&pool.lock);
    }
out_exit:
    pool.nworkers--;
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* Starts a worker; the pool lock is held. Returns 0 or a negative errno. */
static int pool_spawn(void)
{
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* System calls need little stack. */
    pthread_attr_setstacksize(&attr, 256 * 1024);
    rc = pthread_create(&tid, &attr, worker_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc)
        return -rc;
    pool.nworkers++;
    return 0;
}

int lthread__disk_pool_submit(struct lthread__disk_req *first,
                              struct lthread__disk_req *last, unsigned n)
{
    unsigned idle, started = 0;
    int err = 0;

    pthread_once(&pool_once, pool_init);
    pthread_mutex_lock(&pool.lock);
    pool_configure();
    /* Each queued job needs a worker: an idle one (signalled, perhaps not
     * awake yet) or a new one, up to the bound; beyond it jobs queue. */
    while (pool.njobs + n > pool.nidle + started &&
           pool.nworkers < pool.max_workers) {
        err = pool_spawn();
        if (err)
            break;
        started++;
    }
    if (err && pool.nworkers == 0) {
        pthread_mutex_unlock(&pool.lock);
        return err; /* nobody can ever do them */
    }
    last->next = NULL;
    if (pool.tail)
        pool.tail->next = first;
    else
        pool.head = first;
    pool.tail = last;
    pool.njobs += n;
    idle = pool.nidle;
    pthread_mutex_unlock(&pool.lock);
    /* After the unlock: a worker woken under the lock would only block on
     * it. */
    if (n > 1 && idle > 1)
        pthread_cond_broadcast(&pool.work);
    else if (idle)
        pthread_cond_signal(&pool.work);
    return 0;
}
