/*
 * A program with lthreads in every state, for the gdb script
 * (tools/gdb/lthread.py, driven by tests/test_gdb.sh), and a test of its
 * own: it checks with lthread_walk() that each lthread is where the gdb
 * checks expect it (and that state_ms counts), then calls gdbt_stop(),
 * where the gdb driver stops it, and then ends every lthread and checks
 * that each ended as it should (after gdb has placed images in regions and
 * put the owners' bytes back, this shows nothing was left changed).
 *
 * Scheduler A (main pthread; LTHREAD_REGIONS=1, so all shared-stack
 * lthreads share one region), created in this order by gdbt-stopper
 * (private stack; running when stopped):
 *   gdbt-sleeper   shared   lthread_sleep() in gdbt_saved_inner (its
 *                           frames, over 1 KiB, saved in its image:
 *                           later ones ran)
 *   gdbt-condwait  private  lthread_cond_wait() in gdbt_inplace_inner
 *   gdbt-joiner    shared   lthread_join() of gdbt-sleeper
 *   gdbt-reader    shared   lthread_read() of an empty pipe
 *   gdbt-mutex     shared   lthread_mutex_lock() of a mutex the stopper
 *                           holds
 *   gdbt-zombie    shared   exited, not joined yet
 *   gdbt-computer  private  in a compute section (on a compute pthread)
 *   gdbt-chanrecv  shared   lthread_chan_recv() in gdbt_owner_inner: the
 *                           last shared lthread to run, so the region's
 *                           owner (frames in place in a shared region)
 *   gdbt-ready     shared   created last: ready, never run
 * Scheduler B (a second pthread): gdbt-remote, lthread_sleep() in
 * gdbt_remote_inner.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lthread.h"
#if defined(__has_include)
#if __has_include("lthread_int.h") /* (in the tree; not when built against     \
                                      the installed library) */
#include "lthread_int.h"           /* the sleeper's image, for its skew */
#define GDBT_INTERNALS 1
#endif
#endif

#define NAMES 10

static const char *const names[NAMES] = {
    "gdbt-sleeper", "gdbt-condwait", "gdbt-joiner",   "gdbt-reader",
    "gdbt-mutex",   "gdbt-zombie",   "gdbt-computer", "gdbt-chanrecv",
    "gdbt-ready",   "gdbt-stopper"};
static const char *const want_state[NAMES] = {
    "waiting", "waiting",   "waiting", "waiting", "waiting",
    "exited",  "computing", "waiting", "ready",   "running"};
static const char *const want_wait[NAMES] = {
    "sleep", "cond", "join", "fd", "sync", "", "", "sync", "", ""};

static lthread_t *lts[NAMES];
static lthread_cond_t *cond;
static lthread_mutex_t *mutex;
static lthread_chan_t *chan;
static int pipefd[2];
static atomic_int in_compute, compute_release, remote_up;
static lthread_t *remote;
static int results[NAMES];

/* Where the gdb driver stops the program: every lthread in its state. */
__attribute__((noinline)) void gdbt_stop(void)
{
    __asm__ volatile("" ::: "memory");
}

/* Each chain is two calls deep, not inlined, not tail calls, so that a
 * backtrace shows both functions and the entry function. */
#define KEEP(x) __asm__ volatile("" : "+r"(x) : : "memory")

__attribute__((noinline)) static int gdbt_saved_inner(int depth)
{
    int r = lthread_sleep(600000);

    KEEP(depth);
    return r + depth;
}

__attribute__((noinline)) static int gdbt_saved_outer(int depth)
{
    int r = gdbt_saved_inner(depth + 1);

    KEEP(r);
    return r;
}

static void gdbt_saved_main(void *arg)
{
    /* Over 1 KiB of frames: the image may hold the 16 bytes below sp too
     * (src/region.c, image_skew), which the script must account for when
     * it writes the image into the region and takes it out again. Which
     * it does depends on where the image was allocated; GDBT_SHIFT=16
     * moves sp by 16 bytes, and with it the choice (tests/test_gdb.sh
     * runs both and checks that both choices were seen). */
    const char *shift = getenv("GDBT_SHIFT");
    size_t i, n = 1536 + (shift ? (size_t)atoi(shift) % 64 : 0);
    volatile char pad[n];

    (void)arg;
    lthread_set_funcname(names[0]);
    for (i = 0; i < n; i++)
        pad[i] = (char)(i * 7 + 1);
    results[0] = gdbt_saved_outer(41); /* 42: woken early (0) + depth 42 */
    for (i = 0; i < n; i++)
        if (pad[i] != (char)(i * 7 + 1))
            results[0] = -1;
}

__attribute__((noinline)) static int gdbt_inplace_inner(int depth)
{
    int r = lthread_cond_wait(cond, 0);

    KEEP(depth);
    return r + depth;
}

__attribute__((noinline)) static int gdbt_inplace_outer(int depth)
{
    int r = gdbt_inplace_inner(depth + 1);

    KEEP(r);
    return r;
}

static void gdbt_inplace_main(void *arg)
{
    (void)arg;
    lthread_set_funcname(names[1]);
    results[1] = gdbt_inplace_outer(6); /* 7 */
}

static void gdbt_joiner_main(void *arg)
{
    void *v = (void *)1;

    (void)arg;
    lthread_set_funcname(names[2]);
    results[2] = lthread_join(lts[0], &v, 0) == 0 && v == NULL;
}

static void gdbt_reader_main(void *arg)
{
    char c = 0;

    (void)arg;
    lthread_set_funcname(names[3]);
    results[3] = lthread_read(pipefd[0], &c, 1, 0) == 1 && c == 'x';
}

static void gdbt_mutex_main(void *arg)
{
    (void)arg;
    lthread_set_funcname(names[4]);
    results[4] = lthread_mutex_lock(mutex) == 0;
    lthread_mutex_unlock(mutex);
}

static void gdbt_zombie_main(void *arg)
{
    (void)arg;
    lthread_set_funcname(names[5]);
}

__attribute__((noinline)) static int gdbt_compute_spin(void)
{
    int spins = 0;

    atomic_store(&in_compute, 1);
    while (!atomic_load(&compute_release))
        spins++;
    KEEP(spins);
    return 1;
}

static void gdbt_computer_main(void *arg)
{
    (void)arg;
    lthread_set_funcname(names[6]);
    if (lthread_compute_begin() != 0)
        return;
    results[6] = gdbt_compute_spin();
    lthread_compute_end();
}

__attribute__((noinline)) static int gdbt_owner_inner(int depth)
{
    int v = 0;
    int r = lthread_chan_recv(chan, &v, 0);

    KEEP(depth);
    return r == 0 && v == 99 ? depth : -1;
}

static void gdbt_owner_main(void *arg)
{
    (void)arg;
    lthread_set_funcname(names[7]);
    results[7] = gdbt_owner_inner(3); /* 3 */
}

static void gdbt_ready_main(void *arg)
{
    (void)arg;
    lthread_set_funcname(names[8]);
    results[8] = 1;
}

/* ---- scheduler B ----------------------------------------------------------
 */

static int remote_result;

/* (Not the same code as gdbt_saved_inner: gcc would fold the two.) */
__attribute__((noinline)) static int gdbt_remote_inner(int depth)
{
    int r = lthread_sleep(500000);

    KEEP(depth);
    return r * 2 + depth;
}

static void gdbt_remote_main(void *arg)
{
    (void)arg;
    lthread_set_funcname("gdbt-remote");
    remote_result = gdbt_remote_inner(1); /* 1: woken early */
}

/* Runs after gdbt-remote has parked (FIFO): then says so. */
static void gdbt_remote_flag(void *arg)
{
    (void)arg;
    lthread_detach();
    atomic_store(&remote_up, 1);
}

static void *sched_b(void *arg)
{
    lthread_t *flag;

    (void)arg;
    if (lthread_create(&remote, gdbt_remote_main, NULL) != 0 ||
        lthread_create(&flag, gdbt_remote_flag, NULL) != 0)
        return (void *)1;
    return (void *)(intptr_t)lthread_run();
}

/* ---- the check of where everyone is ---------------------------------------
 */

struct seen {
    int found[NAMES];
    int ok[NAMES];
    uint64_t sleeper_ms;
    uint64_t sleeper_id;
    uint64_t join_id;
};

static int look(const struct lthread_info *i, void *arg)
{
    struct seen *s = arg;

    for (int k = 0; k < NAMES; k++) {
        if (!i->name || strcmp(i->name, names[k]))
            continue;
        s->found[k]++;
        s->ok[k] =
            !strcmp(i->state, want_state[k]) && !strcmp(i->wait, want_wait[k]);
        if (k == 0) {
            s->sleeper_ms = i->state_ms;
            s->sleeper_id = i->id;
        }
        if (k == 2)
            s->join_id = i->join_id;
        if (k == 3)
            s->ok[k] = s->ok[k] && i->fd == pipefd[0] && !i->fd_write;
    }
    return 0;
}

/* True when every lthread of A is where it should be. */
static bool all_in_place(struct seen *s)
{
    memset(s, 0, sizeof(*s));
    lthread_walk(look, s);
    for (int k = 0; k < NAMES; k++)
        if (k != 8 && !(s->found[k] == 1 && s->ok[k]))
            return false;
    return atomic_load(&in_compute) && atomic_load(&remote_up);
}

static void gdbt_stopper_main(void *arg)
{
    static const lthread_func_arg fns[] = {
        gdbt_saved_main,    gdbt_inplace_main, gdbt_joiner_main,
        gdbt_reader_main,   gdbt_mutex_main,   gdbt_zombie_main,
        gdbt_computer_main, gdbt_owner_main};
    lthread_attr_t priv;
    struct seen s;
    uint64_t t0;
    int v = 99, tries;

    (void)arg;
    lthread_set_funcname(names[9]);
    lthread_attr_init(&priv);
    priv.flags = LTHREAD_ATTR_PRIVATE_STACK;
    CHECK_EQ(lthread_mutex_lock(mutex), 0);
    for (int k = 0; k < 8; k++) {
        CHECK_EQ(lthread_create_ex(&lts[k], fns[k], NULL,
                                   k == 1 || k == 6 ? &priv : NULL),
                 0);
        lthread_sleep(0); /* it runs now: creation order is run order */
    }
    /* Everyone parks at once, but the compute section and scheduler B
     * take their time: wait for them (a stall only delays this). */
    for (tries = 0; tries < 10000 && !all_in_place(&s); tries++)
        lthread_sleep(1);
    CHECK(all_in_place(&s));
    for (int k = 0; k < NAMES; k++)
        if (k != 8 && !(s.found[k] == 1 && s.ok[k]))
            fprintf(stderr, "%s: found %d, in its state: %d\n", names[k],
                    s.found[k], s.ok[k]);
    CHECK_EQ(s.join_id, s.sleeper_id);
    /* state_ms counts from the park, never less (rule 1 of check.h). */
    t0 = s.sleeper_ms;
    lthread_sleep(30);
    all_in_place(&s);
    CHECK(s.sleeper_ms >= t0 + 30);
    fprintf(stderr, "sleeper in its state for %llu ms\n",
            (unsigned long long)s.sleeper_ms);
#ifdef GDBT_INTERNALS
    {
        /* Whether the sleeper's image holds the 16 bytes below its sp
         * (src/region.c, image_skew: images of 1 KiB or more). */
        struct lthread *sl = (struct lthread *)lts[0];
        size_t len = (size_t)(sl->region->top - (char *)sl->sp);

        fprintf(
            stderr, "sleeper image %zu B at %p, sp %p, skew %u\n", len,
            (void *)sl->image, sl->sp,
            len >= 1024
                ? (unsigned)(((uintptr_t)sl->sp - (uintptr_t)sl->image) & 16u)
                : 0u);
    }
#endif

    CHECK_EQ(lthread_create(&lts[8], gdbt_ready_main, NULL), 0);
    gdbt_stop();

    /* Undo it all; each lthread checks how its wait ended. */
    atomic_store(&compute_release, 1);
    CHECK_EQ(lthread_cond_signal(cond), 0);
    CHECK_EQ(write(pipefd[1], "x", 1), 1);
    CHECK_EQ(lthread_mutex_unlock(mutex), 0);
    CHECK_EQ(lthread_chan_send(chan, &v, 0), 0);
    CHECK_EQ(lthread_wakeup(lts[0]), 0);
    CHECK_EQ(lthread_wakeup(remote), 0);
    CHECK_EQ(lthread_join(lts[5], NULL, 0), 0); /* the zombie */
    for (int k = 1; k < 9; k++)
        if (k != 2 && k != 5)
            CHECK_EQ(lthread_join(lts[k], NULL, 0), 0);
    CHECK_EQ(lthread_join(lts[2], NULL, 0), 0); /* it joined the sleeper */
    CHECK_EQ(results[0], 42);
    CHECK_EQ(results[1], 7);
    CHECK_EQ(results[2], 1);
    CHECK_EQ(results[3], 1);
    CHECK_EQ(results[4], 1);
    CHECK_EQ(results[6], 1);
    CHECK_EQ(results[7], 3);
    CHECK_EQ(results[8], 1);
}

int main(void)
{
    lthread_attr_t priv;
    lthread_t *stopper;
    pthread_t b;
    void *b_result = (void *)1;

    setenv("LTHREAD_REGIONS", "1", 1);
    CHECK_EQ(lthread_cond_create(&cond), 0);
    CHECK_EQ(lthread_mutex_create(&mutex), 0);
    CHECK_EQ(lthread_chan_create(&chan, sizeof(int), 0), 0);
    CHECK_EQ(lthread_pipe(pipefd), 0);
    CHECK_EQ(pthread_create(&b, NULL, sched_b, NULL), 0);
    lthread_attr_init(&priv);
    priv.flags = LTHREAD_ATTR_PRIVATE_STACK;
    CHECK_EQ(lthread_create_ex(&stopper, gdbt_stopper_main, NULL, &priv), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK_EQ(pthread_join(b, &b_result), 0);
    CHECK(b_result == NULL);
    CHECK_EQ(remote_result, 1);
    lthread_cond_destroy(cond);
    lthread_mutex_destroy(mutex);
    lthread_chan_destroy(chan);
    close(pipefd[0]);
    close(pipefd[1]);
    return check_summary("test_gdb_target");
}
