/* Counting the process's threads, for the compute pool tests. */
#ifndef LTHREAD_TEST_THREADS_UTIL_H
#define LTHREAD_TEST_THREADS_UTIL_H

#include <dirent.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Threads of the process now (entries of /proc/self/task), or -1. */
static inline int nthreads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static inline void *threads_util_noop(void *arg)
{
    return arg;
}

/* Threads of the process before any compute worker: main, plus whatever a
 * runtime starts with the first pthread_create (TSan's background thread),
 * which a thrown-away pthread triggers first. */
static inline int base_threads(void)
{
    pthread_t th;

    if (pthread_create(&th, NULL, threads_util_noop, NULL) == 0)
        pthread_join(th, NULL);
    usleep(10000);
    return nthreads();
}

/* The calling thread's kernel id. */
static inline long gettid_(void)
{
    return (long)syscall(SYS_gettid);
}

#endif
