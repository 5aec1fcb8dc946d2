/* Real servers for the client library tests: started on loopback by the
 * test, stopped by it (also when a check fails: atexit). */
#ifndef LTHREAD_TEST_HOOK_SERVER_UTIL_H
#define LTHREAD_TEST_HOOK_SERVER_UTIL_H
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "hook_util.h"

static pid_t server_pid;

static inline void server_stop(void)
{
    int st;

    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, &st, 0);
        server_pid = 0;
    }
}

/* A free TCP port on loopback (taken by the kernel, then released). */
static inline int free_port(void)
{
    int port = 0, fd = tcp_listener(&port);

    if (fd < 0)
        return -1;
    close(fd);
    return port;
}

/* Starts argv[0] (a path) with its output to `log`; stopped at exit. */
static inline pid_t server_start(char *const argv[], const char *log)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setpgid(0, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid > 0 && !server_pid) {
        server_pid = pid;
        atexit(server_stop);
    }
    return pid;
}

/* Waits (plain calls, outside lthreads) until port accepts connections,
 * up to `ms`. */
static inline int port_wait(int port, int ms)
{
    for (int waited = 0; waited < ms; waited += 20) {
        int fd = tcp_connect(port);

        if (fd >= 0) {
            close(fd);
            return 0;
        }
        usleep(20 * 1000);
    }
    return -1;
}

/* Raises the fd limit to the hard one (1000 connections need it). */
static inline void nofile_max(void)
{
    struct rlimit r;

    if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* Exits 77 (skip) saying why. */
static inline void skip(const char *fmt, ...)
{
    va_list ap;

    printf("SKIP: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    exit(77);
}
#endif
