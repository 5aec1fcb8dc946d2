/* lthread_detach, lthread_destroy in every state, lthread_exit outside. */
#include <lthread.h>

#include <stdint.h>

#include "check.h"

static int reached_end; /* set by lthreads that must not be destroyed */
static int body_ran;    /* set by lthreads that run at all */
static int done;

static void sleeper(lthread_t *lt, void *arg)
{
    (void)lt;
    body_ran++;
    lthread_sleep((uint64_t)(intptr_t)arg);
    reached_end++;
}

/* ---- detach ------------------------------------------------------------ */

static void detached_child(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_detach(), 0);
    lthread_sleep(5);
    reached_end++;
}

static void detach_exit(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_detach(), 0);
    lthread_exit((void *)1);
}

static lthread_t *joined_one;

/* Detaching while someone waits in lthread_join() on us: EINVAL. */
static void detach_while_joined(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(10);
    errno = 0;
    CHECK_EQ(lthread_detach(), -1);
    CHECK_EQ(errno, EINVAL);
    lthread_exit((void *)7);
}

static void joins_joined_one(lthread_t *lt, void *arg)
{
    void *v = NULL;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_join(joined_one, &v, 0), 0);
    CHECK(v == (void *)7);
    done++;
}

static void test_detach(void)
{
    lthread_t *lt;

    errno = 0;
    CHECK_EQ(lthread_detach(), -1);
    CHECK_EQ(errno, EPERM);

    reached_end = done = 0;
    for (int i = 0; i < 10; i++)
        CHECK_EQ(lthread_create(&lt, detached_child, NULL), 0);
    CHECK_EQ(lthread_create(&lt, detach_exit, NULL), 0);
    CHECK_EQ(lthread_create(&joined_one, detach_while_joined, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joins_joined_one, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(reached_end, 10);
    CHECK_EQ(done, 1);

    /* Still EPERM once the scheduler is gone. */
    errno = 0;
    CHECK_EQ(lthread_detach(), -1);
    CHECK_EQ(errno, EPERM);
}

/* ---- destroy in every state -------------------------------------------- */

static void test_destroy_never_run(void)
{
    lthread_t *lt, *lt2;

    body_ran = reached_end = 0;
    /* From outside any lthread, before lthread_run(). */
    CHECK_EQ(lthread_create(&lt, sleeper, (void *)0), 0);
    CHECK_EQ(lthread_create(&lt2, sleeper, (void *)0), 0);
    CHECK_EQ(lthread_destroy(lt), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(body_ran, 1);
    CHECK_EQ(reached_end, 1);

    /* Only destroyed lthreads: lthread_run() has nothing to do. */
    body_ran = 0;
    CHECK_EQ(lthread_create(&lt, sleeper, (void *)0), 0);
    CHECK_EQ(lthread_destroy(lt), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(body_ran, 0);
}

static lthread_t *victim;
static lthread_cond_t *cond;

/* Creates a victim, lets it reach its waiting state, destroys it. */
static void destroy_created_not_run(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&victim, sleeper, (void *)0), 0);
    CHECK_EQ(lthread_destroy(victim), 0);
    lthread_sleep(5);
    done++;
}

static void destroy_sleeper(lthread_t *lt, void *arg)
{
    double t0 = check_now_ms();

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&victim, sleeper, (void *)10000), 0);
    lthread_sleep(5);
    CHECK_EQ(body_ran, 1);
    CHECK_EQ(lthread_destroy(victim), 0);
    /* A detached sleeper too. */
    CHECK_EQ(lthread_create(&victim, detached_child, NULL), 0);
    lthread_sleep(0);
    CHECK_EQ(lthread_destroy(victim), 0);
    lthread_sleep(20);
    /* The victims' sleeps (10 s) hold nothing up. */
    CHECK_TIME(check_now_ms() - t0 < 25 + 100 * check_slow());
    done++;
}

static void cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    body_ran++;
    lthread_cond_wait(cond, (uint64_t)(intptr_t)arg);
    reached_end++;
}

static void destroy_cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_create(&victim, cond_waiter, (void *)0), 0);
    lthread_sleep(5);
    CHECK_EQ(body_ran, 1);
    errno = 0;
    CHECK_EQ(lthread_cond_destroy(cond), -1);
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_destroy(victim), 0);
    /* No waiter left: signal is a no-op and destroy succeeds. */
    CHECK_EQ(lthread_cond_signal(cond), 0);
    CHECK_EQ(lthread_cond_broadcast(cond), 0);
    CHECK_EQ(lthread_cond_destroy(cond), 0);

    /* A waiter with a timeout: its timer must not fire after destroy. */
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_create(&victim, cond_waiter, (void *)20), 0);
    lthread_sleep(5);
    CHECK_EQ(lthread_destroy(victim), 0);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
    lthread_sleep(40);
    done++;
}

/* A waits in join on B; A is destroyed; C joins B later and succeeds. */
static lthread_t *join_target;

static void join_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    body_ran++;
    lthread_join(join_target, NULL, 0);
    reached_end++;
}

static void exit_value(lthread_t *lt, void *arg)
{
    (void)lt;
    lthread_sleep((uint64_t)(intptr_t)arg);
    lthread_exit((void *)0x42);
}

static void destroy_joiner(lthread_t *lt, void *arg)
{
    void *v = NULL;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&join_target, exit_value, (void *)30), 0);
    CHECK_EQ(lthread_create(&victim, join_waiter, NULL), 0);
    lthread_sleep(5);
    CHECK_EQ(body_ran, 1);
    CHECK_EQ(lthread_destroy(victim), 0);
    CHECK_EQ(lthread_join(join_target, &v, 0), 0);
    CHECK(v == (void *)0x42);

    /* Same, with the joiner's timeout pending. */
    body_ran = 0;
    CHECK_EQ(lthread_create(&join_target, exit_value, (void *)30), 0);
    CHECK_EQ(lthread_create(&victim, join_waiter, NULL), 0);
    lthread_sleep(5);
    CHECK_EQ(lthread_destroy(victim), 0);
    v = NULL;
    CHECK_EQ(lthread_join(join_target, &v, 1000), 0);
    CHECK(v == (void *)0x42);
    done++;
}

static void destroy_exited(lthread_t *lt, void *arg)
{
    lthread_t *child;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_create(&child, exit_value, (void *)0), 0);
    lthread_sleep(5); /* it has exited, unjoined */
    CHECK_EQ(lthread_destroy(child), 0);
    done++;
}

static void destroy_errors(lthread_t *lt, void *arg)
{
    (void)arg;
    errno = 0;
    CHECK_EQ(lthread_destroy(lt), -1);
    CHECK_EQ(errno, EDEADLK);
    errno = 0;
    CHECK_EQ(lthread_destroy(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    done++;
}

static void test_destroy_states(void)
{
    lthread_t *lt;

    body_ran = reached_end = done = 0;
    CHECK_EQ(lthread_create(&lt, destroy_created_not_run, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(body_ran, 0);

    body_ran = reached_end = 0;
    CHECK_EQ(lthread_create(&lt, destroy_sleeper, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(reached_end, 0);

    body_ran = reached_end = 0;
    CHECK_EQ(lthread_create(&lt, destroy_cond_waiter, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(body_ran, 2);
    CHECK_EQ(reached_end, 0);

    body_ran = reached_end = 0;
    CHECK_EQ(lthread_create(&lt, destroy_joiner, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(reached_end, 0);

    CHECK_EQ(lthread_create(&lt, destroy_exited, NULL), 0);
    CHECK_EQ(lthread_create(&lt, destroy_errors, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(done, 6);

    errno = 0;
    CHECK_EQ(lthread_destroy(NULL), -1);
    CHECK_EQ(errno, EINVAL);
}

static void test_exit_outside(void)
{
    errno = 0;
    lthread_exit((void *)1);
    CHECK_EQ(errno, EPERM);
    /* Also with a scheduler that exists but does not run. */
    lthread_t *lt;
    CHECK_EQ(lthread_create(&lt, sleeper, (void *)0), 0);
    errno = 0;
    lthread_exit(NULL);
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(lthread_run(), 0);
}

int main(void)
{
    test_detach();
    test_destroy_never_run();
    test_destroy_states();
    test_exit_outside();
    return check_summary("test_detach_destroy");
}
