/*
 * The stack overflow report: a SIGSEGV handler, run on an alternate signal
 * stack, that recognises a hit on the guard page below the running
 * lthread's stack (a shared region or a private stack), says on stderr
 * which lthread overflowed which stack of what size and how to enlarge it,
 * then lets the fault happen again with the default action, so that the
 * process still dies of SIGSEGV (and dumps core where it would have).
 *
 *   fault address in [region->map, region->base) of the pthread's running
 *   lthread  -> ours: report, SIGSEGV back to SIG_DFL, return: the faulting
 *               instruction runs again and the kernel's default action
 *               kills the process
 *   otherwise -> the handler that was installed before ours (its own
 *               SA_SIGINFO or plain form), or the default action
 *
 * On by default: it costs a sigaction() once per process and, per
 * scheduler, an alternate signal stack (an mmap and a sigaltstack() when
 * the scheduler is made, the same undone when it finishes); nothing on any
 * other path. LTHREAD_OVERFLOW_REPORT=0 turns it off. Off in sanitizer
 * builds: ASan and TSan install their own SIGSEGV handling (ASan reports
 * stack overflows itself).
 *
 * The alternate stack is per pthread (sigaltstack(2) is): a pthread that
 * already has one keeps it, and it is used. Compute pthreads have none of
 * ours: an lthread that overflows inside a compute section dies of the
 * plain SIGSEGV (the handler cannot run on the stack that overflowed).
 *
 * The handler calls only async-signal-safe functions (write, sigaction,
 * raise) and reads the pthread's host through initial-exec TLS.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lthread_int.h"

#if defined(LTHREAD__ASAN) || defined(LTHREAD__TSAN)
#define OVERFLOW_BUILT 0
#else
#define OVERFLOW_BUILT 1
#endif

/* Room for the handler's frames and the kernel's signal frame (which
 * holds the AVX-512 state on x86-64: MINSIGSTKSZ is not enough there). */
#define ALT_STACK_SIZE (64u * 1024)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool enabled;
static struct sigaction previous; /* the SIGSEGV action before ours */

/* This pthread's alternate stack, when it is ours (NULL otherwise). */
static LTHREAD__TLS void *alt_map;

/* ---- formatting without stdio (async-signal-safe) ----------------------- */

struct out {
    char buf[640];
    size_t len;
};

static void put(struct out *o, const char *s)
{
    while (*s && o->len < sizeof(o->buf))
        o->buf[o->len++] = *s++;
}

static void put_num(struct out *o, uint64_t v, unsigned base)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (base == 16)
        put(o, "0x");
    while (n > 0 && o->len < sizeof(o->buf))
        o->buf[o->len++] = tmp[--n];
}

static void report(const struct lthread *lt, const struct lthread__region *r,
                   const void *addr)
{
    struct out o = {.len = 0};
    const char *p;
    ssize_t w;

    put(&o, "lthread: stack overflow: lthread ");
    put_num(&o, lt->id, 10);
    put(&o, " (");
    put(&o, lt->funcname ? lt->funcname : "unnamed");
    put(&o, ") ran past the end of its ");
    if (r->is_private) {
        put(&o, "private stack");
    } else {
        put(&o, "shared stack region ");
        put_num(&o, r->index, 10);
    }
    put(&o, " of ");
    put_num(&o, (uint64_t)(r->top - r->base), 10);
    put(&o, " B (fault at ");
    put_num(&o, (uint64_t)(uintptr_t)addr, 16);
    put(&o, ", in the guard page below it). ");
    if (r->is_private)
        put(&o, "Give it a larger lthread_attr_t.stack_size in "
                "lthread_create_ex(), or use less stack in it.\n");
    else
        put(&o, "Enlarge the regions with lthread_init(size) before the "
                "scheduler's first lthread_create() (deepest stack saved so "
                "far: lthread_stats().stack_high_water), or give this "
                "lthread a private stack of its own size: lthread_create_ex() "
                "with LTHREAD_ATTR_PRIVATE_STACK and stack_size.\n");
    for (p = o.buf; p < o.buf + o.len; p += w) {
        w = write(STDERR_FILENO, p, (size_t)(o.buf + o.len - p));
        if (w <= 0 && errno != EINTR)
            break;
        if (w < 0)
            w = 0;
    }
}

/* ---- the handler ------------------------------------------------------ */

/* SIGSEGV to its default action; a signal that was sent (not a fault) is
 * raised again, a fault happens again when the handler returns. */
static void die_by_default(int sig, const siginfo_t *si)
{
    struct sigaction dfl;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig); /* pending until the handler returns */
}

/* The stack lt runs on, if addr is in the guard page below it. */
static const struct lthread__region *guard_hit(const struct lthread *lt,
                                               const char *addr)
{
    const struct lthread__region *r = lt ? lt->region : NULL;

    if (!r || !lt->sp || !r->map || addr < r->map || addr >= r->base)
        return NULL;
    return r;
}

static void overflow_handler(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    struct lthread__host *h = lthread__tls_host;
    const struct lthread *lt = h ? h->current : NULL;
    const struct lthread__region *r =
        si->si_code > 0 ? guard_hit(lt, si->si_addr) : NULL;

    if (r) {
        report(lt, r, si->si_addr);
        die_by_default(sig, si);
    } else if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, si, uc);
    } else if (previous.sa_handler != SIG_DFL &&
               previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        /* (SIG_IGN cannot ignore a fault: the kernel kills anyway.) */
        die_by_default(sig, si);
    }
    errno = saved;
}

static void setup(void)
{
    const char *v = getenv("LTHREAD_OVERFLOW_REPORT");
    struct sigaction sa;

    if (!OVERFLOW_BUILT || (v && !strcmp(v, "0")))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = overflow_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous) == 0)
        enabled = true;
}

void lthread__overflow_thread_init(void)
{
    stack_t ss, old;
    void *map;

    pthread_once(&once, setup);
    if (!enabled || alt_map)
        return;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return; /* the pthread has one: the handler runs there */
    map = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return; /* no report on this pthread: a plain SIGSEGV */
    memset(&ss, 0, sizeof(ss));
    ss.ss_sp = map;
    ss.ss_size = ALT_STACK_SIZE;
    if (sigaltstack(&ss, NULL) < 0) {
        munmap(map, ALT_STACK_SIZE);
        return;
    }
    alt_map = map;
}

void lthread__overflow_thread_fini(void)
{
    stack_t ss;

    if (!alt_map)
        return;
    memset(&ss, 0, sizeof(ss));
    ss.ss_flags = SS_DISABLE;
    if (sigaltstack(&ss, NULL) < 0)
        return; /* (EPERM: running on it, which cannot be the case here) */
    munmap(alt_map, ALT_STACK_SIZE);
    alt_map = NULL;
}
