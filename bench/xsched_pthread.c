/*
 * xsched, pthread peer: the shapes of xsched_lthread.c (bench/xsched.h)
 * with plain pthreads and a textbook bounded queue (one mutex, a "not
 * empty" and a "not full" condvar, signalled after the unlock; close
 * broadcasts both). Every producer and every consumer is its own pthread:
 *
 *   pthread.1x1    2 pthreads
 *   pthread.4x4    4 producer + 4 consumer pthreads
 *
 * Usage: xsched_pthread [duration_ms]   (default 1000 per variant)
 */
#include <errno.h>
#include <pthread.h>

#include "xsched.h"

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    uint64_t *buf;
    size_t cap, head, count;
    int closed;
};

static void q_init(struct queue *q, size_t cap)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->buf = calloc(cap, sizeof(*q->buf));
    if (!q->buf)
        BENCH_DIE("xsched_pthread: out of memory");
    q->cap = cap;
    q->head = q->count = 0;
    q->closed = 0;
}

static void q_free(struct queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->buf);
}

/* 0, or EPIPE once closed. */
static int q_send(struct queue *q, uint64_t v)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return EPIPE;
    }
    q->buf[(q->head + q->count) % q->cap] = v;
    q->count++;
    pthread_mutex_unlock(&q->mu);
    pthread_cond_signal(&q->not_empty);
    return 0;
}

/* 0, or EPIPE once closed and empty. */
static int q_recv(struct queue *q, uint64_t *v)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    if (q->count == 0) {
        pthread_mutex_unlock(&q->mu);
        return EPIPE;
    }
    *v = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_mutex_unlock(&q->mu);
    pthread_cond_signal(&q->not_full);
    return 0;
}

static void q_close(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_mutex_unlock(&q->mu);
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
}

static struct queue ping[XS_MAXW], pong[XS_MAXW], stream;

static void *pp_producer(void *arg)
{
    int i = (int)(intptr_t)arg;
    long n = 0;
    uint64_t v;

    while (!xs_stopped()) {
        uint64_t out = ((uint64_t)i << 48) | (uint64_t)n;
        if (q_send(&ping[i], out) || q_recv(&pong[i], &v)) {
            atomic_fetch_add(&xs_errors, 1);
            break;
        }
        if (v != out)
            atomic_fetch_add(&xs_errors, 1);
        xs_publish(i, ++n);
    }
    q_close(&ping[i]);
    return NULL;
}

static void *pp_consumer(void *arg)
{
    int i = (int)(intptr_t)arg;
    uint64_t v;

    while (q_recv(&ping[i], &v) == 0)
        if (q_send(&pong[i], v) != 0) {
            atomic_fetch_add(&xs_errors, 1);
            break;
        }
    return NULL;
}

static void *st_producer(void *arg)
{
    int i = (int)(intptr_t)arg;
    uint64_t seq = 0;

    while (!xs_stopped())
        if (q_send(&stream, ((uint64_t)i << 48) | seq++) != 0) {
            atomic_fetch_add(&xs_errors, 1);
            break;
        }
    if (atomic_fetch_sub(&xs_live, 1) == 1)
        q_close(&stream);
    return NULL;
}

static void *st_consumer(void *arg)
{
    int i = (int)(intptr_t)arg;
    struct xs_check check = {{0}};
    long n = 0;
    uint64_t v;

    while (q_recv(&stream, &v) == 0) {
        xs_check_value(&check, v);
        xs_publish(i, ++n);
    }
    return NULL;
}

static void run(const char *shape, int pp, int p, int c, long dur)
{
    pthread_t tids[2 * XS_MAXW];
    struct xs_window w;
    int nt = 0;

    xs_reset(p);
    for (int i = 0; i < (pp ? p : 0); i++) {
        q_init(&ping[i], XS_PING_CAP);
        q_init(&pong[i], XS_PING_CAP);
    }
    if (!pp)
        q_init(&stream, XS_STREAM_CAP);
    for (int i = 0; i < p; i++)
        if (pthread_create(&tids[nt++], NULL, pp ? pp_producer : st_producer,
                           (void *)(intptr_t)i))
            BENCH_DIE("xsched_pthread: pthread_create failed");
    for (int i = 0; i < c; i++)
        if (pthread_create(&tids[nt++], NULL, pp ? pp_consumer : st_consumer,
                           (void *)(intptr_t)i))
            BENCH_DIE("xsched_pthread: pthread_create failed");
    w = xs_time(dur);
    for (int i = 0; i < nt; i++)
        pthread_join(tids[i], NULL);
    for (int i = 0; i < (pp ? p : 0); i++) {
        q_free(&ping[i]);
        q_free(&pong[i]);
    }
    if (!pp)
        q_free(&stream);
    xs_report("pthread", shape, pp, p, w);
}

int main(int argc, char **argv)
{
    long dur = bench_arg(argc, argv, 1, 1000);

    fprintf(stderr, "xsched_pthread: %ld ms per variant\n", dur);
    run("1x1", 1, 1, 1, dur);
    run("4x4", 1, 4, 4, dur);
    run("1x1", 0, 1, 1, dur);
    run("4x4", 0, 4, 4, dur);
    return xs_total_errors ? 1 : 0;
}
