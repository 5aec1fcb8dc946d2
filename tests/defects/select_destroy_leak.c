/* Destroying an lthread parked in lthread_chan_select() on 2 channels
 * leaks the select's sorted copy of its channels (src/sync/chan.c). */
#include <lthread.h>
#include <stdio.h>

static lthread_chan_t *c1, *c2;
static lthread_t *w;

static void selector(lthread_t *lt, void *arg)
{
    long a, b;
    struct lthread_chan_op ops[2] = {{c1, LTHREAD_CHAN_RECV, &a, 0},
                                     {c2, LTHREAD_CHAN_RECV, &b, 0}};
    (void)lt;
    (void)arg;
    lthread_chan_select(ops, 2, 0); /* parks: nothing sent */
}

static void main_lt(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_create(&w, selector, NULL);
    lthread_sleep(5);
    printf("destroy: %d\n", lthread_destroy(w));
}

int main(void)
{
    lthread_t *lt;
    setvbuf(stdout, NULL, _IONBF, 0);
    lthread_chan_create(&c1, sizeof(long), 0);
    lthread_chan_create(&c2, sizeof(long), 0);
    lthread_create(&lt, main_lt, NULL);
    lthread_run();
    lthread_chan_destroy(c1);
    lthread_chan_destroy(c2);
    return 0;
}
