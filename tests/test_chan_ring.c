/*
 * Channels with a ring, between pthreads: the sends and receives that go
 * through the ring without the lock (src/sync/chan.c) against each other,
 * against waits, and against a close.
 *
 *   mpmc        producers and consumers on two schedulers and plain
 *               pthreads (plain receives, timed receives that time out and
 *               go on, a select), for a value of a word (the inline path),
 *               of 4 and of 24 bytes, and capacities 1, 2, 3 (not a power
 *               of two) and 64: every value arrives once, whole, and each
 *               producer's in the order it sent them
 *   wake races  (polling off, in a child process) a receive that waits on
 *               an empty ring while a send of another pthread puts a value
 *               in, and a send that waits on a full ring while a receive
 *               of another pthread takes one out, at every moment of each
 *               other: the waiter is always woken (a lost wake-up shows as
 *               a timeout)
 *   close race  sends racing a close: every send that returned 0 is
 *               received, every one after fails with EPIPE
 */
#include <lthread.h>

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sync_util.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef ON_VALGRIND
#define ON_VALGRIND() 0
#endif

/* Values per producer and rounds of each wake race: fewer under TSan,
 * valgrind and emulators (LTHREAD_TEST_SLOW above 1), whose threads run
 * one at a time or many times slower (set in main). */
enum { MAX_PER_PRODUCER = 20000, LIGHT = 1500 };
static long per_producer = MAX_PER_PRODUCER, rounds = MAX_PER_PRODUCER;

/* A long wait that only a lost wake-up runs out (ms). */
#define LOST_MS (10000.0 * check_slow())

/* ---- values -----------------------------------------------------------------
 * A value names its producer and sequence number in its first 4 or 8 bytes;
 * the rest repeats a pattern of both, so that a value copied in part (or
 * from a slot being written) is seen.
 */

enum { NPROD = 4, MAXSIZE = 24 };

static size_t esize;

static void encode(unsigned char *v, uint32_t p, uint32_t seq)
{
    if (esize == 4) {
        uint32_t x = p << 24 | seq;

        memcpy(v, &x, 4);
        return;
    }
    memcpy(v, &p, 4);
    memcpy(v + 4, &seq, 4);
    for (size_t i = 8; i < esize; i++)
        v[i] = (unsigned char)(p * 31 + seq * 7 + i);
}

/* Decodes v; false when it is not a value encode() makes. */
static bool decode(const unsigned char *v, uint32_t *p, uint32_t *seq)
{
    if (esize == 4) {
        uint32_t x;

        memcpy(&x, v, 4);
        *p = x >> 24;
        *seq = x & 0xffffff;
        return *p < NPROD;
    }
    memcpy(p, v, 4);
    memcpy(seq, v + 4, 4);
    if (*p >= NPROD)
        return false;
    for (size_t i = 8; i < esize; i++)
        if (v[i] != (unsigned char)(*p * 31 + *seq * 7 + i))
            return false;
    return true;
}

/* ---- mpmc -------------------------------------------------------------------
 */

enum { NCONS = 4 };

static lthread_chan_t *ch, *idle; /* idle: a select's other channel */
static unsigned char seen[NPROD][MAX_PER_PRODUCER];
static int bad, out_of_order, producers_left, consumers_done, consumer_errors;

static void produce(uint32_t me)
{
    unsigned char v[MAXSIZE];

    for (uint32_t seq = 0; seq < per_producer; seq++) {
        encode(v, me, seq);
        if (lthread_chan_send(ch, v, 0) != 0) {
            add(&bad, 1);
            break;
        }
    }
    if (add(&producers_left, -1) == 0)
        CHECK_EQ(lthread_chan_close(ch), 0);
}

/* One received value: counted, and its producer's order checked against
 * the last this consumer had from it. */
static void account(const unsigned char *v, int64_t last[NPROD])
{
    uint32_t p, seq;

    if (!decode(v, &p, &seq) || seq >= per_producer) {
        add(&bad, 1);
        return;
    }
    __atomic_add_fetch(&seen[p][seq], 1, __ATOMIC_RELAXED);
    if ((int64_t)seq <= last[p])
        add(&out_of_order, 1);
    last[p] = seq;
}

/* How a consumer receives. */
enum { PLAIN, TIMED, SELECT };

static void consume(int how)
{
    unsigned char v[MAXSIZE], w[MAXSIZE];
    int64_t last[NPROD];
    int r;

    for (int i = 0; i < NPROD; i++)
        last[i] = -1;
    for (;;) {
        if (how == SELECT) {
            struct lthread_chan_op ops[2] = {
                {idle, LTHREAD_CHAN_RECV, w, 0},
                {ch, LTHREAD_CHAN_RECV, v, 0},
            };

            r = lthread_chan_select(ops, 2, 0);
            if (r != 1) {
                add(&consumer_errors, 1);
                break;
            }
            if (ops[1].err == EPIPE)
                break;
            account(v, last);
            continue;
        }
        /* A timed receive times out now and then, and goes on. */
        r = lthread_chan_recv(ch, v, how == TIMED ? 1 : 0);
        if (r == 0) {
            account(v, last);
            continue;
        }
        if (how == TIMED && r == -2 && errno == ETIMEDOUT)
            continue;
        if (r != -1 || errno != EPIPE)
            add(&consumer_errors, 1);
        break;
    }
    add(&consumers_done, 1);
}

static void lt_producer(lthread_t *lt, void *arg)
{
    (void)lt;
    produce((uint32_t)(uintptr_t)arg);
}

static void lt_consumer(lthread_t *lt, void *arg)
{
    (void)lt;
    consume((int)(intptr_t)arg);
}

/* Scheduler A: producers 0 and 1, a plain consumer. Scheduler B: producer
 * 2, a timed consumer, a select. */
static void sched_a(lthread_t *lt, void *arg)
{
    lthread_t *x;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&x, lt_producer, (void *)0), 0);
    CHECK_EQ(lthread_create(&x, lt_producer, (void *)1), 0);
    CHECK_EQ(lthread_create(&x, lt_consumer, (void *)PLAIN), 0);
}

static void sched_b(lthread_t *lt, void *arg)
{
    lthread_t *x;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&x, lt_producer, (void *)2), 0);
    CHECK_EQ(lthread_create(&x, lt_consumer, (void *)TIMED), 0);
    CHECK_EQ(lthread_create(&x, lt_consumer, (void *)SELECT), 0);
}

static void *pthread_producer(void *arg)
{
    (void)arg;
    produce(3);
    return NULL;
}

static void mpmc(size_t size, size_t cap)
{
    pthread_t a, b, p;
    long missing = 0, twice = 0;

    esize = size;
    memset(seen, 0, sizeof(seen));
    bad = out_of_order = consumer_errors = consumers_done = 0;
    producers_left = NPROD;
    CHECK_EQ(lthread_chan_create(&ch, size, cap), 0);
    CHECK_EQ(lthread_chan_create(&idle, size, 0), 0);
    a = start_sched(sched_a, NULL);
    b = start_sched(sched_b, NULL);
    CHECK_EQ(pthread_create(&p, NULL, pthread_producer, NULL), 0);
    consume(PLAIN); /* main(), a plain pthread */
    CHECK_EQ(pthread_join(p, NULL), 0);
    CHECK_EQ(pthread_join(a, NULL), 0);
    CHECK_EQ(pthread_join(b, NULL), 0);
    for (int i = 0; i < NPROD; i++)
        for (int j = 0; j < per_producer; j++) {
            missing += seen[i][j] == 0;
            twice += seen[i][j] > 1;
        }
    printf("mpmc, %zu-byte values, capacity %zu: %d x %ld values, %ld missing, "
           "%ld twice, %d bad, %d out of order\n",
           size, cap, NPROD, per_producer, missing, twice, bad, out_of_order);
    CHECK_EQ(missing, 0);
    CHECK_EQ(twice, 0);
    CHECK_EQ(bad, 0);
    CHECK_EQ(out_of_order, 0);
    CHECK_EQ(consumer_errors, 0);
    CHECK_EQ(consumers_done, NCONS);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
    CHECK_EQ(lthread_chan_destroy(idle), 0);
}

static void test_mpmc(void)
{
    static const size_t sizes[] = {sizeof(void *), 4, 24};
    static const size_t caps[] = {1, 2, 3, 64};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (size_t j = 0; j < sizeof(caps) / sizeof(caps[0]); j++)
            mpmc(sizes[i], caps[j]);
}

/* ---- wake races -------------------------------------------------------------
 */

/* One value at a time: the waiting side tells how far it got (`at`), the
 * other waits for that, spins a pseudo-random while (so that its op lands
 * anywhere in the waiter's way to its park), and does its op. */

static int at, lost, wrong;

static void spin_a_while(uint32_t *rnd)
{
    *rnd = *rnd * 1103515245u + 12345u;
    for (uint32_t n = (*rnd >> 16) % 3000; n > 0; n--)
        __asm__ volatile("" ::: "memory");
}

/* Waits (an lthread, or a plain pthread: lt false) until at >= n. */
static void await_at(int n, bool lt)
{
    double end = check_now_ms() + 30000.0 * check_slow();

    while (get(&at) < n && check_now_ms() < end) {
        if (lt)
            lthread_sleep(0);
        else
            sched_yield();
    }
    CHECK(get(&at) >= n);
}

/* The receiving side of the receive race: each value waited for. */
static void race_receiver(bool lt)
{
    long v;

    (void)lt;
    for (long r = 0; r < rounds; r++) {
        set(&at, (int)r + 1); /* ready for value r */
        if (lthread_chan_recv(ch, &v, (uint64_t)LOST_MS) != 0) {
            add(&lost, 1);
            return;
        }
        if (v != r)
            add(&wrong, 1);
    }
}

static void race_sender(bool lt)
{
    uint32_t rnd = 1;

    for (long r = 0; r < rounds; r++) {
        await_at((int)r + 1, lt);
        spin_a_while(&rnd);
        CHECK_EQ(lthread_chan_send(ch, &r, 0), 0);
    }
}

/* The send race: the ring (capacity 1) is kept full; each send waits for
 * the receive of the value before it. */
static void full_sender(bool lt)
{
    (void)lt;
    for (long r = 0; r < rounds + 1; r++) {
        set(&at, (int)r); /* value r - 1 is in the ring; r comes */
        if (lthread_chan_send(ch, &r, (uint64_t)LOST_MS) != 0) {
            add(&lost, 1);
            return;
        }
    }
    set(&at, rounds + 2); /* the last value is in: take it */
}

static void full_receiver(bool lt)
{
    uint32_t rnd = 7;
    long v;

    for (long r = 0; r < rounds + 1; r++) {
        await_at((int)r + 1, lt);
        spin_a_while(&rnd);
        if (lthread_chan_recv(ch, &v, (uint64_t)LOST_MS) != 0) {
            add(&lost, 1);
            return;
        }
        if (v != r)
            add(&wrong, 1);
    }
}

static void (*race_fn[2])(bool lt);

static void lt_race(lthread_t *lt, void *arg)
{
    (void)lt;
    race_fn[(intptr_t)arg](true);
}

/* One race: side 0 (the waiter) and side 1 on schedulers of their own, or
 * side 1 on main(), a plain pthread. */
static void race(const char *what, void (*waiter)(bool), void (*other)(bool),
                 bool plain_other)
{
    pthread_t w, o;

    race_fn[0] = waiter;
    race_fn[1] = other;
    at = lost = wrong = 0;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(long), 1), 0);
    w = start_sched(lt_race, (void *)0);
    if (plain_other) {
        other(false);
    } else {
        o = start_sched(lt_race, (void *)1);
        CHECK_EQ(pthread_join(o, NULL), 0);
    }
    CHECK_EQ(pthread_join(w, NULL), 0);
    printf("%s: %ld rounds, %d lost, %d wrong\n", what, rounds, lost, wrong);
    CHECK_EQ(lost, 0);
    CHECK_EQ(wrong, 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* A plain pthread waiting, an lthread of a scheduler on the other side. */
static void *plain_waiter(void *arg)
{
    ((void (*)(bool))arg)(false);
    return NULL;
}

static void race_plain_waiter(const char *what, void (*waiter)(bool),
                              void (*other)(bool))
{
    pthread_t w, o;

    race_fn[1] = other;
    at = lost = wrong = 0;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(long), 1), 0);
    CHECK_EQ(pthread_create(&w, NULL, plain_waiter, (void *)waiter), 0);
    o = start_sched(lt_race, (void *)1);
    CHECK_EQ(pthread_join(o, NULL), 0);
    CHECK_EQ(pthread_join(w, NULL), 0);
    printf("%s: %ld rounds, %d lost, %d wrong\n", what, rounds, lost, wrong);
    CHECK_EQ(lost, 0);
    CHECK_EQ(wrong, 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

static void wake_races(void)
{
    race("receive waits, a scheduler sends", race_receiver, race_sender, false);
    race("receive waits, a plain pthread sends", race_receiver, race_sender,
         true);
    race_plain_waiter("a plain pthread's receive waits, a scheduler sends",
                      race_receiver, race_sender);
    race("send waits, a scheduler receives", full_sender, full_receiver, false);
    race("send waits, a plain pthread receives", full_sender, full_receiver,
         true);
    race_plain_waiter("a plain pthread's send waits, a scheduler receives",
                      full_sender, full_receiver);
}

/* Polling is read once per process: the races run in a child with it off,
 * so that the waits park (a poller is not woken: it looks). */
static void test_wake_races(void)
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("LTHREAD_CHAN_SPIN_US", "0", 1);
        wake_races();
        fflush(stdout);
        _exit(check_failed ? 1 : 0);
    }
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- close race -------------------------------------------------------------
 */

enum { CLOSE_PRODUCERS = 3 };

static uint32_t sent_ok[CLOSE_PRODUCERS]; /* sends that returned 0 */
static int late_errors;

static void close_produce(uint32_t me)
{
    uint32_t seq;

    for (seq = 0;; seq++) {
        long v = (long)me << 32 | seq;

        if (lthread_chan_send(ch, &v, 0) != 0) {
            if (errno != EPIPE)
                add(&late_errors, 1);
            break;
        }
    }
    __atomic_store_n(&sent_ok[me], seq, __ATOMIC_SEQ_CST);
    /* and every send after fails too */
    if (lthread_chan_send(ch, &(long){0}, 0) != -1 || errno != EPIPE)
        add(&late_errors, 1);
}

static void lt_close_producer(lthread_t *lt, void *arg)
{
    (void)lt;
    close_produce((uint32_t)(uintptr_t)arg);
}

static void close_sched(lthread_t *lt, void *arg)
{
    lthread_t *x;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&x, lt_close_producer, (void *)0), 0);
    CHECK_EQ(lthread_create(&x, lt_close_producer, (void *)1), 0);
}

static void *close_pthread(void *arg)
{
    (void)arg;
    close_produce(2);
    return NULL;
}

static uint32_t got_count[CLOSE_PRODUCERS], got_next[CLOSE_PRODUCERS];
static int close_bad;

static void close_consumer(lthread_t *lt, void *arg)
{
    long v;

    (void)lt;
    (void)arg;
    while (lthread_chan_recv(ch, &v, 0) == 0) {
        uint32_t p = (uint32_t)(v >> 32), seq = (uint32_t)v;

        if (p >= CLOSE_PRODUCERS || seq != got_next[p]) {
            close_bad++;
            continue;
        }
        got_next[p]++;
        got_count[p]++;
    }
    if (errno != EPIPE)
        close_bad++;
}

static void test_close_race(void)
{
    for (int round = 0; round < 20; round++) {
        pthread_t a, b, p;

        memset(sent_ok, 0, sizeof(sent_ok));
        memset(got_count, 0, sizeof(got_count));
        memset(got_next, 0, sizeof(got_next));
        close_bad = late_errors = 0;
        CHECK_EQ(lthread_chan_create(&ch, sizeof(long), 16), 0);
        b = start_sched(close_consumer, NULL);
        a = start_sched(close_sched, NULL);
        CHECK_EQ(pthread_create(&p, NULL, close_pthread, NULL), 0);
        usleep((useconds_t)(1000 + round * 250));
        CHECK_EQ(lthread_chan_close(ch), 0);
        CHECK_EQ(pthread_join(p, NULL), 0);
        CHECK_EQ(pthread_join(a, NULL), 0);
        CHECK_EQ(pthread_join(b, NULL), 0);
        for (int i = 0; i < CLOSE_PRODUCERS; i++)
            CHECK_EQ(got_count[i], sent_ok[i]);
        CHECK_EQ(close_bad, 0);
        CHECK_EQ(late_errors, 0);
        CHECK_EQ(lthread_chan_destroy(ch), 0);
    }
    printf("close race: 20 rounds, every value sent before the close "
           "received, every send after it EPIPE\n");
}

int main(void)
{
    if (CHECK_TSAN || check_slow() > 1)
        per_producer = rounds = LIGHT;
    /* valgrind runs one thread at a time, so the interleavings the wake
     * races look for do not happen there, and each hand-over between their
     * two sides (a spin that waits for the other) costs a time slice: a
     * race took over 25 minutes. */
    if (ON_VALGRIND())
        printf("wake races: skipped under valgrind (one thread at a time)\n");
    else
        test_wake_races(); /* first: its child must not inherit channels */
    test_mpmc();
    test_close_race();
    return check_summary("test_chan_ring");
}
