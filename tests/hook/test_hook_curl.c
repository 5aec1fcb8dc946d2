/*
 * libcurl's easy API, unmodified, inside lthreads through the hook
 * library: 200 concurrent transfers in 200 lthreads from the project's
 * example server (examples/hello_server, started here on a free loopback
 * port), every body checked. Concurrency: transfers overlap (more
 * than one is in curl_easy_perform() at once), and a transfer from a
 * server that answers only after 1 s (a listener here that holds its
 * reply) does not hold the others up: they all finish meanwhile, and the
 * whole takes about that 1 s.
 */
#ifdef HOOK_TEST_MISSING
#include <stdio.h>
int main(void)
{
    printf("SKIP: %s is not installed\n", HOOK_TEST_MISSING);
    return 77;
}
#else
#include <curl/curl.h>

#include "server_util.h"

#define TRANSFERS 200

static int port, slow_port, slow_lfd;
static int inflight, max_inflight, ok, slow_done, done_before_slow;

struct body {
    char buf[256];
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t len = size * n;

    if (b->len + len >= sizeof(b->buf))
        return 0;
    memcpy(b->buf + b->len, p, len);
    b->len += len;
    return len;
}

static int fetch(int on_port, struct body *b)
{
    char url[64];
    CURL *c = curl_easy_init();
    CURLcode r;
    long code = 0;

    if (!c)
        return -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", on_port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    r = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (r != CURLE_OK)
        fprintf(stderr, "curl: %s\n", curl_easy_strerror(r));
    return r == CURLE_OK && code == 200 ? 0 : -1;
}

static void transfer(void *arg)
{
    struct body b = {.len = 0};

    (void)arg;
    if (++inflight > max_inflight)
        max_inflight = inflight;
    if (fetch(port, &b) == 0 && b.len == 12 &&
        !memcmp(b.buf, "Hello World\n", 12))
        ok++;
    else
        fprintf(stderr, "bad body (%zu bytes)\n", b.len);
    inflight--;
    if (!slow_done)
        done_before_slow++;
}

/* The slow server: answers its one request after 1 s (hooked calls). */
static void slow_server(void *arg)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"
                                "Connection: close\r\n\r\nslow";
    char req[1024];
    int fd = accept(slow_lfd, NULL, NULL);

    (void)arg;
    CHECK(fd >= 0);
    CHECK(read(fd, req, sizeof(req)) > 0);
    sleep(1);
    CHECK_EQ(write(fd, reply, sizeof(reply) - 1), (ssize_t)sizeof(reply) - 1);
    close(fd);
}

static void slow_transfer(void *arg)
{
    struct body b = {.len = 0};
    double t0 = check_now_ms();

    (void)arg;
    CHECK(fetch(slow_port, &b) == 0);
    CHECK(b.len == 4 && !memcmp(b.buf, "slow", 4));
    printf("the slow transfer took %.0f ms\n", check_now_ms() - t0);
    CHECK(check_now_ms() - t0 >= 990);
    slow_done = 1;
}

/* The hello server's port, from its "listening on 127.0.0.1:PORT". */
static int read_port(const char *log)
{
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(log, "r");
        char line[256];
        int p = 0;

        while (f && fgets(line, sizeof(line), f))
            if (sscanf(line, "hello_server: listening on 127.0.0.1:%d", &p) ==
                1)
                break;
        if (f)
            fclose(f);
        if (p > 0)
            return p;
        usleep(20 * 1000);
    }
    return -1;
}

int main(void)
{
    char path[512], log[] = "/tmp/lthread-hook-curl.log";
    char *argv[] = {path, "0", "1", NULL};
    const char *dir = getenv("EXAMPLES_DIR");
    double t0, dt;
    lthread_t *lt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(path, sizeof(path), "%s/hello_server",
             dir ? dir : HOOK_BUILD_DIR "/examples");
    if (access(path, X_OK) != 0)
        skip("%s is not built (make examples)", path);
    nofile_max();
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0);
    unlink(log); /* a previous run's port must not be read */
    CHECK(server_start(argv, log) > 0);
    port = read_port(log);
    CHECK(port > 0);
    if (port <= 0)
        return check_summary("test_hook_curl");
    slow_lfd = tcp_listener(&slow_port);
    CHECK(slow_lfd >= 0);

    t0 = check_now_ms();
    CHECK(lthread_create(&lt, slow_server, NULL) == 0);
    CHECK(lthread_create(&lt, slow_transfer, NULL) == 0);
    for (int i = 0; i < TRANSFERS; i++)
        CHECK(lthread_create(&lt, transfer, NULL) == 0);
    CHECK(lthread_run() == 0);
    dt = check_now_ms() - t0;
    printf("%d transfers and the slow one in lthreads: %.0f ms; at most %d "
           "in curl_easy_perform() at once; %d done before the slow one\n",
           TRANSFERS, dt, max_inflight, done_before_slow);
    CHECK_EQ(ok, TRANSFERS);
    CHECK(slow_done);
    CHECK(max_inflight > 1);
    CHECK(done_before_slow > 0);
    CHECK_TIME(done_before_slow == TRANSFERS);
    CHECK_TIME(dt < 1000 + 2000 * check_slow());
    close(slow_lfd);
    server_stop();
    curl_global_cleanup();
    return check_summary("test_hook_curl");
}
#endif
