/* A join from another scheduler completes (the joinee exits); the joiner
 * is woken but destroyed before it runs: its join record leaks (ASan:
 * xjoin, src/lthread.c), as for mutex and channel waiters. */
#include <lthread.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static lthread_t *volatile t;
static lthread_t *j;

static void target(lthread_t *lt, void *arg)
{
    (void)arg;
    t = lt;
    lthread_sleep(10); /* then exits: the join's outcome is posted */
}

static void *sched_a(void *arg)
{
    lthread_t *lt;
    (void)arg;
    lthread_create(&lt, target, NULL);
    lthread_run();
    return NULL;
}

static void joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_join(t, NULL, 0);
    puts("B: joiner ran");
}

static void other(lthread_t *lt, void *arg)
{
    struct timespec a, b;
    (void)lt;
    (void)arg;
    lthread_sleep(2); /* the joiner has posted and parked */
    clock_gettime(CLOCK_MONOTONIC, &a);
    do /* no yield: the outcome waits in our inbox */
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 <
           100);
    /* Then both posts are drained at once: the outcome wakes the joiner,
     * the destroy frees it before it runs. */
}

static void *sched_b(void *arg)
{
    lthread_t *lt;
    (void)arg;
    while (!t)
        usleep(100);
    lthread_create(&j, joiner, NULL);
    lthread_create(&lt, other, NULL);
    lthread_run();
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_create(&a, NULL, sched_a, NULL);
    pthread_create(&b, NULL, sched_b, NULL);
    usleep(40000); /* the joinee has exited (10 ms), B still spins */
    printf("main: destroy of the joiner: %d\n", lthread_destroy(j));
    pthread_join(b, NULL);
    pthread_join(a, NULL);
    return 0;
}
