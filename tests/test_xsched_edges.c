/*
 * Calls between pthreads at the moments that matter, each made
 * deterministic by an lthread that keeps its scheduler busy (it spins
 * without yielding) while other pthreads post to it, so that the posts
 * wait in the inbox together and are handled in one drain:
 *
 *  - posts from one pthread are handled in the order they were made;
 *  - a wakeup from another pthread ends a sleep only, not a cond wait;
 *  - an lthread destroyed on its own scheduler while a destroy of it from
 *    another pthread waits in the inbox is freed once (the post finds it
 *    dead);
 *  - a join across schedulers whose joinee's scheduler completed it
 *    before the joiner's timer fired succeeds (the cancel refuses);
 *  - a mutex handed over by another pthread to a waiter that is destroyed
 *    before it runs passes on to the next waiter;
 *  - a destroy from another pthread handled while its lthread computes
 *    takes effect when the lthread is back, before it runs again.
 */
#include <lthread.h>

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

static void wait_for(int *flag, int n)
{
    while (__atomic_load_n(flag, __ATOMIC_SEQ_CST) < n)
        usleep(200);
}

/* Spins (never yields: the scheduler cannot look at its inbox) until
 * *flag reaches n, or gives up after a deadline a working library never
 * reaches. */
static void spin_until(int *flag, int n)
{
    double t0 = check_now_ms();

    while (__atomic_load_n(flag, __ATOMIC_SEQ_CST) < n &&
           check_now_ms() - t0 < 20000.0 * check_slow())
        ;
    CHECK(__atomic_load_n(flag, __ATOMIC_SEQ_CST) >= n);
}

/* ---- posting order --------------------------------------------------------
 */

enum { NSLEEPERS = 8 };
static lthread_t *sleepers[NSLEEPERS];
static int order[NSLEEPERS], norder, spinning, posted;

static void ordered_sleeper(lthread_t *lt, void *arg)
{
    (void)lt;
    CHECK_EQ(lthread_sleep(60000), 0); /* woken early */
    order[norder++] = (int)(intptr_t)arg;
}

/* Runs after every sleeper has parked (created last, same scheduler). */
static void spinner(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    __atomic_store_n(&spinning, 1, __ATOMIC_SEQ_CST);
    spin_until(&posted, 1);
}

static void *order_sched(void *arg)
{
    lthread_t *lt;

    (void)arg;
    for (int i = 0; i < NSLEEPERS; i++)
        CHECK_EQ(
            lthread_create(&sleepers[i], ordered_sleeper, (void *)(intptr_t)i),
            0);
    CHECK_EQ(lthread_create(&lt, spinner, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_posting_order(void)
{
    pthread_t t;
    double t0 = check_now_ms();

    spinning = posted = norder = 0;
    CHECK_EQ(pthread_create(&t, NULL, order_sched, NULL), 0);
    wait_for(&spinning, 1);
    for (int i = 0; i < NSLEEPERS; i++)
        CHECK_EQ(lthread_wakeup(sleepers[i]), 0);
    __atomic_store_n(&posted, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(norder, NSLEEPERS);
    for (int i = 0; i < NSLEEPERS; i++)
        CHECK_EQ(order[i], i);
    CHECK(check_now_ms() - t0 < 30000); /* nobody slept its minute */
}

/* ---- a wakeup from elsewhere leaves a cond wait alone -------------------- */

static lthread_cond_t *cond;
static lthread_t *cond_waiter_lt, *marker_lt;
static int parked, marker_woke, signalled, cond_result = 1, cond_done;

static void cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    __atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
    /* A timeout keeps the scheduler from being alone with a cond wait. */
    cond_result = lthread_cond_wait(cond, 60000);
    CHECK_EQ(__atomic_load_n(&signalled, __ATOMIC_SEQ_CST), 1);
    __atomic_store_n(&cond_done, 1, __ATOMIC_SEQ_CST);
}

static void marker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    __atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(lthread_sleep(60000), 0);
    __atomic_store_n(&marker_woke, 1, __ATOMIC_SEQ_CST);
}

static void *cond_sched(void *arg)
{
    (void)arg;
    CHECK_EQ(lthread_create(&cond_waiter_lt, cond_waiter, NULL), 0);
    CHECK_EQ(lthread_create(&marker_lt, marker, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_wakeup_not_cond(void)
{
    pthread_t t;

    parked = marker_woke = signalled = cond_done = 0;
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(pthread_create(&t, NULL, cond_sched, NULL), 0);
    /* Both have parked by the time a post is handled: the scheduler
     * handles posts only between its rounds. */
    wait_for(&parked, 2);
    CHECK_EQ(lthread_wakeup(cond_waiter_lt), 0);
    CHECK_EQ(lthread_wakeup(marker_lt), 0);
    /* Handled in order: the cond waiter's wakeup came first. */
    wait_for(&marker_woke, 1);
    CHECK_EQ(__atomic_load_n(&cond_done, __ATOMIC_SEQ_CST), 0);
    __atomic_store_n(&signalled, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(lthread_cond_signal(cond), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(cond_result, 0);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
}

/* ---- destroyed here while a destroy from elsewhere is queued ------------- */

static lthread_t *victim;
static int children_ran;

static void victim_fn(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(60000);
    CHECK(0); /* destroyed while it sleeps */
}

static void child(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    children_ran++;
}

static void local_destroyer(lthread_t *lt, void *arg)
{
    lthread_t *c[4];

    (void)lt;
    (void)arg;
    __atomic_store_n(&spinning, 1, __ATOMIC_SEQ_CST);
    spin_until(&posted, 1); /* the other destroy waits in our inbox */
    CHECK_EQ(lthread_destroy(victim), 0);
    lthread_sleep(1); /* the post is handled meanwhile */
    /* Control blocks are recycled: each must be handed out once. */
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_create(&c[i], child, NULL), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(lthread_join(c[i], NULL, 0), 0);
    CHECK_EQ(children_ran, 4);
}

static void *destroy_sched(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&victim, victim_fn, NULL), 0);
    CHECK_EQ(lthread_create(&lt, local_destroyer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_destroy_twice(void)
{
    pthread_t t;

    spinning = posted = children_ran = 0;
    CHECK_EQ(pthread_create(&t, NULL, destroy_sched, NULL), 0);
    wait_for(&spinning, 1);
    /* The victim is alive now (it sleeps): a valid call. */
    CHECK_EQ(lthread_destroy(victim), 0);
    __atomic_store_n(&posted, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(children_ran, 4);
}

/* ---- a join completed before the joiner's timer fired -------------------- */

static lthread_t *joinee_lt;
static int joinee_up, joinee_exiting, join_done_posted, join_started;
static double join_t0;

static void joinee(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    joinee_lt = lt;
    __atomic_store_n(&joinee_up, 1, __ATOMIC_SEQ_CST);
    lthread_sleep(60000); /* woken by the joiner's scheduler */
    __atomic_store_n(&joinee_exiting, 1, __ATOMIC_SEQ_CST);
    lthread_exit((void *)42);
}

/* On the joinee's scheduler: runs only once the joinee is off its stack,
 * i.e. its scheduler has completed the join and posted it back. */
static void joinee_watcher(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    while (!__atomic_load_n(&joinee_exiting, __ATOMIC_SEQ_CST))
        lthread_sleep(1);
    __atomic_store_n(&join_done_posted, 1, __ATOMIC_SEQ_CST);
}

static void *joinee_sched(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&lt, joinee, NULL), 0);
    CHECK_EQ(lthread_create(&lt, joinee_watcher, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void late_joiner(lthread_t *lt, void *arg)
{
    void *v = NULL;

    (void)lt;
    (void)arg;
    join_t0 = check_now_ms();
    __atomic_store_n(&join_started, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(lthread_join(joinee_lt, &v, 50), 0);
    CHECK(v == (void *)42);
}

/* Runs once the joiner has parked: its wakeup of the joinee is posted
 * after the join request, so the joinee exits joined. Then it holds the
 * scheduler past the join's timeout until the outcome is on its way. */
static void join_holder(lthread_t *lt, void *arg)
{
    double t0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_wakeup(joinee_lt), 0);
    spin_until(&join_done_posted, 1);
    t0 = check_now_ms();
    while (check_now_ms() - join_t0 < 150 && check_now_ms() - t0 < 1000)
        ; /* the joiner's timer expires meanwhile */
}

static void *joiner_sched(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&lt, late_joiner, NULL), 0);
    CHECK_EQ(lthread_create(&lt, join_holder, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_join_done_before_timeout(void)
{
    pthread_t ts, js;

    joinee_up = joinee_exiting = join_done_posted = join_started = 0;
    CHECK_EQ(pthread_create(&ts, NULL, joinee_sched, NULL), 0);
    wait_for(&joinee_up, 1);
    CHECK_EQ(pthread_create(&js, NULL, joiner_sched, NULL), 0);
    CHECK_EQ(pthread_join(js, NULL), 0);
    CHECK_EQ(pthread_join(ts, NULL), 0);
}

/* ---- a mutex handed to a waiter destroyed before it ran ------------------ */

static lthread_mutex_t *mutex;
static lthread_t *first_waiter;
static int unlocked, second_result = 1;

static void first_locker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_mutex_lock(mutex);
    CHECK(0); /* destroyed before it runs again */
}

static void second_locker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    second_result = lthread_mutex_timedlock(mutex, 5000 * check_slow());
    if (second_result == 0)
        CHECK_EQ(lthread_mutex_unlock(mutex), 0);
}

/* Runs once both lockers wait: destroys the first after the unlock from
 * another pthread handed it the mutex, before the hand-over is handled. */
static void waiter_killer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    __atomic_store_n(&spinning, 1, __ATOMIC_SEQ_CST);
    spin_until(&unlocked, 1);
    CHECK_EQ(lthread_destroy(first_waiter), 0);
}

static void *mutex_sched(void *arg)
{
    lthread_t *lt;

    (void)arg;
    CHECK_EQ(lthread_create(&first_waiter, first_locker, NULL), 0);
    CHECK_EQ(lthread_create(&lt, second_locker, NULL), 0);
    CHECK_EQ(lthread_create(&lt, waiter_killer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_mutex_to_destroyed(void)
{
    pthread_t t;

    spinning = unlocked = 0;
    CHECK_EQ(lthread_mutex_create(&mutex), 0);
    CHECK_EQ(lthread_mutex_lock(mutex), 0); /* held by this pthread */
    CHECK_EQ(pthread_create(&t, NULL, mutex_sched, NULL), 0);
    wait_for(&spinning, 1);
    CHECK_EQ(lthread_mutex_unlock(mutex), 0); /* to the first waiter */
    __atomic_store_n(&unlocked, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(second_result, 0);
    CHECK_EQ(lthread_mutex_destroy(mutex), 0);
}

/* ---- destroyed from elsewhere while it computes ------------------------- */

static lthread_t *computer_lt, *witness_lt;
static int in_section, may_return, witness_woke, computer_after;

static void computer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_compute_begin(), 0);
    __atomic_store_n(&in_section, 1, __ATOMIC_SEQ_CST);
    wait_for(&may_return, 1); /* on a compute pthread: blocking is fine */
    CHECK_EQ(lthread_compute_end(), 0);
    /* Destroyed as it came home: never gets here. */
    __atomic_store_n(&computer_after, 1, __ATOMIC_SEQ_CST);
}

static void witness(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_sleep(60000), 0); /* woken early */
    __atomic_store_n(&witness_woke, 1, __ATOMIC_SEQ_CST);
}

static void *compute_sched(void *arg)
{
    (void)arg;
    CHECK_EQ(lthread_create(&witness_lt, witness, NULL), 0);
    CHECK_EQ(lthread_create(&computer_lt, computer, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    return NULL;
}

static void test_destroy_while_computing(void)
{
    pthread_t t;

    in_section = may_return = witness_woke = computer_after = 0;
    CHECK_EQ(pthread_create(&t, NULL, compute_sched, NULL), 0);
    wait_for(&in_section, 1); /* the witness sleeps by now */
    CHECK_EQ(lthread_destroy(computer_lt), 0);
    /* Posted after the destroy: once the witness woke, the destroy was
     * handled, while its lthread was still away. */
    CHECK_EQ(lthread_wakeup(witness_lt), 0);
    wait_for(&witness_woke, 1);
    __atomic_store_n(&may_return, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(computer_after, 0);
}

int main(void)
{
    test_posting_order();
    test_wakeup_not_cond();
    test_destroy_twice();
    test_join_done_before_timeout();
    test_mutex_to_destroyed();
    test_destroy_while_computing();
    return check_summary("test_xsched_edges");
}
