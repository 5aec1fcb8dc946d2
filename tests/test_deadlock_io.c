/* lthread_run() must not call EDEADLK what can still end from outside the
 * scheduler: an lthread parked without timeout on an fd that another
 * pthread writes to later (in a read, in lthread_poll), with a joiner and
 * a cond waiter that depend on it, or an lthread in a compute section with
 * a joiner waiting forever. Each run has no timer and nothing ready while
 * it waits: only the fd or the compute section can wake anyone. */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int fds[2];
static lthread_cond_t *cond;
static lthread_t *reader_lt, *computer_lt;
static int use_poll, got, joined, signalled, computed;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/* Another pthread: writes one byte to the pipe after a while. */
static void *late_writer(void *arg)
{
    (void)arg;
    sleep_ms(30);
    CHECK_EQ(write(fds[1], "x", 1), 1);
    return NULL;
}

static void reader(lthread_t *lt, void *arg)
{
    char c;

    (void)lt;
    (void)arg;
    if (use_poll) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};

        CHECK_EQ(lthread_poll(&p, 1, -1), 1);
    }
    got = (int)lthread_read(fds[0], &c, 1, 0);
    CHECK_EQ(lthread_cond_signal(cond), 0);
}

static void joiner(lthread_t *lt, void *arg)
{
    lthread_t *target = arg;

    (void)lt;
    CHECK_EQ(lthread_join(target, NULL, 0), 0);
    joined++;
}

static void cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_cond_wait(cond, 0), 0);
    signalled++;
}

static void computer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_compute_begin(), 0);
    sleep_ms(30);
    CHECK_EQ(lthread_compute_end(), 0);
    computed++;
}

int main(void)
{
    pthread_t writer;
    lthread_t *lt;

    CHECK_EQ(lthread_cond_create(&cond), 0);
    for (use_poll = 0; use_poll < 2; use_poll++) {
        got = joined = signalled = 0;
        CHECK_EQ(pipe(fds), 0);
        CHECK_EQ(lthread_create(&lt, cond_waiter, NULL), 0);
        CHECK_EQ(lthread_create(&reader_lt, reader, NULL), 0);
        CHECK_EQ(lthread_create(&lt, joiner, reader_lt), 0);
        CHECK_EQ(pthread_create(&writer, NULL, late_writer, NULL), 0);
        CHECK_EQ(lthread_run(), 0);
        CHECK_EQ(pthread_join(writer, NULL), 0);
        CHECK_EQ(got, 1);
        CHECK_EQ(joined, 1);
        CHECK_EQ(signalled, 1);
        close(fds[0]);
        close(fds[1]);
    }

    computed = joined = 0;
    CHECK_EQ(lthread_create(&computer_lt, computer, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joiner, computer_lt), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(computed, 1);
    CHECK_EQ(joined, 1);

    CHECK_EQ(lthread_cond_destroy(cond), 0);
    return check_summary("test_deadlock_io");
}
