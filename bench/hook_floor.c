/*
 * hook_floor: the least an LD_PRELOAD interposer of read(2) and write(2)
 * can cost: forwarders to the next definitions, resolved once, nothing
 * else. bench/hook_run.sh preloads it beside liblthread_hook.so so that
 * the hooks' pass-through is compared with the floor in the same run.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>

static ssize_t (*next_read)(int, void *, size_t);
static ssize_t (*next_write)(int, const void *, size_t);

__attribute__((constructor)) static void floor_init(void)
{
    next_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    next_write =
        (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
}

ssize_t read(int fd, void *buf, size_t len)
{
    return next_read(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    return next_write(fd, buf, len);
}
