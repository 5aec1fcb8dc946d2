/* A join from another scheduler that timed out leaves its record linked to
 * the joinee; if the joinee is then freed unfinished by its scheduler's
 * EDEADLK teardown, the record leaks (ASan: xjoin, src/lthread.c). */
#include <lthread.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static lthread_cond_t *never;
static lthread_t *volatile t;
static volatile int b_exists;

static void waiter(lthread_t *lt, void *arg)
{
    (void)arg;
    t = lt;
    lthread_cond_wait(never, 0); /* forever */
}

static void *sched_a(void *arg)
{
    lthread_t *lt;
    (void)arg;
    lthread_create(&lt, waiter, NULL);
    while (!b_exists) /* B's scheduler exists: A is not alone */
        usleep(100);
    /* Waits while B runs (B could signal); alone once B is gone. */
    printf("A: lthread_run: %d (EDEADLK expected)\n", lthread_run());
    return NULL;
}

static void joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    while (!t)
        lthread_sleep(1);
    printf("B: join with 100 ms timeout: %d\n", lthread_join(t, NULL, 100));
}

static void *sched_b(void *arg)
{
    lthread_t *lt;
    (void)arg;
    lthread_create(&lt, joiner, NULL);
    b_exists = 1;
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
