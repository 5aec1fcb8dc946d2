/* Per-lthread data, lthread_current, lthread_id, funcname, errno. */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum { N = 100 };
static uint64_t ids[2 * N];
static int nids;
static int done;

static void data_lt(lthread_t *lt, void *arg)
{
    int mine;

    CHECK(lthread_current() == lt);
    CHECK(lthread_get_data() == NULL);
    lthread_set_data(&mine);
    CHECK(lthread_get_data() == &mine);
    lthread_sleep((uint64_t)(intptr_t)arg % 3);
    /* Others set theirs meanwhile. */
    CHECK(lthread_get_data() == &mine);
    lthread_set_data(arg);
    lthread_sleep(0);
    CHECK(lthread_get_data() == arg);
    lthread_set_data(NULL);
    CHECK(lthread_get_data() == NULL);
    CHECK(lthread_current() == lt);
    done++;
}

static void test_data(void)
{
    lthread_t *lt;

    CHECK(lthread_get_data() == NULL);
    CHECK(lthread_current() == NULL);
    errno = 0;
    lthread_set_data((void *)1);
    CHECK_EQ(errno, EPERM);
    CHECK(lthread_get_data() == NULL);

    done = 0;
    for (intptr_t i = 1; i <= N; i++)
        CHECK_EQ(lthread_create(&lt, data_lt, (void *)i), 0);
    /* A scheduler that exists but does not run: still outside. */
    CHECK(lthread_current() == NULL);
    CHECK(lthread_get_data() == NULL);
    errno = 0;
    lthread_set_data((void *)1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, N);
    CHECK(lthread_current() == NULL);
    CHECK(lthread_get_data() == NULL);
}

static void id_lt(lthread_t *lt, void *arg)
{
    uint64_t id = lthread_id();

    (void)lt;
    CHECK(id != 0);
    lthread_sleep((uint64_t)(intptr_t)arg % 2);
    CHECK_EQ(lthread_id(), id); /* stable across a switch */
    ids[nids++] = id;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void test_ids(void)
{
    lthread_t *lt;
    int dups = 0;

    CHECK_EQ(lthread_id(), 0);
    nids = 0;
    for (intptr_t i = 0; i < N; i++)
        CHECK_EQ(lthread_create(&lt, id_lt, (void *)i), 0);
    CHECK_EQ(lthread_id(), 0);
    CHECK_EQ(lthread_run(), 0);
    /* A second run: the ids are unique in the process, not per run. */
    for (intptr_t i = 0; i < N; i++)
        CHECK_EQ(lthread_create(&lt, id_lt, (void *)i), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(nids, 2 * N);
    qsort(ids, (size_t)nids, sizeof(ids[0]), cmp_u64);
    for (int i = 1; i < nids; i++)
        dups += ids[i] == ids[i - 1];
    CHECK_EQ(dups, 0);
    CHECK(ids[0] >= 1);
    CHECK_EQ(lthread_id(), 0);
}

/* Ids from several schedulers at once: each takes them from the process
 * in blocks (of 1024: NX crosses two block ends), so they stay unique,
 * and one scheduler's follow the order of its creates. */
enum { NX = 2500, NXS = 3 };
static uint64_t xids[NXS][NX];

static void xid_lt(lthread_t *lt, void *arg)
{
    (void)lt;
    *(uint64_t *)arg = lthread_id();
}

static void xid_creator(lthread_t *lt, void *arg)
{
    uint64_t *mine = arg;

    (void)lt;
    for (int i = 0; i < NX; i++) {
        lthread_t *t;
        CHECK_EQ(lthread_create(&t, xid_lt, &mine[i]), 0);
        CHECK_EQ(lthread_join(t, NULL, 0), 0);
        if (i % 100 == 0)
            lthread_sleep(0); /* the others create meanwhile */
    }
}

static void *xid_sched(void *arg)
{
    lthread_t *lt;

    CHECK_EQ(lthread_create(&lt, xid_creator, arg), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_ids_schedulers(void)
{
    static uint64_t all[NXS * NX];
    pthread_t th[NXS];
    int n = 0, dups = 0, order = 0;

    for (int k = 0; k < NXS; k++)
        CHECK_EQ(pthread_create(&th[k], NULL, xid_sched, xids[k]), 0);
    for (int k = 0; k < NXS; k++)
        CHECK_EQ(pthread_join(th[k], NULL), 0);
    for (int k = 0; k < NXS; k++)
        for (int i = 0; i < NX; i++) {
            order += i > 0 && xids[k][i] <= xids[k][i - 1];
            all[n++] = xids[k][i];
        }
    CHECK_EQ(order, 0);
    qsort(all, (size_t)n, sizeof(all[0]), cmp_u64);
    for (int i = 1; i < n; i++)
        dups += all[i] == all[i - 1];
    CHECK_EQ(dups, 0);
    CHECK(all[0] >= 1);
}

/* Function names. */
static lthread_t *named, *unnamed;
static const char *const custom = "custom name";

static void named_fn(lthread_t *lt, void *arg)
{
    (void)arg;
    CHECK(lthread_get_funcname(lt) == NULL);
    DEFINE_LTHREAD;
    CHECK(lthread_get_funcname(lt) == __func__);
    CHECK(strcmp(lthread_get_funcname(lt), "named_fn") == 0);
    lthread_sleep(10);
    CHECK(lthread_get_funcname(lt) == __func__);
}

static void unnamed_fn(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(10);
}

static void looker(lthread_t *lt, void *arg)
{
    (void)arg;
    lthread_set_funcname(custom);
    CHECK(lthread_get_funcname(lt) == custom);
    lthread_sleep(2);
    /* Other lthreads' names, read while they sleep. */
    CHECK(lthread_get_funcname(named) != NULL);
    CHECK(strcmp(lthread_get_funcname(named), "named_fn") == 0);
    CHECK(lthread_get_funcname(unnamed) == NULL);
    CHECK(lthread_get_funcname(lt) == custom);
    /* A second call replaces the name; it names the caller only. */
    lthread_set_funcname("looker again");
    CHECK(strcmp(lthread_get_funcname(lt), "looker again") == 0);
    CHECK(strcmp(lthread_get_funcname(named), "named_fn") == 0);
    CHECK(lthread_get_funcname(unnamed) == NULL);
    done++;
}

static void test_funcname(void)
{
    lthread_t *lt;

    done = 0;
    CHECK_EQ(lthread_create(&named, named_fn, NULL), 0);
    CHECK(lthread_get_funcname(named) == NULL); /* not run yet */
    CHECK_EQ(lthread_create(&unnamed, unnamed_fn, NULL), 0);
    CHECK_EQ(lthread_create(&lt, looker, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);
}

/* errno is saved and restored per lthread on every switch. */
static void errno_lt(lthread_t *lt, void *arg)
{
    int mine = 1000 + (int)(intptr_t)arg;

    (void)lt;
    for (int i = 0; i < 20; i++) {
        errno = mine + i;
        lthread_sleep(i % 2);
        /* lthread_sleep() returned 0, so errno is what we left. */
        CHECK_EQ(errno, mine + i);
    }
    done++;
}

static void test_errno(void)
{
    lthread_t *lt;

    done = 0;
    for (intptr_t i = 0; i < 10; i++)
        CHECK_EQ(lthread_create(&lt, errno_lt, (void *)i), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 10);
}

int main(void)
{
    test_data();
    test_ids();
    test_ids_schedulers();
    test_funcname();
    test_errno();
    return check_summary("test_data_id");
}
