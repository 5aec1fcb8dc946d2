/*
 * Compute sections: where an lthread runs between begin and end, what stays
 * valid across them, what the rest of its scheduler sees meanwhile, blocking
 * calls inside, and bad input. Pool knobs are left at their defaults here
 * (test_compute_pool and test_compute_spawn set their own: they are read
 * once per process).
 */
#include <lthread.h>

#include <dirent.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "threads_util.h"

/*
 * Time (check.h). A deadline that only a broken library reaches: a section
 * that waits for the ticker to tick gives up after HOLD_MAX_MS. The median
 * lateness of a tick while others compute is a timing check.
 */
#define HOLD_MAX_MS (10000.0 * check_slow())
#define MEDIAN_LATE_MS (10.0 * check_slow())

/*
 * A compute section moves the calling code to another pthread, but the
 * compiler does not know: pthread_self() and __errno_location() are
 * declared const, so it may reuse their results across
 * lthread_compute_begin() and _end() (at -O2 gcc does, for errno: TSan
 * sees the worker's errno written from the scheduler). So: no CHECK (it
 * reads and restores errno) between begin and end, results are checked
 * after end; and code that must read errno or pthread_self() across a
 * section does so through volatile function pointers.
 */
static pthread_t (*volatile self_fn)(void) = pthread_self;
static int *(*volatile errno_fn)(void) = __errno_location;
#define SELF() (self_fn())
#define ERRNO (*errno_fn())

/* ---- locals across begin/end, at several optimisation levels ----------- */

struct locals_result {
    int *volatile escaped; /* the address of a local, escaped */
    int rc_begin, rc_end;
    pthread_t before, inside, after;
    void *addr_before, *addr_inside, *addr_after;
    int ok_inside, ok_after;
};

#if defined(__clang__)
#define ATTR_O0 __attribute__((optnone, noinline))
#define ATTR_O2 __attribute__((noinline))
#define ATTR_O2_NOFP __attribute__((noinline))
#else
#define ATTR_O0 __attribute__((optimize("O0"), noinline))
#define ATTR_O2 __attribute__((optimize("O2"), noinline))
#define ATTR_O2_NOFP                                                           \
    __attribute__((optimize("O2", "omit-frame-pointer"), noinline))
#endif

/* The same body three times: each keeps a buffer, a scalar, pointers to
 * both, and a VLA (which needs a frame base) across the section, and
 * writes through them on the compute pthread. */
#define DEFINE_LOCALS_FN(name, attr)                                           \
    static attr void name(struct locals_result *r, int n)                      \
    {                                                                          \
        char buf[96];                                                          \
        int x = 42;                                                            \
        int *px = &x;                                                          \
        char *pb = buf + 17;                                                   \
        char vla[n];                                                           \
        int ok = 1;                                                            \
                                                                               \
        memset(buf, 'a', sizeof(buf));                                         \
        memset(vla, 'v', (size_t)n);                                           \
        r->escaped = &x;                                                       \
        r->addr_before = buf;                                                  \
        r->before = SELF();                                                    \
        r->rc_begin = lthread_compute_begin();                                 \
        r->inside = SELF();                                                    \
        r->addr_inside = buf;                                                  \
        ok &= *px == 42 && *pb == 'a' && r->escaped == &x && px == &x;         \
        for (int i = 0; i < n; i++)                                            \
            ok &= vla[i] == 'v';                                               \
        *px = 43;                                                              \
        *pb = 'Z';                                                             \
        vla[n - 1] = 'w';                                                      \
        r->ok_inside = ok;                                                     \
        r->rc_end = lthread_compute_end();                                     \
        r->after = SELF();                                                     \
        r->addr_after = buf;                                                   \
        r->ok_after = x == 43 && buf[17] == 'Z' && *r->escaped == 43 &&        \
                      vla[n - 1] == 'w' && vla[0] == 'v';                      \
    }

DEFINE_LOCALS_FN(locals_O0, ATTR_O0)
DEFINE_LOCALS_FN(locals_O2, ATTR_O2)
DEFINE_LOCALS_FN(locals_O2_nofp, ATTR_O2_NOFP)

typedef void (*locals_fn)(struct locals_result *, int);

/* Calls fn `depth` frames down, so the section starts deep in the stack. */
static __attribute__((noinline)) void
call_deep(locals_fn fn, struct locals_result *r, int depth)
{
    volatile char pad[64];

    pad[0] = (char)depth;
    if (depth > 0)
        call_deep(fn, r, depth - 1);
    else
        fn(r, 33);
    (void)pad[0];
}

static void check_locals(const char *what, const struct locals_result *r)
{
    CHECK_EQ(r->rc_begin, 0);
    CHECK_EQ(r->rc_end, 0);
    CHECK(!pthread_equal(r->before, r->inside));
    CHECK(pthread_equal(r->before, r->after));
    CHECK(r->addr_before == r->addr_inside);
    CHECK(r->addr_before == r->addr_after);
    CHECK(r->ok_inside);
    CHECK(r->ok_after);
    if (!r->ok_inside || !r->ok_after)
        fprintf(stderr, "    (in %s)\n", what);
}

static void locals_lt(lthread_t *lt, void *arg)
{
    struct locals_result r[3];

    (void)lt;
    (void)arg;
    memset(r, 0, sizeof(r));
    call_deep(locals_O0, &r[0], 3);
    check_locals("O0", &r[0]);
    call_deep(locals_O2, &r[1], 5);
    check_locals("O2", &r[1]);
    call_deep(locals_O2_nofp, &r[2], 7);
    check_locals("O2 omit-frame-pointer", &r[2]);
}

/* Each of several schedulers runs a few such lthreads at once: each must
 * come back to its own scheduler's pthread. */
static void *locals_sched(void *arg)
{
    lthread_t *lt;

    (void)arg;
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_create(&lt, locals_lt, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_locals_and_home(void)
{
    pthread_t th[3];

    locals_sched(NULL);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, locals_sched, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
}

/* ---- the pool keeps an idle worker, and reuses it ----------------------- */

static long section_tid;

static void one_section(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    int rc_begin = lthread_compute_begin(); /* no CHECK inside */
    section_tid = gettid_();
    int rc_end = lthread_compute_end();
    CHECK_EQ(rc_begin, 0);
    CHECK_EQ(rc_end, 0);
}

static void run_one_section(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, one_section, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
}

/* With the default idle time (60 s), a worker that finished a section is
 * still there 100 ms later, and the next section runs on it. */
static void test_worker_reuse(void)
{
    long first;
    int n_after;

    if (nthreads() < 0 && platform_skip("worker reuse (thread counts)"))
        return;
    usleep(100000); /* anything left from before settles */
    run_one_section();
    first = section_tid;
    usleep(100000);
    n_after = nthreads();
    CHECK(n_after >= 2); /* main + at least the idle worker */
    for (int i = 0; i < 3; i++) {
        run_one_section();
        /* One section at a time: an idle worker takes it, no new one. */
        CHECK_EQ(nthreads(), n_after);
        usleep(20000);
    }
    /* Sequential sections with a single idle worker would all land on
     * it; with several idle workers any may take it, so only check that
     * no thread was created for it. */
    if (n_after == 2)
        CHECK_EQ(section_tid, first);
}

/* ---- compute_end wakes a scheduler asleep in its poller ------------------ */

static double end_called_ms, end_returned_ms;
static lthread_t *long_sleeper_lt;

static void lonely_computer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    int rc_begin = lthread_compute_begin(); /* no CHECK inside */
    usleep(50000); /* the scheduler has nothing to do: it sleeps */
    end_called_ms = check_now_ms();
    int rc_end = lthread_compute_end();
    end_returned_ms = check_now_ms();
    CHECK_EQ(rc_begin, 0);
    CHECK_EQ(rc_end, 0);
    CHECK_EQ(lthread_wakeup(long_sleeper_lt), 0);
}

enum { LONG_SLEEP_MS = 10000 };

static void long_sleeper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    /* Sets the poller's timeout, should the wake be lost; woken early. */
    lthread_sleep(LONG_SLEEP_MS);
}

static void test_wake_sleeping_scheduler(void)
{
    lthread_t *lt;
    double took;

    CHECK_EQ(lthread_create(&long_sleeper_lt, long_sleeper, NULL), 0);
    CHECK_EQ(lthread_create(&lt, lonely_computer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    took = end_returned_ms - end_called_ms;
    printf("compute_end -> home, scheduler asleep in its poller: %.3f ms\n",
           took);
    /* A lost wake would leave the scheduler asleep until the sleeper's
     * timer, about LONG_SLEEP_MS - 50 later. */
    CHECK(took < LONG_SLEEP_MS / 2);
    CHECK_TIME(took < 100 * check_slow());
}

/* ---- non-interference: a sleeper ticks on while others compute ---------- */

/*
 * Six lthreads compute at once, some sleeping, some spinning; each section
 * lasts until the ticker, an lthread of the same scheduler that sleeps
 * TICK_MS at a time, has ticked TICKS_PER_SECTION times since the section
 * began. A section that held up the scheduler would stop the ticker, and
 * run into HOLD_MAX_MS.
 */
enum { TICK_MS = 10, TICKS_PER_SECTION = 20, NCOMPUTERS = 6, MAX_TICKS = 4096 };

struct ticker {
    atomic_int ticks;         /* read by the compute pthreads */
    float late_ms[MAX_TICKS]; /* lateness of each tick */
    volatile int *stop;
};

static struct ticker nonint_ticker;
static atomic_int hold_missed; /* sections that ran into HOLD_MAX_MS */

static void ticker_fn(lthread_t *lt, void *arg)
{
    struct ticker *t = arg;

    (void)lt;
    while (!*t->stop) {
        double t0 = check_now_ms();
        int n;

        lthread_sleep(TICK_MS);
        n = atomic_load(&t->ticks);
        if (n < MAX_TICKS)
            t->late_ms[n] = (float)(check_now_ms() - t0 - TICK_MS);
        atomic_store(&t->ticks, n + 1);
    }
}

/* The body of a section: sleeps (busy 0) or spins in steps of about 1 ms
 * until the ticker ticked TICKS_PER_SECTION times, or HOLD_MAX_MS passed
 * (or another section's did: the test has failed, no use waiting more). */
static void compute_while_ticking(int busy)
{
    int until_tick = atomic_load(&nonint_ticker.ticks) + TICKS_PER_SECTION;
    double until = check_now_ms() + HOLD_MAX_MS;
    volatile unsigned long x = 0;

    while (atomic_load(&nonint_ticker.ticks) < until_tick) {
        if (check_now_ms() > until || atomic_load(&hold_missed)) {
            atomic_fetch_add(&hold_missed, 1);
            return;
        }
        if (busy)
            for (int i = 0; i < 100000; i++)
                x += (unsigned long)i;
        else
            usleep(1000);
    }
}

static atomic_int computing_now;

static void computer(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_sleep(20);
    int rc_begin = lthread_compute_begin(); /* no CHECK inside */
    atomic_fetch_add(&computing_now, 1);
    compute_while_ticking(arg != NULL);
    atomic_fetch_sub(&computing_now, 1);
    int rc_end = lthread_compute_end();
    CHECK_EQ(rc_begin, 0);
    CHECK_EQ(rc_end, 0);
}

static volatile int nonint_stop;
/* Busy loops: at most one per CPU but one, so the scheduler keeps a CPU
 * (what is tested is the library, not the kernel's time slicing). */
static int nbusy;

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return x < y ? -1 : x > y;
}

static void nonint_main(lthread_t *lt, void *arg)
{
    lthread_t *c[NCOMPUTERS];
    struct ticker *t = arg;
    double t0 = check_now_ms(), took;
    int n;

    (void)lt;
    for (int i = 0; i < NCOMPUTERS; i++)
        CHECK_EQ(lthread_create(&c[i], computer,
                                i < NCOMPUTERS - nbusy ? NULL : (void *)1),
                 0);
    for (int i = 0; i < NCOMPUTERS; i++)
        CHECK_EQ(lthread_join(c[i], NULL, 0), 0);
    took = check_now_ms() - t0;
    nonint_stop = 1;
    /* 20 ms of sleep, then TICKS_PER_SECTION ticks: the first may come at
     * once, each next one a full sleep of TICK_MS later. */
    CHECK(took >= 20 + (TICKS_PER_SECTION - 1) * TICK_MS - 1);
    n = atomic_load(&t->ticks);
    n = n < MAX_TICKS ? n : MAX_TICKS;
    qsort(t->late_ms, (size_t)n, sizeof(t->late_ms[0]), cmp_float);
    printf("%d sections (%d sleeping, %d busy), each until %d ticks of the "
           "sleeper: %.0f ms; %d ticks, median %.2f ms late, worst %.2f\n",
           NCOMPUTERS, NCOMPUTERS - nbusy, nbusy, TICKS_PER_SECTION, took, n,
           n ? t->late_ms[n / 2] : 0.0, n ? t->late_ms[n - 1] : 0.0);
    if (n > 0)
        CHECK_TIME(t->late_ms[n / 2] < MEDIAN_LATE_MS);
}

static void test_non_interference(void)
{
    lthread_t *lt;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    nbusy = ncpu > 2 ? 2 : ncpu == 2 ? 1 : 0;
    nonint_ticker.stop = &nonint_stop;

    /* The sleeper first: it owns a region none of the computers gets. */
    CHECK_EQ(lthread_create(&lt, ticker_fn, &nonint_ticker), 0);
    CHECK_EQ(lthread_create(&lt, nonint_main, &nonint_ticker), 0);
    CHECK_EQ(lthread_run(), 0);
    /* The ticker kept ticking while every section computed. */
    CHECK_EQ(atomic_load(&hold_missed), 0);
    CHECK(atomic_load(&nonint_ticker.ticks) >= TICKS_PER_SECTION);
}

/* ---- blocking calls inside a section ------------------------------------ */

static int addr_is_loopback(const struct addrinfo *ai)
{
    for (; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *sin = (const void *)ai->ai_addr;

            if (ntohl(sin->sin_addr.s_addr) >> 24 == 127)
                return 1;
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;

            if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
                return 1;
        }
    }
    return 0;
}

static void resolver(lthread_t *lt, void *arg)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    pthread_t home = SELF();
    int rc;

    (void)lt;
    (void)arg;
    /* Plain getaddrinfo inside a section. */
    int rc_begin = lthread_compute_begin(); /* no CHECK inside */
    rc = getaddrinfo("localhost", "80", &hints, &res);
    int rc_end = lthread_compute_end();
    CHECK_EQ(rc_begin, 0);
    CHECK_EQ(rc_end, 0);
    CHECK_EQ(rc, 0);
    CHECK(rc == 0 && addr_is_loopback(res));
    if (res)
        freeaddrinfo(res);
    CHECK(pthread_equal(SELF(), home));

    /* lthread_getaddrinfo inside an lthread. */
    res = NULL;
    rc = lthread_getaddrinfo("localhost", "80", &hints, &res);
    CHECK_EQ(rc, 0);
    CHECK(rc == 0 && addr_is_loopback(res));
    if (res)
        freeaddrinfo(res);
    CHECK(pthread_equal(SELF(), home));

    /* A failing lookup reports getaddrinfo's error, not -1. */
    res = NULL;
    hints.ai_flags = AI_NUMERICHOST;
    rc = lthread_getaddrinfo("not a numeric host", "80", &hints, &res);
    CHECK(rc != 0 && rc != -1);
    CHECK(res == NULL);
}

static void test_getaddrinfo(void)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    lthread_t *lt;
    int rc;

    /* Outside any lthread: works like getaddrinfo. */
    rc = lthread_getaddrinfo("localhost", "80", &hints, &res);
    CHECK_EQ(rc, 0);
    CHECK(rc == 0 && addr_is_loopback(res));
    if (res)
        freeaddrinfo(res);

    CHECK_EQ(lthread_create(&lt, resolver, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
}

/* ---- bad input ---------------------------------------------------------- */

static lthread_t *bad_target;
/* The target is in its section; it may leave it. */
static atomic_int target_computing, target_release;

/* Stays in its section until released (or HOLD_MAX_MS): whatever the
 * machine's load, it is still computing when it is asked to be. */
static void target_computes(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    int rc_begin = lthread_compute_begin(); /* no CHECK inside */
    double until = check_now_ms() + HOLD_MAX_MS;

    atomic_store(&target_computing, 1);
    while (!atomic_load(&target_release) && check_now_ms() < until)
        usleep(1000);
    int rc_end = lthread_compute_end();
    CHECK_EQ(rc_begin, 0);
    CHECK_EQ(rc_end, 0);
}

static void bad_input_lt(lthread_t *lt, void *arg)
{
    lthread_t *other, *cur;
    int rc_nested, e_nested, rc_sleep, e_sleep, rc_create, e_create;

    (void)lt;
    (void)arg;
    /* end without begin, on the scheduler. */
    ERRNO = 0;
    CHECK_EQ(lthread_compute_end(), -1);
    CHECK_EQ(ERRNO, EPERM);

    /* Inside the section: no CHECK (it reads errno), record only. */
    int rc_begin1 = lthread_compute_begin(); /* no CHECK inside */
    ERRNO = 0;
    rc_nested = lthread_compute_begin(); /* nested begin */
    e_nested = ERRNO;
    ERRNO = 0;
    rc_sleep = lthread_sleep(1); /* forbidden inside: fails cleanly */
    e_sleep = ERRNO;
    ERRNO = 0;
    rc_create = lthread_create(&other, target_computes, NULL);
    e_create = ERRNO;
    cur = lthread_current();
    int rc_end1 = lthread_compute_end();
    CHECK_EQ(rc_begin1, 0);
    CHECK_EQ(rc_end1, 0);
    CHECK_EQ(rc_nested, -1);
    CHECK_EQ(e_nested, EDEADLK);
    CHECK_EQ(rc_sleep, -1);
    CHECK_EQ(e_sleep, EPERM);
    CHECK_EQ(rc_create, -1);
    CHECK_EQ(e_create, EPERM);
    CHECK(cur == lt);

    /* end twice */
    ERRNO = 0;
    CHECK_EQ(lthread_compute_end(), -1);
    CHECK_EQ(ERRNO, EPERM);

    /* the lthread is fine afterwards */
    CHECK_EQ(lthread_sleep(1), 0);
    int rc_begin2 = lthread_compute_begin(); /* no CHECK inside */
    int rc_end2 = lthread_compute_end();
    CHECK_EQ(rc_begin2, 0);
    CHECK_EQ(rc_end2, 0);

    /* destroying an lthread that computes is refused */
    while (!atomic_load(&target_computing))
        CHECK_EQ(lthread_sleep(1), 0);
    ERRNO = 0;
    CHECK_EQ(lthread_destroy(bad_target), -1);
    CHECK_EQ(ERRNO, EBUSY);
    atomic_store(&target_release, 1);
    CHECK_EQ(lthread_join(bad_target, NULL, 0), 0);
}

/* Returns inside its section (no lthread_compute_end()): the lthread still
 * exits on its own scheduler and can be joined. */
static void forgets_end(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_compute_begin();
}

static void joins_forgetful(lthread_t *lt, void *arg)
{
    lthread_t *f;
    void *v = NULL;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&f, forgets_end, NULL), 0);
    CHECK_EQ(lthread_join(f, &v, 0), 0);
    CHECK(v == NULL);
}

static void *plain_pthread(void *arg)
{
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_compute_begin(), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_compute_end(), -1);
    CHECK_EQ(errno, EPERM);
    return NULL;
}

static void test_bad_input(void)
{
    lthread_t *lt;
    pthread_t th;

    /* Outside any lthread, on a pthread with no scheduler. */
    errno = 0;
    CHECK_EQ(lthread_compute_begin(), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_compute_end(), -1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(pthread_create(&th, NULL, plain_pthread, NULL), 0);
    pthread_join(th, NULL);

    CHECK_EQ(lthread_create(&bad_target, target_computes, NULL), 0);
    CHECK_EQ(lthread_create(&lt, bad_input_lt, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joins_forgetful, NULL), 0);
    /* Outside any lthread, on a pthread whose scheduler exists. */
    errno = 0;
    CHECK_EQ(lthread_compute_begin(), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_compute_end(), -1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_run(), 0);
}

int main(void)
{
    test_bad_input();
    test_locals_and_home();
    test_worker_reuse();
    test_wake_sleeping_scheduler();
    test_non_interference();
    test_getaddrinfo();
    return check_summary("test_compute");
}
