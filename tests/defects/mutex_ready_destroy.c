/* lthread_destroy() of a mutex waiter that an unlock has just handed the
 * mutex to (woken, not yet run): the mutex stays locked forever. */
#include <lthread.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static lthread_mutex_t *m;
static lthread_t *w;

static void waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_mutex_lock(m); /* parks: main_lt holds m */
    puts("waiter ran (it should have been destroyed)");
}

static void main_lt(lthread_t *lt, void *arg)
{
    int r;
    (void)lt;
    (void)arg;
    lthread_mutex_lock(m);
    lthread_create(&w, waiter, NULL);
    lthread_sleep(5);        /* the waiter parks on m */
    lthread_mutex_unlock(m); /* hands m to the waiter: READY */
    r = lthread_destroy(w);  /* before it runs */
    printf("destroy: %d\n", r);
    r = lthread_mutex_trylock(m);
    printf("trylock after: %d (errno %d%s)\n", r, r ? errno : 0,
           r && errno == EBUSY ? ", EBUSY: nobody alive holds it" : "");
    if (r == 0)
        lthread_mutex_unlock(m);
    r = lthread_mutex_timedlock(m, 100);
    printf("timedlock(100 ms): %d\n", r);
    if (r == 0)
        lthread_mutex_unlock(m);
}

int main(void)
{
    lthread_t *lt;
    setvbuf(stdout, NULL, _IONBF, 0);
    lthread_mutex_create(&m);
    lthread_create(&lt, main_lt, NULL);
    lthread_run();
    {
        int r = lthread_mutex_destroy(m);

        printf("mutex_destroy at the end: %d (%s)\n", r,
               r ? strerror(errno) : "ok");
    }
    return 0;
}
