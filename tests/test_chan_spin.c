/*
 * A waiter on a buffered channel whose other side runs on another pthread
 * waits as a poller (src/sync/chan.c, chan_park_op): not queued on the
 * channel, but polled by its scheduler's loop (sched.c, sched_poll) while
 * nothing else is ready, so that replies cost no post and no kernel
 * wake-up. What polling must and must not do:
 *   - ping-pongs between two schedulers, one pair or four (whose waits
 *     find other lthreads ready), go without posts (and with
 *     LTHREAD_CHAN_SPIN_US=0 through them, as before);
 *   - a polled channel is busy: destroy fails with EBUSY; a poller
 *     destroyed polls no more, whether it was still polling or already
 *     woken to retry;
 *   - a close ends a poll at once (EPIPE);
 *   - timers of the polling scheduler fire on time, its pollers' own
 *     timeouts too (while other pollers keep the polling going), and a
 *     post to it (a signal from a plain pthread) is handled at once;
 *   - lthread_walk() lists a poller as waiting on "sync";
 *   - pollers that go their budget without a wake wait for real;
 *   - no polling where it cannot help: a peer on the same scheduler, a
 *     rendezvous channel, a waiter already queued on the same side, and
 *     after a run of values through the ring (a drained burst: the other
 *     side gets a batch instead).
 * Each case runs in a child process, with LTHREAD_CHAN_SPIN_US set for it
 * (the library reads it once). "Does it poll" is shown by the posts the
 * scheduler handled (lthread_stats) or by the CPU time its pthread used
 * while it waited (rule 4 of check.h: a stall adds none).
 */
#include <lthread.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "sync_util.h"

static lthread_chan_t *ch, *back;

/* The primer, sent by a plain pthread before the scheduler starts: a
 * waiter polls only once it knows the other side runs elsewhere. */
#define PRIMER (-7)

static double thread_cpu_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint64_t sched_messages(void)
{
    struct lthread_stats st;

    CHECK_EQ(lthread_stats(&st), 0);
    return st.messages;
}

/* ---- a ping-pong between two schedulers ----------------------------------
 */

#define ROUNDS 2000
static int bad_replies;
static uint64_t msgs_ping, msgs_pong;

static void ping(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int v = -1;

        CHECK_EQ(lthread_chan_send(ch, &i, 0), 0);
        CHECK_EQ(lthread_chan_recv(back, &v, 0), 0);
        if (v != i + 1)
            bad_replies++;
    }
    msgs_ping = sched_messages();
}

static void pong(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int v = -1;

        CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0);
        v++;
        CHECK_EQ(lthread_chan_send(back, &v, 0), 0);
    }
    msgs_pong = sched_messages();
}

static void pingpong(bool polls)
{
    pthread_t a, b;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    CHECK_EQ(lthread_chan_create(&back, sizeof(int), 1), 0);
    b = start_sched(pong, NULL);
    a = start_sched(ping, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ(bad_replies, 0);
    printf("ping-pong, %d rounds, %s: %llu + %llu posts handled\n", ROUNDS,
           polls ? "polling" : "LTHREAD_CHAN_SPIN_US=0",
           (unsigned long long)msgs_ping, (unsigned long long)msgs_pong);
    if (polls) /* (a reply takes over a second only to wake a parked one) */
        CHECK(msgs_ping + msgs_pong <= ROUNDS / 4);
    else /* every wait parks, every reply is a post */
        CHECK(msgs_ping + msgs_pong >= ROUNDS / 2);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
    CHECK_EQ(lthread_chan_destroy(back), 0);
}

static void case_pingpong_polls(void)
{
    pingpong(true);
}

/* Four pairs, the pings on one scheduler, the pongs on another: most
 * waits find other lthreads of their scheduler ready. */
#define PAIRS 4
static lthread_chan_t *fwd4[PAIRS], *back4[PAIRS];
static int pairs_done[2];

static void ping4(lthread_t *lt, void *arg)
{
    int k = (int)(intptr_t)arg;

    (void)lt;
    for (int i = 0; i < ROUNDS; i++) {
        int v = -1;

        CHECK_EQ(lthread_chan_send(fwd4[k], &i, 0), 0);
        CHECK_EQ(lthread_chan_recv(back4[k], &v, 0), 0);
        if (v != i + 1)
            bad_replies++;
    }
    if (add(&pairs_done[0], 1) == PAIRS)
        msgs_ping = sched_messages();
}

static void pong4(lthread_t *lt, void *arg)
{
    int k = (int)(intptr_t)arg;

    (void)lt;
    for (int i = 0; i < ROUNDS; i++) {
        int v = -1;

        CHECK_EQ(lthread_chan_recv(fwd4[k], &v, 0), 0);
        v++;
        CHECK_EQ(lthread_chan_send(back4[k], &v, 0), 0);
    }
    if (add(&pairs_done[1], 1) == PAIRS)
        msgs_pong = sched_messages();
}

static void start_pings(void *p)
{
    lthread_t *lt;

    (void)p;
    for (int k = 0; k < PAIRS; k++)
        CHECK_EQ(lthread_create(&lt, ping4, (void *)(intptr_t)k), 0);
}

static void start_pongs(void *p)
{
    lthread_t *lt;

    (void)p;
    for (int k = 0; k < PAIRS; k++)
        CHECK_EQ(lthread_create(&lt, pong4, (void *)(intptr_t)k), 0);
}

static void starter(lthread_t *lt, void *arg);

static void case_pingpong4_polls(void)
{
    pthread_t a, b;

    for (int k = 0; k < PAIRS; k++) {
        CHECK_EQ(lthread_chan_create(&fwd4[k], sizeof(int), 1), 0);
        CHECK_EQ(lthread_chan_create(&back4[k], sizeof(int), 1), 0);
    }
    b = start_sched(starter, (void *)start_pongs);
    a = start_sched(starter, (void *)start_pings);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ(bad_replies, 0);
    printf("%d ping-pongs at once, %d rounds each: %llu + %llu posts\n", PAIRS,
           ROUNDS, (unsigned long long)msgs_ping,
           (unsigned long long)msgs_pong);
    CHECK(msgs_ping + msgs_pong <= PAIRS * ROUNDS / 4);
    for (int k = 0; k < PAIRS; k++) {
        CHECK_EQ(lthread_chan_destroy(fwd4[k]), 0);
        CHECK_EQ(lthread_chan_destroy(back4[k]), 0);
    }
}

static void case_pingpong_parks(void)
{
    pingpong(false);
}

static void send_primer(void)
{
    int v = PRIMER;

    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
}

/* ---- a polled channel is busy ---------------------------------------------
 */

static int entered, done, got;
static uint64_t msgs_poller;

static void poller(lthread_t *lt, void *arg)
{
    int v = -1;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0);
    CHECK_EQ(v, PRIMER);
    set(&entered, 1);
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0);
    got = v;
    msgs_poller = sched_messages();
    set(&done, 1);
}

static void case_destroy_busy(void)
{
    pthread_t a;
    double t0, waited;
    int v = 42;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    send_primer();
    a = start_sched(poller, NULL);
    wait_at_least(&entered, 1);
    t0 = check_now_ms();
    usleep(50 * 1000); /* polling now (for up to 1 s), or parked */
    errno = 0;
    CHECK(lthread_chan_destroy(ch) == -1);
    CHECK_EQ(errno, EBUSY);
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0); /* a plain pthread's */
    waited = check_now_ms() - t0;
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
    CHECK_EQ(got, 42);
    printf("destroy while polled: EBUSY; value after %.0f ms, %llu posts\n",
           waited, (unsigned long long)msgs_poller);
    if (waited < 500) /* the poll (1 s) was still on: no wake was posted */
        CHECK_EQ(msgs_poller, 0);
    else
        printf("(stalled %.0f ms: the poll may have ended; not checked)\n",
               waited);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* ---- timers fire while an lthread polls -----------------------------------
 */

#define TICKS 10
#define TICK_MS 10
static int ticked;
static double ticks_ms;
static int early_timeouts, timeouts;

static void ticker(lthread_t *lt, void *arg)
{
    double t0 = check_now_ms();

    (void)lt;
    (void)arg;
    for (int i = 0; i < TICKS; i++)
        lthread_sleep(TICK_MS);
    ticks_ms = check_now_ms() - t0;
    set(&ticked, 1);
}

/* Polls again and again: each timed receive polls until the ticker's
 * next deadline, then parks until its own timeout. */
static void timed_poller(lthread_t *lt, void *arg)
{
    int v = -1;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0);
    CHECK_EQ(v, PRIMER);
    for (;;) {
        double t0 = check_now_ms();

        if (lthread_chan_recv(ch, &v, 5) == 0)
            break;
        CHECK_EQ(errno, ETIMEDOUT);
        timeouts++;
        if (check_now_ms() - t0 < 4.0) /* (1 ms for the clock) */
            early_timeouts++;
    }
    got = v;
    set(&done, 1);
}

static void starter(lthread_t *lt, void *arg)
{
    (void)lt;
    ((void (*)(void *))arg)(NULL);
}

/* A scheduler on its own pthread that starts with two lthreads, first
 * (its lthread_t stored in *first_lt unless NULL) and second. */
struct pair {
    lthread_func first;
    void *first_arg;
    lthread_func second;
    void *second_arg;
    lthread_t **first_lt;
};

static void pair_start(lthread_t *lt, void *arg)
{
    struct pair *p = arg;
    lthread_t *t;

    (void)lt;
    CHECK_EQ(
        lthread_create(p->first_lt ? p->first_lt : &t, p->first, p->first_arg),
        0);
    CHECK_EQ(lthread_create(&t, p->second, p->second_arg), 0);
}

/* (The pair is read before the scheduler's first lthread returns: the
 * caller's compound literal lives until it joins the pthread.) */
static pthread_t start_pair(struct pair *p)
{
    return start_sched(pair_start, p);
}

static void case_timers(void)
{
    pthread_t a;
    int v = 7;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    send_primer();
    a = start_pair(&(struct pair){ticker, NULL, timed_poller, NULL, NULL});
    wait_at_least(&ticked, 1);
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
    CHECK_EQ(got, 7);
    CHECK_EQ(early_timeouts, 0);
    CHECK(timeouts > 0);
    printf("%d ticks of %d ms beside a poller: %.0f ms (%d timeouts)\n", TICKS,
           TICK_MS, ticks_ms, timeouts);
    /* A poll that ignored the timers would hold each tick for 1 s. */
    CHECK_TIME(ticks_ms < TICKS * TICK_MS + 400.0 * (double)check_slow());
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* ---- a post stops the poll -------------------------------------------------
 */

static lthread_cond_t *cond;
static int cond_waiting;
static double woke_at;

static void cond_waiter(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    set(&cond_waiting, 1);
    CHECK_EQ(lthread_cond_wait(cond, 0), 0);
    woke_at = check_now_ms();
    set(&ticked, 1);
}

static void case_post_stops_poll(void)
{
    pthread_t a;
    double t0;
    int v = 9;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    CHECK_EQ(lthread_cond_create(&cond), 0);
    send_primer();
    a = start_pair(&(struct pair){cond_waiter, NULL, poller, NULL, NULL});
    wait_at_least(&entered, 1);
    wait_at_least(&cond_waiting, 1);
    usleep(20 * 1000); /* the poller polls (for up to 1 s) */
    t0 = check_now_ms();
    CHECK_EQ(lthread_cond_signal(cond), 0); /* posted to its scheduler */
    wait_at_least(&ticked, 1);
    printf("a signal posted while an lthread polled ran after %.1f ms\n",
           woke_at - t0);
    /* A poll that kept on would hold it for up to 1 s. */
    CHECK_TIME(woke_at - t0 < 100.0 + 200.0 * (double)check_slow());
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
    CHECK_EQ(got, 9);
    CHECK_EQ(lthread_cond_destroy(cond), 0);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* ---- a poller's own timeout, while other pollers keep polling on --------
 */

static lthread_chan_t *idle;
static int stop_pp;
static double timed_out_after;
static int timed_rc, timed_errno;

/* Ping-pongs with remote_pong until told to stop: its scheduler keeps
 * polling, with wakes, all along. */
static void busy_ping(lthread_t *lt, void *arg)
{
    int i = 0, v;

    (void)lt;
    (void)arg;
    while (!get(&stop_pp)) {
        CHECK_EQ(lthread_chan_send(ch, &i, 0), 0);
        CHECK_EQ(lthread_chan_recv(back, &v, 0), 0);
        i++;
    }
    i = -1;
    CHECK_EQ(lthread_chan_send(ch, &i, 0), 0);
}

static void remote_pong(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    for (;;) {
        CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0);
        if (v < 0)
            break;
        CHECK_EQ(lthread_chan_send(back, &v, 0), 0);
    }
}

static void idle_receiver(lthread_t *lt, void *arg)
{
    double t0 = check_now_ms();
    int v;

    (void)lt;
    (void)arg;
    timed_rc = lthread_chan_recv(idle, &v, 50);
    timed_errno = errno;
    timed_out_after = check_now_ms() - t0;
    set(&stop_pp, 1);
}

static void case_poll_timeout(void)
{
    pthread_t a, b;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    CHECK_EQ(lthread_chan_create(&back, sizeof(int), 1), 0);
    CHECK_EQ(lthread_chan_create(&idle, sizeof(int), 1), 0);
    b = start_sched(remote_pong, NULL);
    a = start_pair(&(struct pair){busy_ping, NULL, idle_receiver, NULL, NULL});
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("a 50 ms receive beside a busy ping-pong: rc %d after %.1f ms\n",
           timed_rc, timed_out_after);
    CHECK(timed_rc < 0);
    CHECK_EQ(timed_errno, ETIMEDOUT);
    CHECK(timed_out_after >= 49.0); /* (1 ms for the clock) */
    CHECK_TIME(timed_out_after < 50.0 + 300.0 * (double)check_slow());
    CHECK_EQ(lthread_chan_destroy(ch), 0);
    CHECK_EQ(lthread_chan_destroy(back), 0);
    CHECK_EQ(lthread_chan_destroy(idle), 0);
}

/* ---- lthread_walk() sees a poller ------------------------------------------
 */

static int walk_seen;

static int walk_one(const struct lthread_info *i, void *arg)
{
    (void)arg;
    if (i->name && strcmp(i->name, "poller") == 0 &&
        strcmp(i->state, "waiting") == 0 && strcmp(i->wait, "sync") == 0)
        walk_seen++;
    return 0;
}

static void named_poller(lthread_t *lt, void *arg)
{
    lthread_set_funcname("poller");
    poller(lt, arg);
}

static void walker(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_walk(walk_one, NULL), 0);
    set(&ticked, 1);
}

static void case_walk(void)
{
    pthread_t a;
    int v = 11;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    send_primer();
    a = start_pair(&(struct pair){named_poller, NULL, walker, NULL, NULL});
    wait_at_least(&ticked, 1);
    CHECK_EQ(walk_seen, 1);
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
    CHECK_EQ(got, 11);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* ---- a close ends a poll
 * -----------------------------------------------------
 */

static int closed_rc, closed_errno;
static double closed_at;

static void close_poller(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0); /* the primer */
    set(&entered, 1);
    closed_rc = lthread_chan_recv(ch, &v, 0); /* polled (1 s budget) */
    closed_errno = errno;
    closed_at = check_now_ms();
    set(&done, 1);
}

static void case_close_ends_poll(void)
{
    pthread_t a;
    double t0;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    send_primer();
    a = start_sched(close_poller, NULL);
    wait_at_least(&entered, 1);
    usleep(20 * 1000);
    t0 = check_now_ms();
    CHECK_EQ(lthread_chan_close(ch), 0);
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
    CHECK_EQ(closed_rc, -1);
    CHECK_EQ(closed_errno, EPIPE);
    printf("a close ended a poll after %.1f ms\n", closed_at - t0);
    /* A poll blind to the close would run its whole budget (1 s). */
    CHECK_TIME(closed_at - t0 < 100.0 + 200.0 * (double)check_slow());
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* ---- pollers destroyed just as they are woken ---------------------------
 *
 * A plain pthread sends the value a poller waits for and at once destroys
 * it (posted): depending on the timing the poller is destroyed while it
 * polls, after its scheduler woke it but before it ran (the case that
 * must release its count on the channel), or after it took the value.
 * Whichever: the channel must be free afterwards, nothing crashes or
 * leaks (ASan).
 */

#define RACES 300
static lthread_chan_t *race_ch;
static lthread_t *race_lt;
static lthread_cond_t *race_cond;
static lthread_chan_t *race_next; /* (a cond wait with no other scheduler
                                   * to signal it would be a deadlock) */
static int race_polling, race_round, race_busy;

static void race_poller(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(race_ch, &v, 0), 0); /* the primer */
    set(&race_polling, 1);
    if (lthread_chan_recv(race_ch, &v, 0) == 0) /* polled */
        lthread_cond_wait(race_cond, 0); /* stays alive: destroyed here */
}

static void race_main(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int i = 0; i < RACES; i++) {
        int v = PRIMER;

        CHECK_EQ(lthread_chan_create(&race_ch, sizeof(int), 1), 0);
        CHECK_EQ(lthread_chan_send(race_ch, &v, 0), 0);
        set(&race_polling, 0);
        CHECK_EQ(lthread_create(&race_lt, race_poller, NULL), 0);
        set(&race_round, i + 1);
        /* Waits (so that the poller polls) until main has sent and
         * destroyed (posted), and says so. */
        CHECK_EQ(lthread_chan_recv(race_next, &v, 0), 0);
        if (lthread_chan_destroy(race_ch) != 0) {
            race_busy++;
            break;
        }
    }
}

static void case_destroy_woken(void)
{
    pthread_t a;

    CHECK_EQ(lthread_cond_create(&race_cond), 0);
    CHECK_EQ(lthread_chan_create(&race_next, sizeof(int), 1), 0);
    a = start_sched(race_main, NULL);
    for (int i = 0; i < RACES && !get(&race_busy); i++) {
        int v = 1;

        wait_at_least(&race_round, i + 1);
        wait_at_least(&race_polling, 1);
        if (i % 2) /* sometimes while it polls, sometimes a bit later */
            usleep(1);
        CHECK_EQ(lthread_chan_send(race_ch, &v, 0), 0);
        CHECK_EQ(lthread_destroy(race_lt), 0);
        CHECK_EQ(lthread_chan_send(race_next, &v, 0), 0);
    }
    pthread_join(a, NULL);
    CHECK_EQ(race_busy, 0);
    CHECK_EQ(lthread_cond_destroy(race_cond), 0);
    CHECK_EQ(lthread_chan_destroy(race_next), 0);
}

/* The same, deterministic: the poller shares the one region
 * (LTHREAD_REGIONS=1) with an lthread in a compute section, which keeps
 * it. Woken by the value, the poller cannot run (it waits for the region,
 * marked as woken from its poll) and is destroyed there. */
static int comp_in, comp_release, comp_destroy_rc = -1;
static lthread_t *region_poller_lt;

static __attribute__((noinline)) void hold_region(void)
{
    CHECK_EQ(lthread_compute_begin(), 0);
    set(&comp_in, 1);
    while (!get(&comp_release))
        usleep(1000);
    CHECK_EQ(lthread_compute_end(), 0);
}

static void region_holder(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    hold_region();
    /* The poller was destroyed meanwhile: the channel is free. */
    comp_destroy_rc = lthread_chan_destroy(ch);
    set(&done, 1);
}

static void region_poller(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0); /* the primer */
    set(&entered, 1);
    lthread_chan_recv(ch, &v, 0); /* polled; destroyed once woken */
    CHECK(0);                     /* never reached */
}

static void case_destroy_woken_region(void)
{
    pthread_t a;
    int v = 1;

    setenv("LTHREAD_REGIONS", "1", 1);
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    send_primer();
    a = start_pair(&(struct pair){region_poller, NULL, region_holder, NULL,
                                  &region_poller_lt});
    wait_at_least(&entered, 1);
    wait_at_least(&comp_in, 1);
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0); /* wakes the poller */
    usleep(50 * 1000); /* it is woken, and waits for the region */
    CHECK_EQ(lthread_destroy(region_poller_lt), 0);
    usleep(20 * 1000);
    set(&comp_release, 1);
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
    CHECK_EQ(comp_destroy_rc, 0);
}

/* ---- a poller destroyed -----------------------------------------------------
 */

static lthread_t *victim_lt;

static void victim(lthread_t *lt, void *arg)
{
    int v;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0); /* the primer */
    lthread_chan_recv(ch, &v, 0);              /* polled: destroyed there */
    CHECK(0);                                  /* never reached */
}

static void killer(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_destroy(victim_lt), 0);
    /* No longer polled: the channel is free again. */
    CHECK_EQ(lthread_chan_destroy(ch), 0);
    set(&done, 1);
}

static void case_destroy_poller(void)
{
    pthread_t a;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    send_primer();
    a = start_pair(&(struct pair){victim, NULL, killer, NULL, &victim_lt});
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
}

/* ---- where it must not poll: the waits take no CPU -------------------------
 */

#define GAP_MS 300
static double wait_cpu_ms;

/* The same scheduler's sender: one value now, one after GAP_MS. */
static void late_sender(lthread_t *lt, void *arg)
{
    int v = 1;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
    lthread_sleep(GAP_MS);
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
}

static void local_receiver(lthread_t *lt, void *arg)
{
    int v;
    double c0;

    (void)lt;
    (void)arg;
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0);
    c0 = thread_cpu_ms();
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0); /* waits GAP_MS */
    wait_cpu_ms = thread_cpu_ms() - c0;
    set(&done, 1);
}

static void case_no_poll_same_sched(void)
{
    pthread_t a;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 4), 0);
    a = start_pair(
        &(struct pair){late_sender, NULL, local_receiver, NULL, NULL});
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
    printf("waited %d ms for a sender of the same scheduler: %.1f ms CPU\n",
           GAP_MS, wait_cpu_ms);
    CHECK(wait_cpu_ms < GAP_MS / 2);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* A receiver on its own scheduler; the sender is main (a plain pthread). */
static int nfirst, ready_to_recv;

static void remote_receiver(lthread_t *lt, void *arg)
{
    int v;
    double c0 = 0;

    (void)lt;
    (void)arg;
    lt_wait_at_least(&ready_to_recv, 1);
    for (int i = 0; i < nfirst; i++)
        CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0);
    set(&entered, 1);
    c0 = thread_cpu_ms();
    CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0); /* waits GAP_MS */
    wait_cpu_ms = thread_cpu_ms() - c0;
    set(&done, 1);
}

/* The receiver takes `first` values (sent before it starts, unless the
 * channel is a rendezvous), then waits GAP_MS for the last. */
static void remote_wait(size_t cap, int first, const char *what)
{
    pthread_t a;
    int v = 5;

    nfirst = first;
    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), cap), 0);
    a = start_sched(remote_receiver, NULL);
    if (cap == 0) /* each send waits for the receive */
        set(&ready_to_recv, 1);
    for (int i = 0; i < first; i++)
        CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
    set(&ready_to_recv, 1);
    wait_at_least(&entered, 1);
    usleep(GAP_MS * 1000);
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
    wait_at_least(&done, 1);
    pthread_join(a, NULL);
    printf("%s: waited %d ms, %.1f ms CPU\n", what, GAP_MS, wait_cpu_ms);
    CHECK(wait_cpu_ms < GAP_MS / 2);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* Polling allowed (primed by a plain pthread's value), but the wait
 * outlasts the budget (1 ms in this case): the poller waits for real. */
static void case_poll_gives_up(void)
{
    remote_wait(4, 1, "a poller whose wait outlasts its 1 ms budget");
}

static void case_no_poll_rendezvous(void)
{
    remote_wait(0, 1, "rendezvous channel, sender on another pthread");
}

static void case_no_poll_after_burst(void)
{
    remote_wait(128, 100, "100 values drained, then a wait");
}

/* Two receivers of one scheduler: the first takes the primer, then
 * waits through a select (which never polls: it is queued), the second
 * finds it queued and parks too. */
static int nparked;

static void queued_receiver(lthread_t *lt, void *arg)
{
    int v;
    double c0 = thread_cpu_ms();

    (void)lt;
    if (arg) {
        struct lthread_chan_op op = {ch, LTHREAD_CHAN_RECV, &v, 0};

        CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0); /* the primer */
        CHECK_EQ(v, PRIMER);
        add(&nparked, 1);

        CHECK_EQ(lthread_chan_select(&op, 1, 0), 0);
        CHECK_EQ(op.err, 0);
    } else {
        add(&nparked, 1);
        CHECK_EQ(lthread_chan_recv(ch, &v, 0), 0);
    }
    if (add(&done, 1) == 1)
        wait_cpu_ms = thread_cpu_ms() - c0;
}

static void case_no_poll_queued(void)
{
    pthread_t a;
    int v = 3;

    CHECK_EQ(lthread_chan_create(&ch, sizeof(int), 1), 0);
    send_primer();
    a = start_pair(&(struct pair){queued_receiver, (void *)1, queued_receiver,
                                  NULL, NULL});
    wait_at_least(&nparked, 2);
    usleep(GAP_MS * 1000);
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
    CHECK_EQ(lthread_chan_send(ch, &v, 0), 0);
    wait_at_least(&done, 2);
    pthread_join(a, NULL);
    printf("two receivers queued for %d ms: %.1f ms CPU\n", GAP_MS,
           wait_cpu_ms);
    CHECK(wait_cpu_ms < GAP_MS / 2);
    CHECK_EQ(lthread_chan_destroy(ch), 0);
}

/* ---- the cases, each in a child with its LTHREAD_CHAN_SPIN_US -------------
 */

static const struct {
    const char *name;
    const char *spin_us;
    void (*fn)(void);
} cases[] = {
    {"pingpong_polls", "1000000", case_pingpong_polls},
    {"pingpong_parks", "0", case_pingpong_parks},
    {"pingpong4_polls", "1000000", case_pingpong4_polls},
    {"poll_timeout", "1000000", case_poll_timeout},
    {"walk", "1000000", case_walk},
    {"destroy_poller", "1000000", case_destroy_poller},
    {"close_ends_poll", "1000000", case_close_ends_poll},
    {"destroy_woken", "1000000", case_destroy_woken},
    {"destroy_woken_region", "1000000", case_destroy_woken_region},
    {"destroy_busy", "1000000", case_destroy_busy},
    {"timers", "1000000", case_timers},
    {"post_stops_poll", "1000000", case_post_stops_poll},
    {"no_poll_same_sched", "1000000", case_no_poll_same_sched},
    {"no_poll_rendezvous", "1000000", case_no_poll_rendezvous},
    {"no_poll_after_burst", "1000000", case_no_poll_after_burst},
    {"no_poll_queued", "1000000", case_no_poll_queued},
    {"poll_gives_up", "1000", case_poll_gives_up},
};

int main(void)
{
    int failed = 0, timing = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status;
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            char name[64];

            setenv("LTHREAD_CHAN_SPIN_US", cases[i].spin_us, 1);
            cases[i].fn();
            snprintf(name, sizeof(name), "test_chan_spin %s", cases[i].name);
            exit(check_summary(name));
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0) {
            perror("fork");
            return 1;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == CHECK_EXIT_TIMING)
            timing++;
        else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "case %s failed (status %d)\n", cases[i].name,
                    status);
            failed++;
        }
    }
    printf("test_chan_spin: %d cases failed, %d failed only timing checks\n",
           failed, timing);
    if (failed)
        return 1;
    return timing ? CHECK_EXIT_TIMING : 0;
}
