/* An lthread destroyed from another pthread while it computes is freed when
 * its section ends; a message naming it that its scheduler drains in the
 * same batch (here its own lthread_wakeup() from inside the section) then
 * reads the freed control block (ASan: heap-use-after-free in
 * wakeup_deliver). */
#include <lthread.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static lthread_t *volatile t;
static volatile int go;

static void computer(lthread_t *lt, void *arg)
{
    (void)arg;
    t = lt;
    lthread_compute_begin();
    while (!go)
        usleep(100);
    lthread_wakeup(lt);    /* from the section: posted home */
    lthread_compute_end(); /* home: destroyed, as asked meanwhile */
    puts("computer ran after its destroy");
}

static void busy(lthread_t *lt, void *arg)
{
    struct timespec a, b;
    (void)lt;
    (void)arg;
    lthread_sleep(50); /* the destroy is posted and handled meanwhile */
    go = 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do /* no yield: the wakeup and the return pile up in the inbox */
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 <
           100);
}

static void *sched_main(void *arg)
{
    lthread_t *lt;
    lthread_attr_t attr;
    (void)arg;
    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_PRIVATE_STACK; /* not busy's region-mate */
    lthread_create_ex(&lt, computer, NULL, &attr);
    lthread_create(&lt, busy, NULL);
    printf("lthread_run: %d\n", lthread_run());
    return NULL;
}

int main(void)
{
    pthread_t th;
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_create(&th, NULL, sched_main, NULL);
    while (!t)
        usleep(100);
    usleep(10000);
    printf("destroy from main: %d\n", lthread_destroy(t));
    pthread_join(th, NULL);
    return 0;
}
