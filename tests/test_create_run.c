/* lthread_create, lthread_create_ex, lthread_run, lthread_init, stacks. */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- create and run ---------------------------------------------------- */

static int ran;
static void *seen_arg;
static lthread_t *seen_lt;

static void set_ran(lthread_t *lt, void *arg)
{
    ran++;
    seen_arg = arg;
    seen_lt = lt;
}

static void test_basic(void)
{
    lthread_t *lt = NULL;
    int x;

    ran = 0;
    CHECK_EQ(lthread_create(&lt, set_ran, &x), 0);
    CHECK(lt != NULL);
    /* It first runs inside lthread_run(), not in lthread_create(). */
    CHECK_EQ(ran, 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 1);
    CHECK(seen_arg == &x);
    CHECK(seen_lt == lt);
}

static int arg_seen[10];

static void record_arg(lthread_t *lt, void *arg)
{
    (void)lt;
    arg_seen[(intptr_t)arg]++;
}

static void test_args(void)
{
    lthread_t *lt;

    memset(arg_seen, 0, sizeof(arg_seen));
    for (intptr_t i = 0; i < 10; i++)
        CHECK_EQ(lthread_create(&lt, record_arg, (void *)i), 0);
    CHECK_EQ(lthread_run(), 0);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(arg_seen[i], 1);
}

/* Each lthread creates `fanout` children one level down: 1+3+9+27+81. */
static int tree_count;

static void tree(lthread_t *lt, void *arg)
{
    intptr_t depth = (intptr_t)arg;
    lthread_t *child;

    (void)lt;
    tree_count++;
    if (depth == 0)
        return;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(lthread_create(&child, tree, (void *)(depth - 1)), 0);
        CHECK_EQ(lthread_sleep(i), 0);
    }
}

static void test_nested(void)
{
    lthread_t *lt;

    tree_count = 0;
    CHECK_EQ(lthread_create(&lt, tree, (void *)4), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(tree_count, 1 + 3 + 9 + 27 + 81);
}

static long many_count;

static void count_one(lthread_t *lt, void *arg)
{
    (void)lt;
    if ((intptr_t)arg & 1)
        CHECK_EQ(lthread_detach(), 0);
    if ((intptr_t)arg % 3 == 0)
        lthread_sleep(0);
    many_count++;
}

static void test_many(void)
{
    const int N = CHECK_TSAN ? 4000 : 100000;
    lthread_t *lt;
    int failed = 0;

    many_count = 0;
    for (intptr_t i = 0; i < (intptr_t)N; i++)
        failed += lthread_create(&lt, count_one, (void *)i) != 0;
    CHECK_EQ(failed, 0);
    /* Half detach themselves; lthread_run() frees the unjoined rest. */
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(many_count, N);
}

static void test_run_empty_and_twice(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_run(), 0);
    /* The scheduler freed by one run is re-created by the next create. */
    ran = 0;
    CHECK_EQ(lthread_create(&lt, set_ran, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_create(&lt, set_ran, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 2);
    CHECK_EQ(lthread_run(), 0);
}

static void run_inside(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_run(), -1);
    CHECK_EQ(errno, EPERM);
    ran++;
}

static void test_run_inside(void)
{
    lthread_t *lt;

    ran = 0;
    CHECK_EQ(lthread_create(&lt, run_inside, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 1);
}

static void create_bad_inside(lthread_t *lt, void *arg)
{
    lthread_t *child = NULL;

    (void)lt;
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_create(NULL, set_ran, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_create(&child, NULL, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    ran++;
}

static void test_create_einval(void)
{
    lthread_t *lt = NULL;

    /* Before the scheduler exists... */
    errno = 0;
    CHECK_EQ(lthread_create(NULL, set_ran, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_create(&lt, NULL, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(lthread_run(), 0);
    /* ...and inside an lthread. */
    ran = 0;
    CHECK_EQ(lthread_create(&lt, create_bad_inside, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 1);
}

/* ---- attributes -------------------------------------------------------- */

static void test_attr_init(void)
{
    lthread_attr_t a;

    memset(&a, 0xff, sizeof(a));
    CHECK_EQ(lthread_attr_init(&a), 0);
    CHECK_EQ(a.flags, 0);
    CHECK_EQ(a.stack_size, 0);
    for (int i = 0; i < 6; i++)
        CHECK(a.reserved[i] == NULL);
    errno = 0;
    CHECK_EQ(lthread_attr_init(NULL), -1);
    CHECK_EQ(errno, EINVAL);
}

/* A private-stack lthread hands a pointer to its local to a shared-stack
 * lthread, which writes through it while the owner is suspended. */
static int *volatile shared_ptr;
static int private_done, writer_done;

static void private_owner(lthread_t *lt, void *arg)
{
    volatile int local[16] = {0};

    (void)lt;
    (void)arg;
    shared_ptr = (int *)(uintptr_t)local;
    for (int i = 0; i < 10; i++)
        CHECK_EQ(lthread_sleep(1), 0);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(local[i], i * 7);
    shared_ptr = NULL;
    private_done = 1;
}

static void private_writer(lthread_t *lt, void *arg)
{
    char noise[2048];

    (void)lt;
    (void)arg;
    while (shared_ptr == NULL)
        lthread_sleep(0);
    int *p = shared_ptr;
    memset(noise, 0x5a, sizeof(noise));
    for (int i = 0; i < 16; i++) {
        p[i] = i * 7;
        lthread_sleep(0);
    }
    CHECK_EQ(noise[100], 0x5a);
    writer_done = 1;
}

static void detached_sleeper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(30);
    ran++;
}

static void join_detached(lthread_t *lt, void *arg)
{
    (void)lt;
    errno = 0;
    CHECK_EQ(lthread_join((lthread_t *)arg, NULL, 0), -1);
    CHECK_EQ(errno, EINVAL);
}

static int deep(int depth);

static void private_recurse(lthread_t *lt, void *arg)
{
    int kb = (int)(intptr_t)arg;

    (void)lt;
    CHECK_EQ(deep(kb), kb + 1);
    ran++;
}

static void test_create_ex(void)
{
    lthread_attr_t a;
    lthread_t *lt = NULL, *det = NULL;

    /* attr NULL: the defaults. */
    ran = 0;
    CHECK_EQ(lthread_create_ex(&lt, set_ran, NULL, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 1);

    /* Private stack, default size, pointer to a local shared. */
    shared_ptr = NULL;
    private_done = writer_done = 0;
    CHECK_EQ(lthread_attr_init(&a), 0);
    a.flags = LTHREAD_ATTR_PRIVATE_STACK;
    CHECK_EQ(lthread_create_ex(&lt, private_owner, NULL, &a), 0);
    CHECK_EQ(lthread_create(&lt, private_writer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(private_done, 1);
    CHECK_EQ(writer_done, 1);

    /* Private stack of a given size, used deeply (200 KB of 1 MB). */
    ran = 0;
    a.flags = LTHREAD_ATTR_PRIVATE_STACK;
    a.stack_size = 1024 * 1024;
    CHECK_EQ(lthread_create_ex(&lt, private_recurse, (void *)200, &a), 0);
    CHECK_EQ(lthread_create_ex(&lt, private_recurse, (void *)20, &a), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 2);

    /* Detached from the start: cannot be joined, freed when it exits. */
    ran = 0;
    CHECK_EQ(lthread_attr_init(&a), 0);
    a.flags = LTHREAD_ATTR_DETACHED;
    CHECK_EQ(lthread_create_ex(&det, detached_sleeper, NULL, &a), 0);
    CHECK_EQ(lthread_create(&lt, join_detached, det), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 1);

    /* Both flags. */
    ran = 0;
    a.flags = LTHREAD_ATTR_DETACHED | LTHREAD_ATTR_PRIVATE_STACK;
    CHECK_EQ(lthread_create_ex(&det, detached_sleeper, NULL, &a), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 1);

    /* Bad flags. */
    ran = 0;
    CHECK_EQ(lthread_attr_init(&a), 0);
    a.flags = 0x80u;
    errno = 0;
    CHECK_EQ(lthread_create_ex(&lt, set_ran, NULL, &a), -1);
    CHECK_EQ(errno, EINVAL);
    a.flags = ~0u;
    errno = 0;
    CHECK_EQ(lthread_create_ex(&lt, set_ran, NULL, &a), -1);
    CHECK_EQ(errno, EINVAL);
    /* A private stack below the 16 KiB that lthread_init() accepts. */
    a.flags = LTHREAD_ATTR_PRIVATE_STACK;
    a.stack_size = 1024;
    errno = 0;
    CHECK_EQ(lthread_create_ex(&lt, set_ran, NULL, &a), -1);
    CHECK_EQ(errno, EINVAL);
    /* A private stack no machine can map. */
    a.flags = LTHREAD_ATTR_PRIVATE_STACK;
    a.stack_size = SIZE_MAX;
    errno = 0;
    CHECK_EQ(lthread_create_ex(&lt, set_ran, NULL, &a), -1);
    CHECK(errno == EINVAL || errno == ENOMEM);
    /* NULL new_lt or fn, as lthread_create(). */
    errno = 0;
    CHECK_EQ(lthread_create_ex(NULL, set_ran, NULL, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_create_ex(&lt, NULL, NULL, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 0);
}

/* ---- lthread_init ------------------------------------------------------ */

/* Uses about `kb` KB of stack, yields at the bottom, checks every frame. */
static int deep(int depth)
{
    volatile char buf[1000];
    int sum;

    memset((char *)buf, depth & 0xff, sizeof(buf));
    if (depth > 0)
        sum = deep(depth - 1);
    else
        sum = lthread_sleep(1) == 0 ? 0 : -1000000;
    /* Suspend again on the way up, with fewer frames live. */
    if (depth % 25 == 0 && lthread_sleep(0) != 0)
        sum = -1000000;
    for (size_t i = 0; i < sizeof(buf); i += 97)
        if (buf[i] != (char)(depth & 0xff))
            return -1000000;
    return sum + 1;
}

static void deep_lt(lthread_t *lt, void *arg)
{
    int kb = (int)(intptr_t)arg;

    (void)lt;
    CHECK_EQ(deep(kb), kb + 1);
    ran++;
}

static void init_inside(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_init(64 * 1024), -1);
    CHECK_EQ(errno, EBUSY);
    ran++;
}

static void *init_first_pthread(void *arg)
{
    lthread_t *lt;

    (void)arg;
    /* A pthread that never created an lthread: init works before create. */
    CHECK_EQ(lthread_init(2 * 1024 * 1024), 0);
    CHECK_EQ(lthread_create(&lt, deep_lt, (void *)1000), 0); /* ~1 MB */
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_init(void)
{
    lthread_t *lt;
    pthread_t pt;

    errno = 0;
    CHECK_EQ(lthread_init(0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_init(1024), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_init(16 * 1024 - 1), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_init(SIZE_MAX), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(lthread_init(16 * 1024), 0);
    CHECK_EQ(lthread_init(100 * 1000), 0); /* rounded up to pages */

    /* EBUSY once lthreads exist, outside and inside them. */
    ran = 0;
    CHECK_EQ(lthread_create(&lt, init_inside, NULL), 0);
    errno = 0;
    CHECK_EQ(lthread_init(64 * 1024), -1);
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 1);

    /* Between two runs: a bigger region, then used. */
    ran = 0;
    CHECK_EQ(lthread_init(1024 * 1024), 0);
    CHECK_EQ(lthread_create(&lt, deep_lt, (void *)500), 0);
    CHECK_EQ(lthread_create(&lt, deep_lt, (void *)300), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 2);

    CHECK_EQ(pthread_create(&pt, NULL, init_first_pthread, NULL), 0);
    CHECK_EQ(pthread_join(pt, NULL), 0);

    /* Back to the default for the rest of the file. */
    CHECK_EQ(lthread_init(256 * 1024), 0);
}

/* ---- locals survive suspension ----------------------------------------- */

static void test_deep_default(void)
{
    lthread_t *lt;

    /* ~100 KB in the default 256 KiB region; many at once, more than the
     * scheduler has regions, so that images are saved and restored. */
    ran = 0;
    for (int i = 0; i < 40; i++)
        CHECK_EQ(
            lthread_create(&lt, deep_lt, (void *)(intptr_t)(i % 2 ? 100 : 60)),
            0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 40);
}

static void local_ptr(lthread_t *lt, void *arg)
{
    volatile int x = (int)(intptr_t)arg;
    volatile int *p = &x;
    char other[512];

    (void)lt;
    memset(other, (int)(intptr_t)arg, sizeof(other));
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(lthread_sleep(i % 3), 0);
        CHECK(p == &x);
        CHECK_EQ(*p, (intptr_t)arg + i);
        *p += 1;
    }
    CHECK_EQ(x, (intptr_t)arg + 20);
    CHECK_EQ(other[511], (char)(intptr_t)arg);
    ran++;
}

static void test_local_pointer(void)
{
    lthread_t *lt;

    ran = 0;
    for (intptr_t i = 0; i < 8; i++)
        CHECK_EQ(lthread_create(&lt, local_ptr, (void *)(i * 100)), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(ran, 8);
}

/* Many lthreads, each with a 4 KB local pattern, interleaved many times. */
static int pattern_bad;

static void pattern_lt(lthread_t *lt, void *arg)
{
    unsigned seed = (unsigned)(intptr_t)arg;
    unsigned char buf[4096];

    (void)lt;
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(seed * 131 + i * 7);
    for (int round = 0; round < 50; round++) {
        lthread_sleep(round % 4 == 3 ? 1 : 0);
        for (size_t i = 0; i < sizeof(buf); i++)
            if (buf[i] != (unsigned char)(seed * 131 + i * 7 + round)) {
                pattern_bad++;
                return;
            }
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i]++;
    }
    ran++;
}

static void test_many_locals(void)
{
    lthread_t *lt;

    ran = 0;
    pattern_bad = 0;
    for (intptr_t i = 0; i < 200; i++)
        CHECK_EQ(lthread_create(&lt, pattern_lt, (void *)i), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(pattern_bad, 0);
    CHECK_EQ(ran, 200);
}

static void test_version(void)
{
    char want[64];

    snprintf(want, sizeof(want), "%d.%d.%d", LTHREAD_VERSION_MAJOR,
             LTHREAD_VERSION_MINOR, LTHREAD_VERSION_PATCH);
    CHECK(lthread_version() != NULL);
    CHECK(strcmp(lthread_version(), want) == 0);
    CHECK_EQ(LTHREAD_VERSION_HEX, (LTHREAD_VERSION_MAJOR << 16) |
                                      (LTHREAD_VERSION_MINOR << 8) |
                                      LTHREAD_VERSION_PATCH);
}

int main(void)
{
    test_version();
    test_run_empty_and_twice();
    test_basic();
    test_args();
    test_nested();
    test_run_inside();
    test_create_einval();
    test_attr_init();
    test_init();
    /* Lthreads share stack regions (and are copied) only when there are
     * more of them than regions: run the stack tests again with one and
     * two regions per scheduler (LTHREAD_REGIONS, read by each new
     * scheduler), where every switch between mates copies. */
    static const char *const regions[] = {NULL, "1", "2"};
    for (int i = 0; i < 3; i++) {
        if (regions[i])
            setenv("LTHREAD_REGIONS", regions[i], 1);
        test_deep_default();
        test_local_pointer();
        test_many_locals();
        test_create_ex();
    }
    unsetenv("LTHREAD_REGIONS");
    test_many();
    return check_summary("test_create_run");
}
