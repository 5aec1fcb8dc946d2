/*
 * Compute sections: lthread_compute_begin() moves the calling lthread to a
 * compute pthread, lthread_compute_end() moves it back.
 *
 * The lthread keeps its addresses: a compute pthread switches into it right
 * where it is, in its region, so pointers to its locals stay valid. While it
 * is away it stays the owner of its region (state COMPUTE), and a region-
 * mate that must run meanwhile waits (region.c). Mates are made rare by the
 * region choice (a new lthread never picks a region whose owner computes,
 * unless every region's does) and by learning: once an lthread of entry
 * function f has entered a compute section, later lthreads of f start on a
 * private stack, so they never have mates at all.
 *
 * The pool is process-wide: workers are created on demand up to a bound
 * (LTHREAD_COMPUTE_MAX, default 4 per CPU; beyond it lthreads queue) and
 * exit after LTHREAD_COMPUTE_IDLE_MS of idleness (default 60 s).
 *
 * Hand-over protocol (the lthread's context must be saved before another
 * pthread may switch into it):
 *   1. compute_begin: state = COMPUTE, switch out to the scheduler;
 *   2. the scheduler (after the switch returned) queues it for the pool;
 *   3. a worker switches into it; the section runs on the worker;
 *   4. compute_end: switch out to the worker;
 *   5. the worker posts it back to its scheduler's inbox (inbox.c).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "debug_hooks.h"
#include "lthread_int.h"
#include "os/cond.h"

#define DEFAULT_IDLE_MS 60000
#define WORKERS_PER_CPU 4

struct worker {
    struct lthread__host host;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work; /* signalled when jobs are queued; waits
                          * on CLOCK_MONOTONIC (see pool_init) */
    /* lthreads waiting for a worker, oldest first, linked through their
     * wait_obj (unused while they compute): their next/prev keep them in
     * their scheduler's list of computing lthreads. */
    struct lthread *jobs_head;
    struct lthread *jobs_tail;
    unsigned njobs; /* in `jobs` */
    unsigned nworkers;
    unsigned nidle;       /* workers waiting on `work` */
    unsigned max_workers; /* 0 until configured */
    uint64_t idle_ms;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/* The idle deadline is on CLOCK_MONOTONIC, so the condvar must wait on it
 * too (a static initializer gives CLOCK_REALTIME, for which a monotonic
 * deadline is long past: workers would quit after every job). How is each
 * system's own: src/os/<os>/cond.c. */
static void pool_init(void)
{
    (void)lthread__os_cond_init(&pool.work);
}

/* ---- learning which entry functions compute --------------------------- */

/* Open-addressed set of entry functions that entered a compute section.
 * Lock-free: insertions CAS into empty slots; when full, learning stops. */
#define LEARNED_SLOTS 256
static _Atomic(lthread_func) learned[LEARNED_SLOTS];
_Atomic bool lthread__compute_learned_any;

static size_t fn_hash(lthread_func fn)
{
    uintptr_t h = (uintptr_t)fn;

    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 7) % LEARNED_SLOTS;
}

static void learn(lthread_func fn)
{
    size_t i = fn_hash(fn);

    for (size_t n = 0; n < LEARNED_SLOTS; n++, i = (i + 1) % LEARNED_SLOTS) {
        lthread_func cur =
            atomic_load_explicit(&learned[i], memory_order_relaxed);
        if (cur == fn)
            return;
        if (!cur) {
            lthread_func expected = NULL;

            if (atomic_compare_exchange_strong(&learned[i], &expected, fn) ||
                expected == fn) {
                atomic_store_explicit(&lthread__compute_learned_any, true,
                                      memory_order_relaxed);
                atomic_store_explicit(&lthread__start_slow, 1,
                                      memory_order_relaxed);
                return;
            }
        }
    }
}

bool lthread__compute_lookup(lthread_func fn)
{
    size_t i = fn_hash(fn);

    for (size_t n = 0; n < LEARNED_SLOTS; n++, i = (i + 1) % LEARNED_SLOTS) {
        lthread_func cur =
            atomic_load_explicit(&learned[i], memory_order_relaxed);
        if (cur == fn)
            return true;
        if (!cur)
            return false;
    }
    return false;
}

/* ---- the pool --------------------------------------------------------- */

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

    if (pool.max_workers)
        return;
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    pool.max_workers = (unsigned)env_ulong(
        "LTHREAD_COMPUTE_MAX", (unsigned long)ncpu * WORKERS_PER_CPU);
    pool.idle_ms = env_ulong("LTHREAD_COMPUTE_IDLE_MS", DEFAULT_IDLE_MS);
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

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct lthread *lt;
    struct timespec until;

    w->host.tsan_fiber = lthread__tsan_current_fiber();
    lthread__asan_host_stack(&w->host.asan_bottom, &w->host.asan_size);
    lthread__host_set(&w->host);
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        deadline_after_ms(&until, pool.idle_ms);
        while (!pool.jobs_head) {
            int rc;

            pool.nidle++;
            rc = lthread__os_cond_wait_until(&pool.work, &pool.lock, &until);
            pool.nidle--;
            if (rc == ETIMEDOUT && !pool.jobs_head)
                goto out_exit;
        }
        lt = pool.jobs_head;
        pool.jobs_head = lt->wait_obj;
        if (!pool.jobs_head)
            pool.jobs_tail = NULL;
        pool.njobs--;
        pthread_mutex_unlock(&pool.lock);

        /* Only lt runs here: nothing hands over directly on a worker.
         * Its state stays COMPUTE throughout: only its scheduler's
         * pthread writes it, and reads it meanwhile (join, destroy). */
        lt = lthread__switch_in(&w->host, lt);
        /* lt called lthread_compute_end(): send it home. */
        lthread__inbox_post_back(lt->sched, lt);

        pthread_mutex_lock(&pool.lock);
    }
out_exit:
    pool.nworkers--;
    pthread_mutex_unlock(&pool.lock);
    lthread__host_set(NULL);
    lthread__free(w);
    return NULL;
}

/* Starts a worker; the pool lock is held. Returns 0 or a negative errno. */
static int pool_spawn(void)
{
    struct worker *w = lthread__calloc(sizeof(*w));
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    if (!w)
        return -ENOMEM;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (rc) {
        lthread__free(w);
        return -rc;
    }
    pool.nworkers++;
    return 0;
}

void lthread__compute_submit(struct lthread__sched *s, struct lthread *lt)
{
    int err = 0;

    pthread_once(&pool_once, pool_init);
    pthread_mutex_lock(&pool.lock);
    pool_configure();
    /* Queue first, so a worker that times out right now still sees it.
     * Idle workers that were signalled may not have taken their job yet:
     * only jobs beyond the idle count need a new worker. */
    lt->wait_obj = NULL;
    if (pool.jobs_tail)
        pool.jobs_tail->wait_obj = lt;
    else
        pool.jobs_head = lt;
    pool.jobs_tail = lt;
    pool.njobs++;
    if (pool.njobs > pool.nidle && pool.nworkers < pool.max_workers)
        err = pool_spawn();
    if (err && pool.nworkers == 0) {
        /* Nobody can ever run it: the section fails, at home. It is the
         * last job; find the one before it (a rare path: a scan). */
        struct lthread *prev = NULL;

        for (struct lthread *j = pool.jobs_head; j != lt; j = j->wait_obj)
            prev = j;
        if (prev)
            prev->wait_obj = NULL;
        else
            pool.jobs_head = NULL;
        pool.jobs_tail = prev;
        pool.njobs--;
        pthread_mutex_unlock(&pool.lock);
        lt->wake_result = err;
        lthread__ready(s, lt);
        return;
    }
    s->ncompute++;
    s->stats.compute_sections++;
    lthread__queue_push(&s->computing, lt);
    pthread_mutex_unlock(&pool.lock);
    /* After the unlock: a worker woken under the lock would only block on
     * it (measured: begin/end round trip 8.4 -> 5.8 us). It finds the job
     * queued either way. */
    pthread_cond_signal(&pool.work);
}

/* ---- the public calls ------------------------------------------------- */

LTHREAD_API int lthread_compute_begin(void)
{
    struct lthread__sched *s;
    struct lthread *self = lthread__sched_self(&s);

    if (!self)
        return lthread__fail(lthread__self() ? -EDEADLK : -EPERM);
    learn(self->fn);
    self->state = LTHREAD__COMPUTE;
    self->wake_result = 0;
    lthread__switch_out(self);
    /* Now on a compute pthread, unless the pool could not take us. */
    return self->wake_result ? lthread__fail(self->wake_result) : 0;
}

LTHREAD_API int lthread_compute_end(void)
{
    struct lthread *self = lthread__self();

    /* On a scheduler pthread, or on no host at all: not in a section. */
    if (!self || lthread__sched_get())
        return lthread__fail(-EPERM);
    lthread__switch_out(self);
    /* Home again, resumed by our own scheduler. */
    return 0;
}

LTHREAD_API int lthread_getaddrinfo(const char *node, const char *service,
                                    const struct addrinfo *hints,
                                    struct addrinfo **res)
{
    int rc;

    /* Without a section (outside an lthread, say) the call still works:
     * it just blocks the caller's pthread, as plain getaddrinfo does. */
    if (lthread_compute_begin() < 0)
        return getaddrinfo(node, service, hints, res);
    rc = getaddrinfo(node, service, hints, res);
    lthread_compute_end();
    return rc;
}
