/*
 * Mutexes and channels across schedulers, end to end: producers on two
 * schedulers and a plain pthread send numbered values through one channel
 * to consumers on two other schedulers, which add them to mutex-protected
 * totals; every value arrives exactly once. Also the rendezvous, close
 * and select basics on one scheduler.
 */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>

#include "check.h"

#if CHECK_TSAN
enum { PER_PRODUCER = 5000 };
#else
enum { PER_PRODUCER = 50000 };
#endif
enum { NPROD = 3, NCONS = 4 };

static lthread_chan_t *work;
static lthread_mutex_t *lock;
static uint64_t sum, count; /* under lock */
static int consumers_done;  /* __atomic */

static void produce(int who)
{
    for (int i = 0; i < PER_PRODUCER; i++) {
        uint64_t v = (uint64_t)who * 1000000u + (uint64_t)i + 1;

        CHECK_EQ(lthread_chan_send(work, &v, 0), 0);
    }
}

static void producer(lthread_t *lt, void *arg)
{
    (void)lt;
    produce((int)(intptr_t)arg);
}

static void consumer(lthread_t *lt, void *arg)
{
    uint64_t v, my_sum = 0, my_count = 0;

    (void)lt;
    (void)arg;
    while (lthread_chan_recv(work, &v, 0) == 0) {
        my_sum += v;
        my_count++;
        if (my_count % 128 == 0) { /* the mutex, now and then, contended */
            CHECK_EQ(lthread_mutex_lock(lock), 0);
            sum += my_sum;
            count += my_count;
            my_sum = my_count = 0;
            CHECK_EQ(lthread_mutex_unlock(lock), 0);
        }
    }
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(lthread_mutex_lock(lock), 0);
    sum += my_sum;
    count += my_count;
    CHECK_EQ(lthread_mutex_unlock(lock), 0);
}

static void *sched_main(void *arg)
{
    lthread_t *lt;
    int role = (int)(intptr_t)arg;

    if (role < 2) { /* producers 0 and 1 */
        CHECK_EQ(lthread_create(&lt, producer, arg), 0);
    } else {
        for (int i = 0; i < NCONS / 2; i++)
            CHECK_EQ(lthread_create(&lt, consumer, NULL), 0);
    }
    CHECK_EQ(lthread_run(), 0);
    if (role >= 2)
        __atomic_add_fetch(&consumers_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_many_to_many(void)
{
    pthread_t t[4];
    uint64_t want = 0;

    CHECK_EQ(lthread_chan_create(&work, sizeof(uint64_t), 64), 0);
    CHECK_EQ(lthread_mutex_create(&lock), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, sched_main, (void *)(intptr_t)i),
                 0);
    produce(2); /* this plain pthread is producer 2: it blocks */
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    CHECK_EQ(pthread_join(t[1], NULL), 0);
    CHECK_EQ(lthread_chan_close(work), 0);
    CHECK_EQ(pthread_join(t[2], NULL), 0);
    CHECK_EQ(pthread_join(t[3], NULL), 0);
    for (int w = 0; w < NPROD; w++)
        for (int i = 0; i < PER_PRODUCER; i++)
            want += (uint64_t)w * 1000000u + (uint64_t)i + 1;
    CHECK_EQ(count, NPROD * PER_PRODUCER);
    CHECK(sum == want);
    CHECK_EQ(lthread_chan_destroy(work), 0);
    CHECK_EQ(lthread_mutex_destroy(lock), 0);
}

/* ---- one scheduler: rendezvous, timeouts, close, select, mutex errors -- */

static lthread_chan_t *a, *b;

static void pinger(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(lthread_chan_send(a, &i, 0), 0);
        CHECK_EQ(lthread_chan_recv(b, &v, 0), 0);
        CHECK_EQ(v, i + 1);
    }
    CHECK_EQ(lthread_chan_close(a), 0);
}

static void ponger(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    while (lthread_chan_recv(a, &v, 0) == 0) {
        v++;
        CHECK_EQ(lthread_chan_send(b, &v, 0), 0);
    }
    CHECK_EQ(errno, EPIPE);
}

static void basics(lthread_t *lt, void *arg)
{
    lthread_chan_t *c, *d;
    lthread_mutex_t *m;
    struct lthread_chan_op ops[2];
    int v = 7, w = 0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_create(&c, sizeof(int), 1), 0);
    CHECK_EQ(lthread_chan_create(&d, sizeof(int), 0), 0);
    /* Timeouts: nothing to receive, no receiver for a rendezvous. */
    CHECK_EQ(lthread_chan_recv(c, &w, 10), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_EQ(lthread_chan_send(d, &v, 10), -2);
    /* Select picks the ready one: c has room. */
    ops[0] = (struct lthread_chan_op){d, LTHREAD_CHAN_SEND, &v, -1};
    ops[1] = (struct lthread_chan_op){c, LTHREAD_CHAN_SEND, &v, -1};
    CHECK_EQ(lthread_chan_select(ops, 2, 0), 1);
    CHECK_EQ(ops[1].err, 0);
    ops[0] = (struct lthread_chan_op){d, LTHREAD_CHAN_RECV, &w, -1};
    ops[1] = (struct lthread_chan_op){c, LTHREAD_CHAN_RECV, &w, -1};
    CHECK_EQ(lthread_chan_select(ops, 2, 0), 1);
    CHECK_EQ(w, 7);
    CHECK_EQ(lthread_chan_select(ops, 2, 10), -2);
    /* Close: values sent before are received, then EPIPE. */
    CHECK_EQ(lthread_chan_send(c, &v, 0), 0);
    CHECK_EQ(lthread_chan_close(c), 0);
    CHECK_EQ(lthread_chan_close(c), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(lthread_chan_send(c, &v, 0), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK_EQ(lthread_chan_recv(c, &w, 0), 0);
    CHECK_EQ(lthread_chan_recv(c, &w, 0), -1);
    CHECK_EQ(errno, EPIPE);
    ops[1].ch = c;
    CHECK_EQ(lthread_chan_select(ops, 2, 0), 1);
    CHECK_EQ(ops[1].err, EPIPE);
    CHECK_EQ(lthread_chan_destroy(c), 0);
    CHECK_EQ(lthread_chan_destroy(d), 0);
    /* Mutex errors. */
    CHECK_EQ(lthread_mutex_create(&m), 0);
    CHECK_EQ(lthread_mutex_unlock(m), -1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_mutex_lock(m), 0);
    CHECK_EQ(lthread_mutex_lock(m), -1);
    CHECK_EQ(errno, EDEADLK);
    CHECK_EQ(lthread_mutex_trylock(m), -1);
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_mutex_destroy(m), -1);
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_mutex_unlock(m), 0);
    CHECK_EQ(lthread_mutex_destroy(m), 0);
}

static void test_one_scheduler(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_chan_create(&a, sizeof(int), 0), 0);
    CHECK_EQ(lthread_chan_create(&b, sizeof(int), 0), 0);
    CHECK_EQ(lthread_create(&lt, pinger, NULL), 0);
    CHECK_EQ(lthread_create(&lt, ponger, NULL), 0);
    CHECK_EQ(lthread_create(&lt, basics, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_chan_destroy(a), 0);
    CHECK_EQ(lthread_chan_destroy(b), 0);
}

int main(void)
{
    test_one_scheduler();
    test_many_to_many();
    return check_summary("test_sync");
}
