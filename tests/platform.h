/*
 * What the tests need from the system beyond POSIX, in one place: the
 * Linux way, and elsewhere an answer that says "cannot tell", which the
 * tests check for and then skip what depends on it (saying so). Nothing
 * outside this file asks which system it runs on.
 *
 *   platform_threads()     threads of this process now (/proc/self/task)
 *   platform_tid()         the calling thread's id, distinct per thread
 *   platform_heap_in_use() heap bytes in use (mallinfo2)
 *   platform_mappings()    memory mappings of the process (/proc/self/maps)
 *   platform_event_fd()    a kernel counter fd, read and written 8 bytes at
 *                          a time (eventfd)
 *   platform_vm_bytes()    address space in use (/proc/self/statm)
 *
 * Each returns -1 where the system cannot tell (platform_event_fd: -1 with
 * errno ENOSYS).
 */
#ifndef LTHREAD_TEST_PLATFORM_H
#define LTHREAD_TEST_PLATFORM_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__linux__)
#include <dirent.h>
#include <malloc.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int platform_threads(void)
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

static inline long platform_tid(void)
{
    return (long)syscall(SYS_gettid);
}

static inline long platform_heap_in_use(void)
{
#if defined(__GLIBC__)
    return (long)mallinfo2().uordblks;
#else
    return -1;
#endif
}

static inline int platform_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    int n = 0, c;

    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static inline int platform_event_fd(void)
{
    return eventfd(0, 0);
}

static inline long long platform_vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = -1;

    if (!f)
        return -1;
    if (fscanf(f, "%lld", &pages) != 1)
        pages = -1;
    fclose(f);
    return pages < 0 ? -1 : pages * sysconf(_SC_PAGESIZE);
}

/* True when this program runs under a user-mode emulator (qemu-user): a
 * non-x86 build that reads an x86 host's /proc/cpuinfo ("vendor_id" is
 * an x86 field). For the few checks an emulator is known to fail. */
static inline int platform_emulated(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return 0;
#else
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    int found = 0;

    while (f && !found && fgets(line, sizeof(line), f))
        found = !strncmp(line, "vendor_id", 9);
    if (f)
        fclose(f);
    return found;
#endif
}

#else /* no portable way */

static inline int platform_threads(void)
{
    return -1;
}

/* The address of a thread-local: distinct for every live thread. Not
 * inlined, so that it is computed on the thread that calls it (a compute
 * section moves the caller between pthreads). */
__attribute__((noinline, unused)) static long platform_tid(void)
{
    static _Thread_local char mark;

    return (long)(uintptr_t)&mark;
}

static inline long platform_heap_in_use(void)
{
    return -1;
}

static inline int platform_mappings(void)
{
    return -1;
}

static inline int platform_event_fd(void)
{
    errno = ENOSYS;
    return -1;
}

static inline long long platform_vm_bytes(void)
{
    return -1;
}

static inline int platform_emulated(void)
{
    return 0;
}

#endif

/* Prints that a check was skipped, and why; returns 1 (for `if`). */
static inline int platform_skip(const char *what)
{
    printf("SKIP %s: this system cannot tell (tests/platform.h)\n", what);
    return 1;
}

#endif
