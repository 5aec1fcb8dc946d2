/*
 * Deadlines hold while signals keep arriving: SIGALRM every 5 ms during
 * sleeps, timed cond waits, joins, socket timeouts and compute sections,
 * with and without SA_RESTART. A poller that restarted its wait with the
 * full timeout after each signal would never return here.
 */
#include <lthread.h>

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

/* The handler runs on whichever pthread the signal lands on (compute
 * pthreads too): an atomic counter. */
static long nsignals;

static void on_alarm(int sig)
{
    (void)sig;
    __atomic_add_fetch(&nsignals, 1, __ATOMIC_RELAXED);
}

static void start_alarms(int sa_flags)
{
    struct sigaction sa;
    struct itimerval it = {{0, 5000}, {0, 5000}};

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = sa_flags;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void stop_alarms(void)
{
    struct itimerval it = {{0, 0}, {0, 0}};

    setitimer(ITIMER_REAL, &it, NULL);
    signal(SIGALRM, SIG_IGN);
}

/* Checks that a wait of `ms` took at least that and not without bound:
 * the upper limit is generous (a loaded machine stalls), but a wait that
 * restarts on every signal never ends at all. */
#define CHECK_TOOK(t0, ms)                                                     \
    do {                                                                       \
        double took_ = check_now_ms() - (t0);                                  \
        CHECK(took_ >= (ms)-1);                                                \
        CHECK(took_ < (ms) + 2000.0 * check_slow());                           \
    } while (0)

static int finished;

static void sleeper(lthread_t *lt, void *arg)
{
    double t0 = check_now_ms();

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_sleep(100), 0);
    CHECK_TOOK(t0, 100);
    finished++;
}

static void cond_waiter(lthread_t *lt, void *arg)
{
    lthread_cond_t *c;
    double t0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_cond_create(&c), 0);
    t0 = check_now_ms();
    CHECK_EQ(lthread_cond_wait(c, 100), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_TOOK(t0, 100);
    lthread_cond_destroy(c);
    finished++;
}

static void long_sleeper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(400);
}

static void joiner(lthread_t *lt, void *arg)
{
    lthread_t *child;
    double t0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&child, long_sleeper, NULL), 0);
    t0 = check_now_ms();
    CHECK_EQ(lthread_join(child, NULL, 100), -2);
    CHECK_TOOK(t0, 100);
    CHECK_EQ(lthread_join(child, NULL, 0), 0);
    finished++;
}

static void receiver(lthread_t *lt, void *arg)
{
    int sv[2];
    char c;
    double t0;

    (void)lt;
    (void)arg;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t0 = check_now_ms();
    CHECK_EQ(lthread_recv(sv[0], &c, 1, 0, 100), -2);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_TOOK(t0, 100);
    t0 = check_now_ms();
    CHECK_EQ(lthread_wait_read(sv[0], 100), -2);
    CHECK_TOOK(t0, 100);
    close(sv[0]);
    close(sv[1]);
    finished++;
}

static void computer(lthread_t *lt, void *arg)
{
    double t0 = check_now_ms();

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_compute_begin(), 0);
    /* Blocking work that a signal interrupts: it resumes by itself. */
    while (check_now_ms() - t0 < 100) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ(lthread_compute_end(), 0);
    CHECK_TOOK(t0, 100);
    CHECK_EQ(lthread_sleep(50), 0);
    finished++;
}

static void round_of_waits(int sa_flags)
{
    lthread_t *lt;
    long before = __atomic_load_n(&nsignals, __ATOMIC_RELAXED);

    finished = 0;
    start_alarms(sa_flags);
    CHECK_EQ(lthread_create(&lt, sleeper, NULL), 0);
    CHECK_EQ(lthread_create(&lt, cond_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joiner, NULL), 0);
    CHECK_EQ(lthread_create(&lt, receiver, NULL), 0);
    CHECK_EQ(lthread_create(&lt, computer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    stop_alarms();
    CHECK_EQ(finished, 5);
    /* The signals really came while the waits ran. */
    CHECK(__atomic_load_n(&nsignals, __ATOMIC_RELAXED) - before >= 10);
}

int main(void)
{
    round_of_waits(SA_RESTART);
    round_of_waits(0);
    return check_summary("test_signals");
}
