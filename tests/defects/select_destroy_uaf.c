/* An lthread parked in lthread_chan_select() on two channels is served on
 * one by another pthread, then destroyed before the wake arrives: the wake
 * frees its wait record, but its waiter on the other channel stays linked
 * there (ASan: heap-use-after-free in lthread__waitq_claim/push). */
#include <lthread.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static lthread_chan_t *c1, *c2;
static lthread_t *s;
static volatile int parked, sent;

static void selector(lthread_t *lt, void *arg)
{
    long a, b;
    struct lthread_chan_op ops[2] = {{c1, LTHREAD_CHAN_RECV, &a, 0},
                                     {c2, LTHREAD_CHAN_RECV, &b, 0}};
    (void)lt;
    (void)arg;
    parked = 1;
    lthread_chan_select(ops, 2, 0);
    puts("selector ran after its destroy");
}

static void destroyer(lthread_t *lt, void *arg)
{
    long v = 7;
    (void)lt;
    (void)arg;
    lthread_sleep(5); /* the selector parks */
    while (!sent)     /* no yield: the wake waits in our inbox */
        ;
    printf("destroy: %d\n", lthread_destroy(s)); /* its wake is on the way */
    lthread_sleep(5); /* the wake arrives: the record is freed */
    printf("send on the other channel: %d\n", lthread_chan_send(c2, &v, 5));
}

static void *sched_a(void *arg)
{
    lthread_t *lt;
    (void)arg;
    lthread_create(&s, selector, NULL);
    lthread_create(&lt, destroyer, NULL);
    lthread_run();
    return NULL;
}

int main(void)
{
    pthread_t a;
    long v = 1;
    setvbuf(stdout, NULL, _IONBF, 0);
    lthread_chan_create(&c1, sizeof(long), 0);
    lthread_chan_create(&c2, sizeof(long), 0);
    pthread_create(&a, NULL, sched_a, NULL);
    while (!parked)
        usleep(100);
    usleep(20000); /* the destroyer spins: A drains nothing now */
    printf("main: send to the selector: %d\n", lthread_chan_send(c1, &v, 0));
    sent = 1;
    pthread_join(a, NULL);
    return 0;
}
