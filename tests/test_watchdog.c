/*
 * LTHREAD_WATCHDOG_MS reports, once, an lthread that runs without
 * switching for longer than the limit (its id and name, on stderr), and
 * LTHREAD_DUMP_SIGNAL makes every scheduler print its summary when the
 * process gets the signal. Both read stderr back from a file. Progress-
 * based: the busy lthread spins until the report shows (or 10 s x slow).
 */
#include <lthread.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char path[] = "/tmp/lthread-watchdog-XXXXXX";

/* Everything written to stderr so far. */
static char *stderr_text(void)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n = 0;

    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static int wait_for_text(const char *what)
{
    double t0 = check_now_ms();

    while (!strstr(stderr_text(), what))
        if (check_now_ms() - t0 > 10000.0 * check_slow())
            return 0;
    return 1;
}

static void busy(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_set_funcname("busy_loop");
    lthread_sleep(1); /* a switch after the name is set */
    /* Spin without switching until the watchdog has spoken. */
    CHECK(wait_for_text("busy_loop) has run for"));
}

static void quiet(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    for (int i = 0; i < 20; i++)
        lthread_sleep(10); /* switches often: never reported */
}

static void dumped(lthread_t *lt, void *arg)
{
    (void)lt;
    (void)arg;
    lthread_set_funcname("dumped_one");
    CHECK_EQ(raise(SIGUSR2), 0);
    /* The dump is printed by the scheduler at its next look: wait for it
     * in a way that lets the scheduler run. */
    for (int i = 0; i < 1000 && !strstr(stderr_text(), "dumped_one"); i++)
        lthread_sleep(10);
    CHECK(strstr(stderr_text(), "lthread scheduler") != NULL);
    CHECK(strstr(stderr_text(), "dumped_one") != NULL);
}

int main(void)
{
    lthread_t *lt;
    int fd = mkstemp(path), saved = dup(2);

    setenv("LTHREAD_WATCHDOG_MS", "50", 1);
    setenv("LTHREAD_DUMP_SIGNAL", "SIGUSR2", 1);
    CHECK(fd >= 0);
    fflush(stderr);
    dup2(fd, 2);
    CHECK_EQ(lthread_create(&lt, quiet, NULL), 0);
    CHECK_EQ(lthread_create(&lt, busy, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    CHECK(strstr(stderr_text(), "busy_loop) has run for") != NULL);
    /* Reported once, and the quiet one never. */
    {
        char *t = stderr_text(), *first = strstr(t, "watchdog");

        CHECK(first && !strstr(first + 1, "watchdog"));
    }
    CHECK_EQ(lthread_create(&lt, dumped, NULL), 0);
    CHECK_EQ(lthread_run(), 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    if (check_failed) /* the failures went to the file: show it */
        fputs(stderr_text(), stderr);
    unlink(path);
    return check_summary("test_watchdog");
}
