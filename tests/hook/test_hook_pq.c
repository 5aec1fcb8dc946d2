/*
 * libpq's synchronous API, unmodified, inside lthreads through the hook
 * library, against a throwaway PostgreSQL cluster made here (initdb into a
 * temporary directory, pg_ctl start on a loopback port; as root, both run
 * as `nobody` through runuser, since postgres refuses root). 100 lthreads
 * connect at once; then one runs SELECT pg_sleep(1) while the other 99
 * keep running queries, every answer checked. Concurrency: queries
 * complete during the sleep (without the hooks the sleeping query would
 * hold the scheduler), and the whole takes about the 1 s of the slowest.
 */
#ifdef HOOK_TEST_MISSING
#include <stdio.h>
int main(void)
{
    printf("SKIP: %s is not installed\n", HOOK_TEST_MISSING);
    return 77;
}
#else
#include <glob.h>
#include <libpq-fe.h>

#include "server_util.h"

#define CONNS 100
#define QUERIES 20

static char conninfo[256];
static int connected, bad, sleeping, slept;
static long during_sleep, queries;
static lthread_cond_t *all_connected;

static void worker(void *arg)
{
    long id = (long)arg;
    PGconn *c = PQconnectdb(conninfo);

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect %ld: %s", id, PQerrorMessage(c));
        bad++;
    }
    if (++connected == CONNS)
        lthread_cond_broadcast(all_connected);
    else
        lthread_cond_wait(all_connected, 0);
    if (id == 0) {
        double t0 = check_now_ms();
        PGresult *r;

        sleeping = 1;
        r = PQexec(c, "SELECT pg_sleep(1), 42");
        slept = 1;
        CHECK(PQresultStatus(r) == PGRES_TUPLES_OK &&
              !strcmp(PQgetvalue(r, 0, 1), "42"));
        printf("pg_sleep(1) took %.0f ms; %ld queries completed meanwhile\n",
               check_now_ms() - t0, during_sleep);
        CHECK(check_now_ms() - t0 >= 990);
        PQclear(r);
    } else {
        while (!sleeping)
            lthread_sleep(1);
        for (int i = 0; i < QUERIES; i++) {
            char q[64], want[32];
            PGresult *r;

            snprintf(q, sizeof(q), "SELECT %ld * 1000 + %d", id, i);
            snprintf(want, sizeof(want), "%ld", id * 1000 + i);
            r = PQexec(c, q);
            if (PQresultStatus(r) != PGRES_TUPLES_OK ||
                strcmp(PQgetvalue(r, 0, 0), want))
                bad++;
            PQclear(r);
            queries++;
            if (!slept)
                during_sleep++;
        }
    }
    PQfinish(c);
}

/* The PostgreSQL server binaries: /usr/lib/postgresql/<version>/bin. */
static int pg_bindir(char *dir, size_t len)
{
    glob_t g;
    int ok;

    if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) != 0)
        return -1;
    ok = snprintf(dir, len, "%s", g.gl_pathv[g.gl_pathc - 1]) < (int)len;
    globfree(&g);
    if (!ok)
        return -1;
    *strrchr(dir, '/') = '\0';
    return 0;
}

static char datadir[] = "/tmp/lthread-hook-pg.XXXXXX";
static char bindir[256], as_user[64];

/* Runs a shell command (as `nobody` when root); 0 on success. */
static int sh(const char *fmt, ...)
{
    char cmd[1024], full[1200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s%s", as_user, cmd);
    return system(full);
}

static void pg_stop(void)
{
    sh("%s/pg_ctl -D %s -m immediate stop >/dev/null 2>&1", bindir, datadir);
    {
        char cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", datadir);
        (void)!system(cmd);
    }
}

int main(void)
{
    int port;
    double t0, dt;
    lthread_t *lt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pg_bindir(bindir, sizeof(bindir)) != 0)
        skip("no PostgreSQL server (Debian: postgresql)");
    if (!mkdtemp(datadir))
        skip("cannot make a temporary directory");
    if (geteuid() == 0) {
        if (access("/usr/sbin/runuser", X_OK) != 0 &&
            access("/sbin/runuser", X_OK) != 0)
            skip("running as root without runuser: postgres refuses root");
        snprintf(as_user, sizeof(as_user), "runuser -u nobody -- ");
        if (chown(datadir, 65534, 65534) != 0)
            skip("cannot give %s to nobody", datadir);
    }
    atexit(pg_stop);
    port = free_port();
    t0 = check_now_ms();
    if (sh("%s/initdb -D %s/db -A trust -U lthread --no-sync >%s/initdb.log "
           "2>&1",
           bindir, datadir, datadir) != 0) {
        CHECK(!"initdb failed (its log is in the data directory)");
        return check_summary("test_hook_pq");
    }
    if (sh("%s/pg_ctl -D %s/db -l %s/pg.log -w -t 60 -o \"-p %d -k %s "
           "-c listen_addresses=127.0.0.1 -c fsync=off -c "
           "max_connections=150\" "
           "start >/dev/null",
           bindir, datadir, datadir, port, datadir) != 0) {
        CHECK(!"pg_ctl start failed");
        return check_summary("test_hook_pq");
    }
    printf("initdb and start: %.0f ms\n", check_now_ms() - t0);
    snprintf(conninfo, sizeof(conninfo),
             "host=127.0.0.1 port=%d dbname=postgres user=lthread", port);

    CHECK(lthread_cond_create(&all_connected) == 0);
    t0 = check_now_ms();
    for (long i = 0; i < CONNS; i++)
        CHECK(lthread_create(&lt, worker, (void *)i) == 0);
    CHECK(lthread_run() == 0);
    dt = check_now_ms() - t0;
    printf("%d connections, pg_sleep(1) and %d x %d queries: %.0f ms\n", CONNS,
           CONNS - 1, QUERIES, dt);
    CHECK_EQ(bad, 0);
    CHECK_EQ(connected, CONNS);
    CHECK_EQ(queries, (long)(CONNS - 1) * QUERIES);
    CHECK(during_sleep > 0);
    /* The slowest operation, not the sum (which is over 1 s plus the
     * queries one after the other): idle, all 1980 queries end within
     * the sleep; with both CPUs taken by other work, 1879-1958 did
     * (make check's other jobs): half of them is the bound. */
    CHECK_TIME(during_sleep * 2 >= queries);
    lthread_cond_destroy(all_connected);
    return check_summary("test_hook_pq");
}
#endif
