/*
 * Destroying either side of a join at the awkward moments: a joiner woken
 * by its joinee's exit but not yet run, and a joinee whose woken joiner
 * waits for something else (its region, held by a mate in a compute
 * section) before it can run.
 */
#include <lthread.h>

#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static lthread_t *t_joinee, *t_joiner, *t_killer;
static int exit_target;
static int join_returns, join_cancelled, late_sleep_ok;

static void joinee(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(10);
    /* The killer first, then our exit queues the joiner behind it. */
    CHECK_EQ(lthread_wakeup(t_killer), 0);
    lthread_exit(&exit_target);
}

static void joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_join(t_joinee, NULL, 0);
    join_returns++; /* never: it is destroyed before it runs again */
}

static void late_sleeper(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    /* Its control block may be the destroyed joiner's, recycled. */
    if (lthread_sleep(30) == 0)
        late_sleep_ok++;
}

/* Destroys the joiner while it is READY (woken by the joinee's exit). */
static void killer(lthread_t *lt, void *arg)
{
    lthread_t *late;
    void *v = NULL;

    (void)lt;
    (void)arg;
    lthread_sleep(100000); /* until the joinee wakes us */
    CHECK_EQ(lthread_destroy(t_joiner), 0);
    CHECK_EQ(lthread_create(&late, late_sleeper, NULL), 0);
    lthread_sleep(0); /* let it start its sleep */
    if (*(int *)arg) {
        /* The joinee is an ordinary zombie again. */
        CHECK_EQ(lthread_join(t_joinee, &v, 0), 0);
        CHECK(v == &exit_target);
    } else {
        /* Destroying it touches nobody else. */
        CHECK_EQ(lthread_destroy(t_joinee), 0);
    }
    CHECK_EQ(lthread_join(late, NULL, 0), 0);
}

static void destroyed_joiner(int join_after)
{
    join_returns = late_sleep_ok = 0;
    CHECK_EQ(lthread_create(&t_killer, killer, &join_after), 0);
    CHECK_EQ(lthread_create(&t_joinee, joinee, NULL), 0);
    CHECK_EQ(lthread_create(&t_joiner, joiner, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(join_returns, 0);
    CHECK_EQ(late_sleep_ok, 1);
}

/* ---- a woken joiner waiting for its region ------------------------------ */

static void region_joiner(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    if (lthread_join(t_joinee, NULL, 0) == -1 && errno == ECANCELED)
        join_cancelled++;
    join_returns++;
}

static void computer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(1); /* after the joiner parked */
    CHECK_EQ(lthread_compute_begin(), 0);
    {
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ(lthread_compute_end(), 0);
}

static void private_exit(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(50);
}

static void private_killer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_sleep(150);
    CHECK_EQ(lthread_destroy(t_joinee), 0);
}

static void destroyed_joinee_of_waiting_joiner(void)
{
    lthread_attr_t attr;
    lthread_t *a, *b;

    join_returns = join_cancelled = 0;
    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
    /* Joiner and computer share the only shared region; the joinee and
     * the killer run on stacks of their own. */
    CHECK_EQ(lthread_create(&a, region_joiner, NULL), 0);
    CHECK_EQ(lthread_create(&b, computer, NULL), 0);
    CHECK_EQ(lthread_create_ex(&t_joinee, private_exit, NULL, &attr), 0);
    CHECK_EQ(lthread_create_ex(&t_killer, private_killer, NULL, &attr), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(join_returns, 1);
    CHECK_EQ(join_cancelled, 1);
}

int main(void)
{
    /* One shared region: the joiner must wait for the computer's. */
    setenv("LTHREAD_REGIONS", "1", 1);
    destroyed_joiner(1);
    destroyed_joiner(0);
    destroyed_joinee_of_waiting_joiner();
    return check_summary("test_join_destroy");
}
