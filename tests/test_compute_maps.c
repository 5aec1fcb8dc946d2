/*
 * Learning must not exhaust the process's memory maps: 100,000 lthreads
 * alive at once, of an entry function that entered a compute section
 * (so each would get a private stack of two maps), leave room for the
 * rest of the process: a pthread can still be created meanwhile, and all
 * of them finish.
 */
#include <lthread.h>

#include <pthread.h>
#include <stdio.h>

#include "check.h"
#include "platform.h"

#if defined(__SANITIZE_ADDRESS__)
#define CHECK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_ASAN 1
#endif
#endif

/* TSan counts lthreads as threads (~8000 at most); ASan's fake stacks make
 * each one heavy. Both still run the logic, at a smaller scale. */
#if CHECK_TSAN
enum { N = 4000 };
#elif defined(CHECK_ASAN)
enum { N = 20000 };
#else
enum { N = 100000 };
#endif

static int started, finished, peak_maps, thread_ok;
static lthread_cond_t *release;

static void *nothing(void *arg)
{
    return arg;
}

/* The entry function that learns: the first one computes. */
static void worker(lthread_t *lt, void *arg)
{
    (void)lt;
    if (arg) {
        CHECK_EQ(lthread_compute_begin(), 0);
        CHECK_EQ(lthread_compute_end(), 0);
        finished++;
        return;
    }
    started++;
    CHECK_EQ(lthread_cond_wait(release, 0), 0);
    finished++;
}

static void observer(lthread_t *lt, void *arg)
{
    pthread_t t;

    (void)lt;
    (void)arg;
    while (started < N) /* every worker has started and sleeps */
        lthread_sleep(5);
    peak_maps = platform_mappings();
    if (pthread_create(&t, NULL, nothing, NULL) == 0) {
        pthread_join(t, NULL);
        thread_ok = 1;
    }
    CHECK_EQ(lthread_cond_broadcast(release), 0);
}

static void spawner(lthread_t *lt, void *arg)
{
    lthread_attr_t attr;
    lthread_t *w;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&w, worker, (void *)1), 0);
    CHECK_EQ(lthread_join(w, NULL, 0), 0);
    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_DETACHED;
    for (int i = 0; i < N; i++)
        if (lthread_create_ex(&w, worker, NULL, &attr) < 0) {
            CHECK(!"lthread_create failed");
            break;
        }
}

int main(void)
{
    lthread_t *lt;

    CHECK_EQ(lthread_cond_create(&release), 0);
    CHECK_EQ(lthread_create(&lt, spawner, NULL), 0);
    CHECK_EQ(lthread_create(&lt, observer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(finished, N + 1);
    lthread_cond_destroy(release);
    CHECK_EQ(thread_ok, 1);
    printf("note: %d lthreads of a learned function alive: %d maps\n", N,
           peak_maps);
    return check_summary("test_compute_maps");
}
