/* lthread_join and lthread_exit. */
#include <lthread.h>

#include <stdint.h>

#include "check.h"

static int done;
static int exit_value_target;

static void exit_with(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_sleep((uint64_t)(intptr_t)arg);
    lthread_exit(&exit_value_target);
    CHECK(!"lthread_exit() returned"); /* not reached */
}

static void plain_return(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_sleep((uint64_t)(intptr_t)arg);
}

static void sleep_then_exit(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_sleep((uint64_t)(intptr_t)arg);
    lthread_exit((void *)0x1234);
}

/* Join values: lthread_exit(ptr), plain return, ptr NULL. */
static void joiner_values(lthread_t *lt, void *arg)
{
    lthread_t *child;
    void *v;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&child, exit_with, (void *)5), 0);
    v = NULL;
    CHECK_EQ(lthread_join(child, &v, 0), 0);
    CHECK(v == &exit_value_target);

    CHECK_EQ(lthread_create(&child, plain_return, (void *)5), 0);
    v = (void *)1;
    CHECK_EQ(lthread_join(child, &v, 0), 0);
    CHECK(v == NULL);

    CHECK_EQ(lthread_create(&child, sleep_then_exit, (void *)0), 0);
    CHECK_EQ(lthread_join(child, NULL, 0), 0);

    /* The child exits before its timeout: 0 and the value. */
    CHECK_EQ(lthread_create(&child, sleep_then_exit, (void *)5), 0);
    v = NULL;
    CHECK_EQ(lthread_join(child, &v, 10000), 0);
    CHECK(v == (void *)0x1234);
    done++;
}

/* Timeout, then join again successfully. */
static void joiner_timeout(lthread_t *lt, void *arg)
{
    lthread_t *child;
    void *v = (void *)1;
    double t0, el;
    long slow = check_slow();

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&child, sleep_then_exit, (void *)200), 0);
    t0 = check_now_ms();
    errno = 0;
    CHECK_EQ(lthread_join(child, &v, 20), -2);
    el = check_now_ms() - t0;
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(v == (void *)1);
    CHECK(el >= 19);
    CHECK_TIME(el < 20 + 100 * slow);
    /* Again with a timeout, still too short. */
    errno = 0;
    CHECK_EQ(lthread_join(child, &v, 10), LTHREAD_TIMEOUT);
    CHECK_EQ(errno, ETIMEDOUT);
    /* Now wait for good. */
    CHECK_EQ(lthread_join(child, &v, 0), 0);
    CHECK(v == (void *)0x1234);
    el = check_now_ms() - t0;
    CHECK(el >= 199);
    CHECK_TIME(el < 200 + 100 * slow);
    done++;
}

/* Join on an lthread that already exited. */
static void joiner_exited(lthread_t *lt, void *arg)
{
    lthread_t *child, *child2;
    void *v = NULL;
    double t0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&child, sleep_then_exit, (void *)0), 0);
    CHECK_EQ(lthread_create(&child2, plain_return, (void *)0), 0);
    CHECK_EQ(lthread_sleep(20), 0);
    t0 = check_now_ms();
    CHECK_EQ(lthread_join(child, &v, 0), 0);
    CHECK(v == (void *)0x1234);
    v = (void *)1;
    CHECK_EQ(lthread_join(child2, &v, 5), 0); /* no timeout either */
    CHECK(v == NULL);
    CHECK_TIME(check_now_ms() - t0 < 100 * check_slow());
    done++;
}

static void joiner_errors(lthread_t *lt, void *arg)
{
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_join(lt, NULL, 0), -1);
    CHECK_EQ(errno, EDEADLK);
    errno = 0;
    CHECK_EQ(lthread_join(lthread_current(), NULL, 100), -1);
    CHECK_EQ(errno, EDEADLK);
    errno = 0;
    CHECK_EQ(lthread_join(NULL, NULL, 0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_join(NULL, NULL, 10), -1);
    CHECK_EQ(errno, EINVAL);
    done++;
}

/* Joining a detached lthread. */
static void detach_and_sleep(lthread_t *lt, void *arg)
{
    (void)lt;
    CHECK_EQ(lthread_detach(), 0);
    lthread_sleep((uint64_t)(intptr_t)arg);
}

static void joiner_detached(lthread_t *lt, void *arg)
{
    lthread_t *child;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&child, detach_and_sleep, (void *)30), 0);
    CHECK_EQ(lthread_sleep(0), 0); /* let it run and detach */
    errno = 0;
    CHECK_EQ(lthread_join(child, NULL, 0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_join(child, NULL, 10), -1);
    CHECK_EQ(errno, EINVAL);
    done++;
}

/* Two joiners on one lthread: the second gets EINVAL. */
static lthread_t *target;
static int first_joined;

static void first_joiner(lthread_t *lt, void *arg)
{
    void *v = NULL;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_join(target, &v, 0), 0);
    CHECK(v == (void *)0x1234);
    first_joined = 1;
}

static void second_joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(5); /* first_joiner waits by now */
    errno = 0;
    CHECK_EQ(lthread_join(target, NULL, 0), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(lthread_join(target, NULL, 10), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(first_joined, 0);
    done++;
}

/* A joiner whose target is destroyed while it waits. */
static lthread_t *victim;

static void canceled_joiner(lthread_t *lt, void *arg)
{
    double t0 = check_now_ms();
    void *v = (void *)1;

    (void)lt;
    errno = 0;
    CHECK_EQ(lthread_join(victim, &v, (uint64_t)(intptr_t)arg), -1);
    CHECK_EQ(errno, ECANCELED); /* not the victim's exit, nor a timeout */
    CHECK(v == (void *)1);
    CHECK_TIME(check_now_ms() - t0 < 10 + 100 * check_slow());
    done++;
}

/* The order lthreads ran in (joiner_direct). */
static int order[8], norder;

static void note_order(lthread_t *lt, void *arg)
{
    (void)lt;
    if (norder < 8)
        order[norder++] = (int)(intptr_t)arg;
}

static size_t zombies_now(void)
{
    struct lthread_stats st;

    CHECK_EQ(lthread_stats(&st), 0);
    return st.exited;
}

/* An exit hands over straight to its joiner where the joiner would run
 * next anyway (nothing else ready): the join gets the value, and the
 * zombies left unjoined stay zombies, walked and joinable; where others
 * are ready, they run before the joiner is back, as they would without
 * that hand-over. */
static void joiner_direct(lthread_t *lt, void *arg)
{
    lthread_t *z, *c, *b;
    void *v = NULL;

    (void)lt;
    (void)arg;
    norder = 0;
    CHECK_EQ(lthread_create(&z, note_order, (void *)1), 0);
    CHECK_EQ(lthread_sleep(0), 0); /* z runs and exits: a zombie */
    CHECK_EQ(norder, 1);
    CHECK_EQ(zombies_now(), 1);
    for (int i = 0; i < 3; i++) { /* alone ready: straight back */
        /* (by the return of its function: lthread_exit() goes the
         * common way, the next) */
        CHECK_EQ(lthread_create(&c, plain_return, (void *)0), 0);
        v = (void *)1;
        CHECK_EQ(lthread_join(c, &v, 0), 0);
        CHECK(v == NULL);
        CHECK_EQ(zombies_now(), 1);
        CHECK_EQ(lthread_create(&c, sleep_then_exit, (void *)0), 0);
        CHECK_EQ(lthread_join(c, &v, 0), 0);
        CHECK(v == (void *)0x1234);
        CHECK_EQ(zombies_now(), 1);
    }
    CHECK_EQ(lthread_create(&c, note_order, (void *)2), 0);
    CHECK_EQ(lthread_create(&b, note_order, (void *)3), 0);
    CHECK_EQ(lthread_join(c, NULL, 0), 0);
    CHECK_EQ(norder, 3); /* b ran before we were back */
    CHECK_EQ(order[1], 2);
    CHECK_EQ(order[2], 3);
    CHECK_EQ(zombies_now(), 2);
    v = (void *)1;
    CHECK_EQ(lthread_join(b, &v, 0), 0);
    CHECK(v == NULL);
    v = (void *)1;
    CHECK_EQ(lthread_join(z, &v, 0), 0);
    CHECK(v == NULL);
    CHECK_EQ(zombies_now(), 0);
    done++;
}

static void destroyer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(10);
    CHECK_EQ(lthread_destroy(victim), 0);
}

int main(void)
{
    lthread_t *lt;

    done = 0;
    CHECK_EQ(lthread_create(&lt, joiner_values, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joiner_timeout, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joiner_exited, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joiner_errors, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joiner_detached, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 5);

    /* Outside an lthread: EPERM. */
    CHECK_EQ(lthread_create(&lt, plain_return, (void *)0), 0);
    errno = 0;
    CHECK_EQ(lthread_join(lt, NULL, 0), -1);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK_EQ(lthread_join(lt, NULL, 10), -1);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_run(), 0); /* frees the unjoined one */

    done = 0;
    first_joined = 0;
    CHECK_EQ(lthread_create(&target, sleep_then_exit, (void *)50), 0);
    CHECK_EQ(lthread_create(&lt, first_joiner, NULL), 0);
    CHECK_EQ(lthread_create(&lt, second_joiner, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(first_joined, 1);
    CHECK_EQ(done, 1);

    /* Destroyed while joined, with and without a timeout. */
    done = 0;
    CHECK_EQ(lthread_create(&victim, plain_return, (void *)5000), 0);
    CHECK_EQ(lthread_create(&lt, canceled_joiner, (void *)0), 0);
    CHECK_EQ(lthread_create(&lt, destroyer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(lthread_create(&victim, plain_return, (void *)5000), 0);
    CHECK_EQ(lthread_create(&lt, canceled_joiner, (void *)3000), 0);
    CHECK_EQ(lthread_create(&lt, destroyer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 2);

    done = 0;
    CHECK_EQ(lthread_create(&lt, joiner_direct, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 1);

    return check_summary("test_join");
}
