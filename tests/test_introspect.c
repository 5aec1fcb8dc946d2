/*
 * Introspection: lthread_walk() finds every lthread of the scheduler,
 * once, with its state and what it waits for (ready, running, sleeping
 * with its timeout, cond, join of an id, fd read and write, poll, compute,
 * mutex, channel, disk, zombie); lthread_stats() counts them; lthread_summary()
 * prints them; LTHREAD_DUMP_SIGNAL prints every scheduler's summary on a
 * signal; LTHREAD_WATCHDOG_MS reports an lthread that runs too long
 * without switching.
 */
#include <lthread.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "segments.h"

enum {
    K_READY,
    K_SLEEP,
    K_COND,
    K_JOIN,
    K_FD_READ,
    K_FD_WRITE,
    K_POLL,
    K_COMPUTE,
    K_MUTEX,
    K_CHAN,
    K_DISK,
    K_ZOMBIE,
    NKINDS
};

static lthread_t *lts[NKINDS];
static uint64_t ids[NKINDS];
static lthread_cond_t *cond;
static lthread_mutex_t *mutex;
static lthread_chan_t *chan;
static int rd[2], wr[2]; /* a pipe to read from, a full socket to write */
static int dp[2];        /* a blocking pipe read through the disk calls */
static int computing, release_compute; /* __atomic */

#define ME(k) (ids[k] = lthread_id())

static void sleeper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    ME(K_SLEEP);
    lthread_set_funcname("sleeper");
    lthread_sleep(60000);
}

static void cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    ME(K_COND);
    lthread_cond_wait(cond, 0);
}

static void joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    ME(K_JOIN);
    lthread_join(arg, NULL, 0);
}

static void reader(lthread_t *lt, void *arg)
{
    char c;

    (void)lt;
    (void)arg;
    ME(K_FD_READ);
    lthread_read(rd[0], &c, 1, 0);
}

static void writer(lthread_t *lt, void *arg)
{
    static char big[1 << 20];

    (void)lt;
    (void)arg;
    ME(K_FD_WRITE);
    lthread_send(wr[0], big, sizeof(big), 0);
}

static void poller(lthread_t *lt, void *arg)
{
    struct pollfd pf = {.events = POLLIN};

    (void)lt;
    (void)arg;
    ME(K_POLL);
    pf.fd = rd[0];
    lthread_poll(&pf, 1, -1);
}

static void computer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    ME(K_COMPUTE);
    lthread_compute_begin();
    __atomic_store_n(&computing, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&release_compute, __ATOMIC_SEQ_CST))
        usleep(1000);
    lthread_compute_end();
}

static void mutex_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    ME(K_MUTEX);
    if (lthread_mutex_lock(mutex) == 0)
        lthread_mutex_unlock(mutex);
}

static void chan_waiter(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    ME(K_CHAN);
    lthread_chan_recv(chan, &v, 0);
}

static void disk_reader(lthread_t *lt, void *arg)
{
    char c;

    (void)lt;
    (void)arg;
    ME(K_DISK);
    CHECK_EQ(lthread_io_read(dp[0], &c, 1), 1);
}

static void quick(lthread_t *lt, void *arg)
{
    (void)lt;
    if (arg)
        ME(K_ZOMBIE);
}

struct seen {
    int count[NKINDS];
    int others, running;
    int ok[NKINDS];
};

static int on_info(const struct lthread_info *i, void *arg)
{
    struct seen *s = arg;
    int k;

    for (k = 0; k < NKINDS; k++)
        if (ids[k] == i->id)
            break;
    if (k == NKINDS && !strcmp(i->state, "ready"))
        k = K_READY; /* the one that never ran: its id is unknown */
    if (k == NKINDS) {
        if (!strcmp(i->state, "running"))
            s->running++;
        else
            s->others++;
        return 0;
    }
    s->count[k]++;
    switch (k) {
    case K_READY:
        s->ok[k] = !strcmp(i->state, "ready");
        break;
    case K_SLEEP:
        s->ok[k] = !strcmp(i->wait, "sleep") && i->timeout_ms > 50000 &&
                   i->name && !strcmp(i->name, "sleeper") && i->stack_bytes;
        break;
    case K_COND:
        s->ok[k] = !strcmp(i->wait, "cond") && i->timeout_ms == -1;
        break;
    case K_JOIN:
        s->ok[k] = !strcmp(i->wait, "join") && i->join_id == ids[K_SLEEP];
        break;
    case K_FD_READ:
        s->ok[k] = !strcmp(i->wait, "fd") && i->fd == rd[0] && !i->fd_write;
        break;
    case K_FD_WRITE:
        s->ok[k] = !strcmp(i->wait, "fd") && i->fd == wr[0] && i->fd_write;
        break;
    case K_POLL:
        s->ok[k] = !strcmp(i->wait, "poll");
        break;
    case K_COMPUTE:
        s->ok[k] = !strcmp(i->state, "computing");
        break;
    case K_MUTEX:
    case K_CHAN:
        s->ok[k] = !strcmp(i->wait, "sync");
        break;
    case K_DISK:
        s->ok[k] = !strcmp(i->wait, "disk") && i->fd == dp[0];
        break;
    case K_ZOMBIE:
        s->ok[k] = !strcmp(i->state, "exited");
        break;
    }
    return 0;
}

static int stop_early(const struct lthread_info *i, void *arg)
{
    (void)i;
    return ++*(int *)arg == 3 ? 42 : 0;
}

static void inspector(lthread_t *lt, void *arg)
{
    struct lthread_stats st;
    struct seen seen;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    int n = 0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_mutex_lock(mutex), 0); /* the mutex waiter waits */
    while (!__atomic_load_n(&computing, __ATOMIC_SEQ_CST))
        lthread_sleep(1);
    lthread_sleep(10); /* everyone has parked */
    CHECK_EQ(lthread_create(&lts[K_READY], quick, NULL), 0);
    memset(&seen, 0, sizeof(seen));
    CHECK_EQ(lthread_walk(on_info, &seen), 0);
    for (int k = 0; k < NKINDS; k++) {
        if (seen.count[k] != 1 || !seen.ok[k])
            fprintf(stderr, "kind %d: seen %d times, ok %d\n", k, seen.count[k],
                    seen.ok[k]);
        CHECK_EQ(seen.count[k], 1);
        CHECK(seen.ok[k]);
    }
    CHECK_EQ(seen.running, 1); /* the inspector itself */
    CHECK_EQ(seen.others, 0);
    CHECK_EQ(lthread_walk(stop_early, &n), 42);
    CHECK_EQ(lthread_walk(NULL, NULL), -1);
    CHECK_EQ(lthread_stats(&st), 0);
    CHECK_EQ(st.running, 1);
    CHECK_EQ(st.ready, 1);
    CHECK_EQ(st.computing, 1);
    CHECK_EQ(st.exited, 1);
    CHECK_EQ(st.waiting, NKINDS - 3);
    CHECK(st.switches >= NKINDS);
    CHECK(st.compute_sections >= 1);
    f = open_memstream(&text, &len);
    CHECK_EQ(lthread_summary(f), 0);
    fclose(f);
    CHECK(text && strstr(text, "sleeper") && strstr(text, "computing") &&
          strstr(text, "join ") && strstr(text, "fd "));
    free(text);
    /* Let everyone go. */
    __atomic_store_n(&release_compute, 1, __ATOMIC_SEQ_CST);
    lthread_cond_signal(cond);
    lthread_wakeup(lts[K_SLEEP]);
    CHECK_EQ(write(rd[1], "xx", 2), 2);
    CHECK_EQ(write(dp[1], "x", 1), 1);
    lthread_close(wr[1]);
    lthread_mutex_unlock(mutex);
    lthread_chan_close(chan);
    lthread_join(lts[K_ZOMBIE], NULL, 0);
}

static void test_walk(void)
{
    lthread_t *insp;
    int sv[2];

    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_mutex_create(&mutex), 0);
    CHECK_EQ(lthread_chan_create(&chan, sizeof(int), 0), 0);
    CHECK_EQ(lthread_pipe(rd), 0);
    CHECK_EQ(pipe(dp), 0);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    wr[0] = sv[0];
    wr[1] = sv[1];
    CHECK_EQ(lthread_create(&insp, inspector, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_SLEEP], sleeper, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_COND], cond_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_JOIN], joiner, lts[K_SLEEP]), 0);
    CHECK_EQ(lthread_create(&lts[K_FD_READ], reader, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_FD_WRITE], writer, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_POLL], poller, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_COMPUTE], computer, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_MUTEX], mutex_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_CHAN], chan_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_DISK], disk_reader, NULL), 0);
    CHECK_EQ(lthread_create(&lts[K_ZOMBIE], quick, (void *)1), 0);
    CHECK_EQ(lthread_run(), 0);
    close(rd[0]);
    close(rd[1]);
    close(dp[0]);
    close(dp[1]);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_mutex_destroy(mutex), 0);
    CHECK_EQ(lthread_chan_destroy(chan), 0);
}

/*
 * lthread_stats().switches counts every switch into an lthread, exactly:
 * each run segment of an lthread begins with one, so at the start of
 * each, the count is the number of segments so far. Two lthreads yield
 * to each other across several rounds of the scheduler (a round grants
 * the ready lthreads plus 64 runs: its trips to the loop must not count),
 * and a third sleeps (a timer, a poll). Checked at every segment start.
 */
#define SW_YIELDS 300
static struct segments sw_segs; /* tests/segments.h */

static void sw_yielder(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    segment_note(&sw_segs);
    for (int i = 0; i < SW_YIELDS; i++) {
        lthread_sleep(0);
        segment_note(&sw_segs);
    }
}

static void sw_sleeper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    segment_note(&sw_segs);
    for (int i = 0; i < 3; i++) {
        lthread_sleep(1);
        segment_note(&sw_segs);
    }
}

static void test_switch_count(void)
{
    lthread_t *lt;

    sw_segs = (struct segments){0, 0};
    CHECK_EQ(lthread_create(&lt, sw_yielder, NULL), 0);
    CHECK_EQ(lthread_create(&lt, sw_yielder, NULL), 0);
    CHECK_EQ(lthread_create(&lt, sw_sleeper, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(sw_segs.bad, 0);
    CHECK_EQ(sw_segs.n, 2 * (SW_YIELDS + 1) + 4);
}

int main(void)
{
    CHECK_EQ(lthread_walk(on_info, NULL), -1); /* no scheduler yet */
    CHECK_EQ(errno, EPERM);
    test_walk();
    test_switch_count();
    return check_summary("test_introspect");
}
