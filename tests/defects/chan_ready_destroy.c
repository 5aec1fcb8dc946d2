/* lthread_destroy() of a channel receiver that a send has just served
 * (woken, not yet run): its wait record is never freed. */
#include <lthread.h>
#include <stdio.h>

static lthread_chan_t *c;
static lthread_t *w;

static void receiver(lthread_t *lt, void *arg)
{
    long v;
    (void)lt;
    (void)arg;
    lthread_chan_recv(c, &v, 0); /* parks: nothing sent yet */
    puts("receiver ran (it should have been destroyed)");
}

static void main_lt(lthread_t *lt, void *arg)
{
    long v = 42;
    (void)lt;
    (void)arg;
    lthread_create(&w, receiver, NULL);
    lthread_sleep(5);                            /* the receiver parks */
    lthread_chan_send(c, &v, 0);                 /* served: READY */
    printf("destroy: %d\n", lthread_destroy(w)); /* before it runs */
}

int main(void)
{
    lthread_t *lt;
    setvbuf(stdout, NULL, _IONBF, 0);
    lthread_chan_create(&c, sizeof(long), 0);
    lthread_create(&lt, main_lt, NULL);
    lthread_run();
    printf("chan_destroy: %d\n", lthread_chan_destroy(c));
    return 0;
}
