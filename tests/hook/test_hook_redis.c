/*
 * hiredis's synchronous API, unmodified, inside lthreads through the hook
 * library, against a redis-server started here on a loopback port: 1,000
 * lthreads on one scheduler, each with its own connection, each making
 * 100 SET/GET round trips (every reply checked). Concurrency: all
 * connections are in a round trip at once at some point (without the
 * hooks, one would be), and a BLPOP that the server holds for 1 s does
 * not stop the others. Printed for BENCHMARKS.md: the same 200,000
 * commands' rate against one connection used sequentially (a sample) and
 * redis-benchmark's, in the same run.
 */
#ifdef HOOK_TEST_MISSING
#include <stdio.h>
int main(void)
{
    printf("SKIP: %s is not installed\n", HOOK_TEST_MISSING);
    return 77;
}
#else
#include <hiredis/hiredis.h>

#include "server_util.h"

#define CONNS 1000
#define ROUNDS 100

static int port;
static int inflight, max_inflight, done_conns, bad, blpop_done;
static long ops_during_blpop, ops;

static void client(void *arg)
{
    long id = (long)arg;
    redisContext *c = redisConnect("127.0.0.1", port);
    char key[32], val[64];

    if (!c || c->err) {
        fprintf(stderr, "connect %ld: %s\n", id, c ? c->errstr : "ENOMEM");
        bad++;
        if (c)
            redisFree(c);
        return;
    }
    snprintf(key, sizeof(key), "k%ld", id);
    for (int i = 0; i < ROUNDS; i++) {
        redisReply *r;

        snprintf(val, sizeof(val), "v%ld-%d", id, i);
        if (++inflight > max_inflight)
            max_inflight = inflight;
        r = redisCommand(c, "SET %s %s", key, val);
        if (!r || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK"))
            bad++;
        freeReplyObject(r);
        r = redisCommand(c, "GET %s", key);
        if (!r || r->type != REDIS_REPLY_STRING || strcmp(r->str, val))
            bad++;
        freeReplyObject(r);
        inflight--;
        ops += 2;
        if (!blpop_done)
            ops_during_blpop += 2;
    }
    redisFree(c);
    done_conns++;
}

/* A command the server holds for 1 s. */
static void blocker(void *arg)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    redisReply *r;
    double t0 = check_now_ms();

    (void)arg;
    CHECK(c && !c->err);
    r = redisCommand(c, "BLPOP nothing-here 1");
    CHECK(r && r->type == REDIS_REPLY_NIL);
    printf("BLPOP held 1 s: returned after %.0f ms\n", check_now_ms() - t0);
    CHECK(check_now_ms() - t0 >= 990);
    freeReplyObject(r);
    redisFree(c);
    blpop_done = 1;
}

static double sequential_rate(int n)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    double t0 = check_now_ms(), dt;

    CHECK(c && !c->err);
    for (int i = 0; i < n; i++) {
        redisReply *r = redisCommand(c, i % 2 ? "GET seq" : "SET seq %d", i);

        CHECK(r != NULL);
        freeReplyObject(r);
    }
    dt = check_now_ms() - t0;
    redisFree(c);
    return n / dt * 1000.0;
}

static void redis_benchmark(void)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd),
             "redis-benchmark -h 127.0.0.1 -p %d -c 1000 -n 40000 -t set,get "
             "-q 2>/dev/null | tr '\\r' '\\n' | grep -a 'requests per second'",
             port);
    printf("redis-benchmark -c 1000 -n 40000 -t set,get:\n");
    fflush(stdout);
    if (system(cmd) != 0)
        printf("  (redis-benchmark gave no figures)\n");
}

int main(void)
{
    char portbuf[16], log[] = "/tmp/lthread-hook-redis.log";
    char *argv[] = {"/usr/bin/redis-server",
                    "--port",
                    portbuf,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--maxclients",
                    "4000",
                    NULL};
    double t0, dt, seq;
    lthread_t *lt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (access(argv[0], X_OK) != 0)
        skip("redis-server is not installed (Debian: redis-server)");
    nofile_max();
    port = free_port();
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    CHECK(server_start(argv, log) > 0);
    if (port_wait(port, 10000 * (int)check_slow()) != 0) {
        CHECK(!"redis-server did not start (see /tmp/lthread-hook-redis.log)");
        return check_summary("test_hook_redis");
    }
    seq = sequential_rate(20000);

    t0 = check_now_ms();
    CHECK(lthread_create(&lt, blocker, NULL) == 0);
    for (long i = 0; i < CONNS; i++)
        CHECK(lthread_create(&lt, client, (void *)i) == 0);
    CHECK(lthread_run() == 0);
    dt = check_now_ms() - t0;

    printf("%d lthreads x %d SET/GET on one scheduler: %.0f ms, "
           "%.0f commands/s; at most %d in a round trip at once\n",
           CONNS, ROUNDS, dt, ops / dt * 1000.0, max_inflight);
    printf("1 connection, sequential, no lthreads: %.0f commands/s\n", seq);
    printf("%ld commands completed while the BLPOP waited\n", ops_during_blpop);
    CHECK_EQ(bad, 0);
    CHECK_EQ(done_conns, CONNS);
    CHECK_EQ(ops, 2L * CONNS * ROUNDS);
    CHECK(max_inflight >= CONNS * 9 / 10);
    CHECK(ops_during_blpop > 0);
    redis_benchmark();
    server_stop();
    return check_summary("test_hook_redis");
}
#endif
