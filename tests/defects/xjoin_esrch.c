/* A join from another scheduler, posted; the joinee's own scheduler
 * destroys it before draining the post: the joiner gets ESRCH (documented
 * for "lt's scheduler has finished"), not ECANCELED. */
#include <errno.h>
#include <lthread.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static lthread_cond_t *never;
static lthread_t *volatile t;
static volatile int joining;

static void target(lthread_t *lt, void *arg)
{
    (void)arg;
    t = lt;
    lthread_cond_wait(never, 0);
}

static void destroyer(lthread_t *lt, void *arg)
{
    struct timespec a, b;
    (void)lt;
    (void)arg;
    while (!joining) /* no yield from here: the post waits in our inbox */
        ;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do /* no yield: the join's post waits in our inbox */
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 <
           50);
    printf("A: destroy: %d\n", lthread_destroy(t));
}

static void *sched_a(void *arg)
{
    lthread_t *lt;
    (void)arg;
    lthread_create(&lt, target, NULL);
    lthread_create(&lt, destroyer, NULL);
    lthread_run();
    return NULL;
}

static void joiner(lthread_t *lt, void *arg)
{
    int r;
    (void)lt;
    (void)arg;
    while (!t)
        lthread_sleep(1);
    joining = 1;
    r = lthread_join(t, NULL, 0);
    printf("B: join: %d (%s)\n", r, r ? strerror(errno) : "ok");
}

static void *sched_b(void *arg)
{
    lthread_t *lt;
    (void)arg;
    lthread_create(&lt, joiner, NULL);
    lthread_run();
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    setvbuf(stdout, NULL, _IONBF, 0);
    lthread_cond_create(&never);
    pthread_create(&a, NULL, sched_a, NULL);
    pthread_create(&b, NULL, sched_b, NULL);
    pthread_join(b, NULL);
    pthread_join(a, NULL);
    return 0;
}
