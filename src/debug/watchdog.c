/*
 * The watchdog (LTHREAD_WATCHDOG_MS=N): a monitor pthread that, every N/2
 * ms, looks at each scheduler's switch counter (stored anyway for
 * lthread_stats()) and running lthread (stored by each switch only while
 * a watchdog runs: lthread__watching). An
 * lthread that has run for more than N ms without switching (a blocking
 * call, a long loop that belongs in a compute section) is reported once on
 * stderr with its id, name and how long it has run. Nothing is sent into
 * the running code: a report says where the time goes, it does not stop
 * it. Off by default: then no monitor exists.
 */
#include <stdlib.h>
#include <time.h>

#include "lthread_int.h"

static uint64_t limit_ns;
_Atomic bool lthread__watching;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *watch_main(void *arg)
{
    struct timespec pause = {(time_t)(limit_ns / 2 / 1000000000u),
                             (long)(limit_ns / 2 % 1000000000u)};

    (void)arg;
    for (;;) {
        nanosleep(&pause, NULL);
        lthread__sched_each_watch(lthread__now_ns(), limit_ns);
    }
    return NULL;
}

static void watch_setup(void)
{
    const char *v = getenv("LTHREAD_WATCHDOG_MS");
    char *end;
    unsigned long ms;
    pthread_attr_t attr;
    pthread_t t;

    if (!v || !*v)
        return;
    ms = strtoul(v, &end, 10);
    if (*end || ms == 0)
        return;
    limit_ns = (uint64_t)ms * 1000000u;
    /* Before any scheduler switches: this runs once, when the first one
     * is made (the others wait for it). */
    atomic_store_explicit(&lthread__watching, true, memory_order_relaxed);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    (void)pthread_create(&t, &attr, watch_main, NULL);
    pthread_attr_destroy(&attr);
}

void lthread__watchdog_init(void)
{
    pthread_once(&once, watch_setup);
}
