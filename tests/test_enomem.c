/*
 * Out of memory: every allocation of the library can be made to fail with
 * the internal hook lthread__alloc_fail_after(n) (src/alloc.h): the next n
 * allocations succeed, then all fail; n < 0 turns failing off.
 *
 * Leaks are checked twice: by LeakSanitizer in the sanitizer build, and
 * here by the heap bytes in use and the number of mappings (stack regions
 * are mmap'd; tests/platform.h: mallinfo2, /proc/self/maps), which must
 * come back to what they were once the scheduler is gone.
 */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "alloc.h"
#include "check.h"
#include "platform.h"
#include "segments.h"

enum { MAX_N = 64 };

static int ran;

/* -1 on systems that cannot tell (tests/platform.h): the checks below
 * then compare -1 with -1, and LeakSanitizer's check remains. */
static long heap_in_use(void)
{
    return platform_heap_in_use();
}

static int nmaps(void)
{
    return platform_mappings();
}

static void set_ran(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    ran++;
}

/*
 * Runs cycle(ctx) 10 times, then 100 times more, and checks that the heap
 * bytes in use and the mappings are the same before and after the 100.
 * (Not after one: glibc's tcache keeps freed chunks counted as in use
 * until it is full; in a steady state a leak-free cycle changes nothing.)
 * A change in the 100 is measured once more over 100 further cycles: a
 * leak grows again, a one-time growth (the timer heap or a table reaching
 * a new size when a slow run, under qemu, lets a timed retry fall inside
 * the window) does not.
 */
static void leak_check(void (*cycle)(void *), void *ctx, const char *what)
{
    long h0;
    int m0;

    for (int i = 0; i < 10; i++)
        cycle(ctx);
    h0 = heap_in_use();
    m0 = nmaps();
    for (int i = 0; i < 100; i++)
        cycle(ctx);
    if (heap_in_use() != h0 || (!CHECK_TSAN && nmaps() != m0)) {
        h0 = heap_in_use();
        m0 = nmaps();
        for (int i = 0; i < 100; i++)
            cycle(ctx);
    }
    /* TSan maps shadow memory of its own as lthreads come and go. */
    if (CHECK_TSAN)
        m0 = nmaps();
    CHECK_EQ(heap_in_use(), h0);
    CHECK_EQ(nmaps(), m0);
    if (heap_in_use() != h0 || nmaps() != m0)
        fprintf(stderr, "    leak in: %s\n", what);
}

struct create_case {
    const lthread_attr_t *attr;
    int others; /* lthreads created normally first */
    long n;     /* allocations that succeed */
    int result; /* of the create under test */
};

/* One lthread_create_ex() that may fail, then a run of the scheduler. */
static void create_cycle(void *p)
{
    struct create_case *cc = p;
    lthread_t *lt = NULL;
    int m0 = nmaps(), e;

    ran = 0;
    for (int i = 0; i < cc->others; i++)
        CHECK_EQ(lthread_create(&lt, set_ran, NULL), 0);
    lthread__alloc_fail_after(cc->n);
    errno = 0;
    cc->result = lthread_create_ex(&lt, set_ran, NULL, cc->attr);
    e = errno;
    lthread__alloc_fail_after(-1);
    if (cc->result != 0) {
        CHECK_EQ(cc->result, -1);
        CHECK_EQ(e, ENOMEM);
        /* Nothing is left of a scheduler that failed half-way. */
        if (cc->others == 0)
            CHECK_EQ(nmaps(), m0);
        /* Usable again once allocations succeed. */
        CHECK_EQ(lthread_create_ex(&lt, set_ran, NULL, cc->attr), 0);
    }
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, cc->others + 1);
}

/* lthread_create (or _ex with attr) failing at every allocation in turn. */
static void create_until_success(const lthread_attr_t *attr, int others,
                                 const char *what)
{
    struct create_case cc = {attr, others, 0, -1};

    for (cc.n = 0; cc.n < MAX_N; cc.n++) {
        create_cycle(&cc);
        if (cc.result == 0)
            break;
        leak_check(create_cycle, &cc, what);
    }
    CHECK_EQ(cc.result, 0);
    CHECK(cc.n >= 1); /* at least the lthread itself is allocated */
    printf("note: %s succeeds from %ld allocations on\n", what, cc.n);
}

/* The same, from inside a running lthread. */
static void create_inside_cycle(void *p)
{
    struct create_case *cc = p;
    lthread_t *child = NULL;
    int e;

    lthread__alloc_fail_after(cc->n);
    errno = 0;
    cc->result = lthread_create_ex(&child, set_ran, NULL, cc->attr);
    e = errno;
    lthread__alloc_fail_after(-1);
    if (cc->result == 0) {
        CHECK_EQ(lthread_join(child, NULL, 0), 0);
    } else {
        CHECK_EQ(cc->result, -1);
        CHECK_EQ(e, ENOMEM);
    }
}

static void create_inside(lthread_t *lt, void *arg)
{
    struct create_case cc = {arg, 0, 0, -1};

    (void)lt;
    for (cc.n = 0; cc.n < MAX_N; cc.n++) {
        create_inside_cycle(&cc);
        if (cc.result == 0)
            break;
        leak_check(create_inside_cycle, &cc, "lthread_create in an lthread");
    }
    CHECK_EQ(cc.result, 0);
}

static void test_create(void)
{
    lthread_attr_t a;
    lthread_t *lt;

    create_until_success(NULL, 0, "the first lthread_create");
    create_until_success(NULL, 2, "a later lthread_create");
    CHECK_EQ(lthread_attr_init(&a), 0);
    a.flags = LTHREAD_ATTR_PRIVATE_STACK;
    create_until_success(&a, 0, "a first private-stack lthread_create_ex");
    create_until_success(&a, 2, "a later private-stack lthread_create_ex");

    CHECK_EQ(lthread_create(&lt, create_inside, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_create(&lt, create_inside, &a), 0);
    CHECK_EQ(lthread_run(), 0);
}

static void cond_cycle(void *p)
{
    long *n = p;
    lthread_cond_t *c = NULL;
    int r, e;

    lthread__alloc_fail_after(*n);
    errno = 0;
    r = lthread_cond_create(&c);
    e = errno;
    lthread__alloc_fail_after(-1);
    if (r == 0) {
        CHECK(c != NULL);
        CHECK_EQ(lthread_cond_destroy(c), 0);
    } else {
        CHECK_EQ(r, -1);
        CHECK_EQ(e, ENOMEM);
    }
}

static void test_cond_create(void)
{
    long n = 0;

    leak_check(cond_cycle, &n, "lthread_cond_create");
    n = 1;
    leak_check(cond_cycle, &n, "lthread_cond_create");
}

/*
 * Waits with a timeout need room in the timer heap. The header documents
 * no ENOMEM for lthread_sleep, lthread_cond_wait or lthread_join; what we
 * accept: the call works, or it fails with -1/ENOMEM having changed
 * nothing (the cond has no waiter, the joined lthread can still be joined).
 */
static lthread_cond_t *cond;
static const char *wait_notes[3];

static void waits_when_out_of_memory(lthread_t *lt, void *arg)
{
    lthread_t *child;
    int r, e;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&child, set_ran, NULL), 0);

    lthread__alloc_fail_after(0);
    errno = 0;
    r = lthread_sleep(5);
    e = errno;
    lthread__alloc_fail_after(-1);
    CHECK(r == 0 || (r == -1 && e == ENOMEM));
    wait_notes[0] = r == 0 ? "works" : "fails with -1/ENOMEM";

    lthread__alloc_fail_after(0);
    errno = 0;
    r = lthread_cond_wait(cond, 5);
    e = errno;
    lthread__alloc_fail_after(-1);
    CHECK(r == -2 || (r == -1 && e == ENOMEM));
    wait_notes[1] = r == -2 ? "works" : "fails with -1/ENOMEM";

    lthread__alloc_fail_after(0);
    errno = 0;
    r = lthread_join(child, NULL, 1000);
    e = errno;
    lthread__alloc_fail_after(-1);
    CHECK(r == 0 || (r == -1 && e == ENOMEM));
    wait_notes[2] = r == 0 ? "works" : "fails with -1/ENOMEM";
    if (r != 0)
        CHECK_EQ(lthread_join(child, NULL, 1000), 0);
}

static void test_waits(void)
{
    lthread_t *lt;

    ran = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_create(&lt, waits_when_out_of_memory, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 1);
    CHECK_EQ(lthread_cond_destroy(cond), 0); /* no waiter left behind */
    printf("note: out of memory in a fresh scheduler, a timed sleep %s, "
           "a timed cond wait %s, a timed join %s\n",
           wait_notes[0], wait_notes[1], wait_notes[2]);
}

/*
 * An lthread's stack image must be saved when memory runs out: with one
 * shared region, A owns it and B must start there, which needs a copy of
 * A's frames. What we require: nobody is lost, B runs once memory is back,
 * both stacks are intact. C, on a private stack, gives memory back 30 ms
 * after A has checked that B could not start (counted from A's word, not
 * from the start: a machine stalled past 30 ms before the check would let
 * B start first).
 */
static double reset_at, b_started_at;
static int b_ran, a_ok, b_ok, c_go;
static lthread_cond_t *c_cond;

/* lthread_stats().switches at each run segment's start equals the
 * segments so far (tests/segments.h): the starved lthread's failed resumes
 * (its region's owner could not be saved) are no switches. */
static struct segments segs;

static void lt_a(lthread_t *lt, void *arg)
{
    char pattern[3000];

    (void)lt;
    (void)arg;
    segment_note(&segs);
    memset(pattern, 'a', sizeof(pattern));
    lthread__alloc_fail_after(0);
    lthread_sleep(0); /* B cannot start: A's image cannot be saved */
    segment_note(&segs);
    CHECK_EQ(b_ran, 0);
    c_go = 1;
    CHECK_EQ(lthread_cond_signal(c_cond), 0);
    lthread_sleep(5); /* the timer heap has room: no allocation */
    segment_note(&segs);
    while (!b_ran) {
        lthread_sleep(1);
        segment_note(&segs);
    }
    a_ok = pattern[0] == 'a' && pattern[sizeof(pattern) - 1] == 'a' &&
           memchr(pattern, 0, sizeof(pattern)) == NULL;
}

static void lt_b(lthread_t *lt, void *arg)
{
    char pattern[2000];

    (void)lt;
    (void)arg;
    segment_note(&segs);
    b_started_at = check_now_ms();
    b_ran = 1;
    memset(pattern, 'b', sizeof(pattern));
    lthread_sleep(1); /* A runs again: B's image is saved */
    segment_note(&segs);
    b_ok = pattern[0] == 'b' && pattern[sizeof(pattern) - 1] == 'b';
}

static void lt_c(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    segment_note(&segs);
    lthread_sleep(1); /* (makes the timer heap, while memory is there) */
    segment_note(&segs);
    while (!c_go) {
        lthread_cond_wait(c_cond, 0);
        segment_note(&segs);
    }
    lthread_sleep(30);
    segment_note(&segs);
    reset_at = check_now_ms();
    lthread__alloc_fail_after(-1);
}

static double cpu_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void test_image_save(void)
{
    lthread_attr_t a;
    lthread_t *lt;
    double c0;

    setenv("LTHREAD_REGIONS", "1", 1); /* read when the scheduler is made */
    b_ran = a_ok = b_ok = c_go = 0;
    segs = (struct segments){0, 0};
    CHECK_EQ(lthread_cond_create(&c_cond), 0);
    CHECK_EQ(lthread_attr_init(&a), 0);
    a.flags = LTHREAD_ATTR_PRIVATE_STACK;
    CHECK_EQ(lthread_create_ex(&lt, lt_c, NULL, &a), 0);
    CHECK_EQ(lthread_create(&lt, lt_a, NULL), 0);
    CHECK_EQ(lthread_create(&lt, lt_b, NULL), 0);
    c0 = cpu_ms();
    CHECK_EQ(lthread_run(), 0);
    c0 = cpu_ms() - c0;
    unsetenv("LTHREAD_REGIONS");
    lthread__alloc_fail_after(-1);
    CHECK_EQ(b_ran, 1);
    CHECK(b_started_at >= reset_at);
    CHECK_EQ(a_ok, 1);
    CHECK_EQ(b_ok, 1);
    CHECK_EQ(segs.bad, 0);
    CHECK_EQ(lthread_cond_destroy(c_cond), 0);
    /* Retrying is fine, spinning is not: region.c means to retry every
     * millisecond. */
    CHECK(c0 < 15 * check_slow());
    printf("note: a region-mate whose owner's image cannot be saved waits "
           "until memory comes back (%.1f ms after), the scheduler used "
           "%.1f ms of CPU in those ~30 ms\n",
           b_started_at - reset_at, c0);
}

/*
 * The same between region-mates that have both run (the hand-over through
 * the scheduler's borrowed stack, lthread__region_swap): A goes deeper
 * than its image has room for while memory has run out, and yields to B.
 * The hand-over is undone (lthread__mate_undo: B first in the queue again,
 * A current): B waits, starved, until memory comes back; nobody is lost,
 * both stacks intact. C (private stack) gives memory back when A has
 * checked.
 */
static int mate_b_rounds, mate_a_ok, mate_b_ok, mate_b_early, mate_release;
static lthread_cond_t *mate_cond;

static __attribute__((noinline)) void mate_a_deep(void)
{
    char pattern[3000];
    int before = mate_b_rounds;

    memset(pattern, 'A', sizeof(pattern));
    lthread__alloc_fail_after(0);
    lthread_sleep(0); /* B cannot run: A's image cannot grow */
    mate_b_early = mate_b_rounds != before;
    /* Memory comes back when A says so, not after a time: a stalled
     * machine cannot let B run before the check above. */
    mate_release = 1;
    CHECK_EQ(lthread_cond_signal(mate_cond), 0);
    while (mate_b_rounds == before)
        lthread_sleep(0); /* (no timer: nothing to allocate) */
    mate_a_ok = pattern[0] == 'A' && pattern[sizeof(pattern) - 1] == 'A' &&
                memchr(pattern, 0, sizeof(pattern)) == NULL;
}

static void mate_a(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(0); /* B starts: A's (shallow) image is saved */
    mate_a_deep();
}

static void mate_b(lthread_t *lt, void *arg)
{
    char pattern[500];

    (void)lt;
    (void)arg;
    memset(pattern, 'B', sizeof(pattern));
    mate_b_rounds++;
    lthread_sleep(0); /* back to A, a mate's hand-over: B's image saved */
    mate_b_rounds++;
    mate_b_ok = pattern[0] == 'B' && pattern[sizeof(pattern) - 1] == 'B' &&
                memchr(pattern, 0, sizeof(pattern)) == NULL;
}

/* Gives memory back once A has checked that B could not run. */
static void mate_c(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    while (!mate_release)
        lthread_cond_wait(mate_cond, 0); /* (allocates nothing) */
    lthread__alloc_fail_after(-1);
}

static void test_image_grow_mate(void)
{
    lthread_attr_t a;
    lthread_t *lt;

    setenv("LTHREAD_REGIONS", "1", 1);
    mate_b_rounds = mate_a_ok = mate_b_ok = mate_b_early = mate_release = 0;
    CHECK_EQ(lthread_cond_create(&mate_cond), 0);
    CHECK_EQ(lthread_attr_init(&a), 0);
    a.flags = LTHREAD_ATTR_PRIVATE_STACK;
    CHECK_EQ(lthread_create_ex(&lt, mate_c, NULL, &a), 0);
    CHECK_EQ(lthread_create(&lt, mate_a, NULL), 0);
    CHECK_EQ(lthread_create(&lt, mate_b, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    unsetenv("LTHREAD_REGIONS");
    lthread__alloc_fail_after(-1);
    CHECK_EQ(mate_b_rounds, 2);
    CHECK_EQ(mate_b_early, 0);
    CHECK_EQ(mate_a_ok, 1);
    CHECK_EQ(mate_b_ok, 1);
    CHECK_EQ(lthread_cond_destroy(mate_cond), 0);
}

/*
 * Starved lthreads (their region's owner could not be saved) are retried
 * although another lthread keeps yielding and nothing waits on an fd, and
 * a long shortage with many of them does not make the scheduler spin.
 */
/* TSan allows ~8000 live fibers; emulators and sanitizers are slow. */
#define NSTARVED (CHECK_TSAN ? 2000 : check_slow() > 1 ? 20000 : 100000)
static int starved_ran, owner_done;
static double window_cpu;

static void starved_one(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    starved_ran++;
}

/* arg: 1 when a yielder runs all along (then the shortage is short). */
static void region_owner(lthread_t *lt, void *arg)
{
    char frame[2000];
    lthread_t *x;
    double c0;
    int n = arg ? NSTARVED / 100 : NSTARVED;

    (void)lt;
    memset(frame, 'o', sizeof(frame));
    lthread_sleep(1); /* the yielder starts: the timer heap has room */
    for (int i = 0; i < n; i++)
        CHECK_EQ(lthread_create(&x, starved_one, NULL), 0);
    lthread__alloc_fail_after(0);
    /* Every starved lthread needs our image saved: none can start while
     * memory stays short, 100 ms. Without a yielder nothing else runs:
     * retrying must not make the scheduler spin. */
    c0 = cpu_ms();
    CHECK_EQ(lthread_sleep(arg ? 20 : 100), 0);
    window_cpu = cpu_ms() - c0;
    CHECK_EQ(starved_ran, 0);
    lthread__alloc_fail_after(-1);
    while (starved_ran < n && !owner_done)
        lthread_sleep(1);
    CHECK_EQ(starved_ran, n);
    owner_done = 1;
    CHECK_EQ(frame[0], 'o');
}

/* Keeps yielding until the starved all ran (or a long time passed):
 * nothing waits on an fd, and the ready queue is never empty. */
static void yielder(lthread_t *lt, void *arg)
{
    double t0 = check_now_ms();

    (void)lt;
    (void)arg;
    while (!owner_done && check_now_ms() - t0 < 2000.0 * check_slow())
        lthread_sleep(0);
    /* The owner saw every starved lthread run while we yielded. */
    CHECK_EQ(owner_done, 1);
    owner_done = 1;
}

static void test_starved_retry(int with_yielder)
{
    lthread_attr_t a;
    lthread_t *lt;

    setenv("LTHREAD_REGIONS", "1", 1);
    starved_ran = owner_done = 0;
    CHECK_EQ(lthread_attr_init(&a), 0);
    a.flags = LTHREAD_ATTR_PRIVATE_STACK;
    CHECK_EQ(lthread_create(&lt, region_owner, with_yielder ? &a : NULL), 0);
    if (with_yielder)
        CHECK_EQ(lthread_create_ex(&lt, yielder, NULL, &a), 0);
    CHECK_EQ(lthread_run(), 0);
    unsetenv("LTHREAD_REGIONS");
    lthread__alloc_fail_after(-1);
    if (!with_yielder) {
        CHECK(window_cpu < 20.0 * check_slow());
        printf("note: 100 ms of shortage with %d starved lthreads: %.1f ms "
               "of CPU\n",
               (int)NSTARVED, window_cpu);
    }
}

/* lthread_init() that cannot map its new region leaves the scheduler as
 * it was: the next lthreads still run (they used to find no region). */
static void test_init_enomem(void)
{
    struct rlimit old, lim;
    lthread_t *lt;

    ran = 0;
    /* An idle scheduler: created, its only lthread destroyed unrun. */
    CHECK_EQ(lthread_create(&lt, set_ran, NULL), 0);
    CHECK_EQ(lthread_destroy(lt), 0);
    if (platform_vm_bytes() < 0 && platform_skip("lthread_init on ENOMEM"))
        return;
    CHECK_EQ(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)(platform_vm_bytes() + (64 << 20));
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur)
        lim.rlim_cur = old.rlim_cur;
    CHECK_EQ(setrlimit(RLIMIT_AS, &lim), 0);
    {
        /* Under an emulator (qemu-user) the limit may not bind the
         * guest's mappings: then this cannot be tested here. */
        void *probe = mmap(NULL, (size_t)1 << 30, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (probe != MAP_FAILED) {
            munmap(probe, (size_t)1 << 30);
            CHECK_EQ(setrlimit(RLIMIT_AS, &old), 0);
            platform_skip("lthread_init on ENOMEM (RLIMIT_AS does not bind)");
            return;
        }
    }
    CHECK_EQ(lthread_init((size_t)1 << 30), -1);
    CHECK_EQ(errno, ENOMEM);
    /* Still short of address space: the old region must serve. */
    CHECK_EQ(lthread_create(&lt, set_ran, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(setrlimit(RLIMIT_AS, &old), 0);
    CHECK_EQ(ran, 1);
}

int main(void)
{
    test_init_enomem();
    test_starved_retry(0);
    test_starved_retry(1);
    test_create();
    test_cond_create();
    test_waits();
    test_image_save();
    test_image_grow_mate();
    return check_summary("test_enomem");
}
