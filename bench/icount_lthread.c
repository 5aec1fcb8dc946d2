/*
 * Instructions per hot-path operation, for callgrind (bench/icount.sh):
 * one operation N times, nothing else.
 *   icount_lthread 0 N   cond hand-off: two lthreads signal and wait, N each
 *   icount_lthread 1 N   lthread_sleep(0) hand-off, N each
 *   icount_lthread 2 N   create + run + join of an empty lthread, N times
 *   icount_lthread 3 N   channel hand-off: two lthreads send a value on
 *                        the other's channel (capacity 1) and receive on
 *                        their own, N each
 * icount.sh runs it at two N and divides the difference by the
 * operations added: the start and the end cancel out.
 *
 * Under valgrind the library takes its memcheck paths (requests that
 * mark stack bytes writable, the region-mates' swap through a function
 * of its own): not what runs natively. Linked statically, this program
 * turns them off (lthread__on_valgrind and lthread__start_slow, the
 * library's own flags), so that callgrind counts the native path; callgrind
 * needs none of memcheck's requests. Through the shared library (where the flag
 * is not exported) the counts include them.
 */
#include <lthread.h>
#include <stdio.h>
#include <stdlib.h>
static lthread_cond_t *c[2];
static lthread_chan_t *ch[2];
static volatile int turn;
static long N;
static int mode;
extern int lthread__on_valgrind __attribute__((weak));
extern unsigned char lthread__start_slow __attribute__((weak));
static void empty(lthread_t *lt, void *a)
{
    (void)lt;
    (void)a;
}
static void player(lthread_t *lt, void *arg)
{
    int me = (int)(long)arg;
    (void)lt;
    for (long i = 0; i < N; i++) {
        if (mode == 0) {
            turn = 1 - me;
            lthread_cond_signal(c[1 - me]);
            while (turn != me)
                lthread_cond_wait(c[me], 0);
        } else if (mode == 3) {
            long v;
            lthread_chan_send(ch[1 - me], &i, 0);
            lthread_chan_recv(ch[me], &v, 0);
        } else
            lthread_sleep(0);
    }
    turn = 1 - me;
    if (mode == 0)
        lthread_cond_signal(c[1 - me]);
}
static void creator(lthread_t *lt, void *a)
{
    (void)lt;
    (void)a;
    for (long i = 0; i < N; i++) {
        lthread_t *t;
        lthread_create(&t, empty, NULL);
        lthread_join(t, NULL, 0);
    }
}
int main(int argc, char **argv)
{
    lthread_t *t0, *t1;
    if (argc != 3) {
        fprintf(stderr, "usage: icount_lthread 0|1|2|3 N\n");
        return 2;
    }
    if (&lthread__on_valgrind)
        lthread__on_valgrind = 0; /* (see above) */
    if (&lthread__start_slow)
        lthread__start_slow = 0;
    mode = atoi(argv[1]);
    N = atol(argv[2]);
    lthread_cond_create(&c[0]);
    lthread_cond_create(&c[1]);
    lthread_chan_create(&ch[0], sizeof(long), 1);
    lthread_chan_create(&ch[1], sizeof(long), 1);
    if (mode == 2)
        lthread_create(&t0, creator, NULL);
    else {
        lthread_create(&t0, player, (void *)0);
        lthread_create(&t1, player, (void *)1);
    }
    lthread_run();
    return 0;
}
