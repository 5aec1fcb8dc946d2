/*
 * What the sanitizers and valgrind must be told about our stacks, as inline
 * wrappers that compile to nothing in a normal build, so that the switch
 * path itself carries no #ifdef.
 *
 * AddressSanitizer: every switch is bracketed by start_switch_fiber (before,
 * naming the destination stack) and finish_switch_fiber (after, in the
 * destination). A context that ends for good passes NULL as its fake-stack
 * slot so ASan frees its fake frames. Restored stack images are unpoisoned
 * first: their frames' redzones are not restored, which only loses checks on
 * frames live across a switch.
 * ThreadSanitizer: one TSan fiber per lthread, switched to before each swap;
 * needed because compute sections move lthreads between pthreads.
 * Valgrind: each stack region is registered once, or memcheck takes every
 * switch for a stack overflow.
 */
#ifndef LTHREAD_DEBUG_HOOKS_H
#define LTHREAD_DEBUG_HOOKS_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define LTHREAD__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) /* clang 14 lacks __SANITIZE_ADDRESS__ */
#define LTHREAD__ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define LTHREAD__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LTHREAD__TSAN 1
#endif
#endif

#ifdef LTHREAD__TSAN
#define LTHREAD__HAVE_TSAN 1
#else
#define LTHREAD__HAVE_TSAN 0
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#define LTHREAD__VALGRIND 1
#endif
#endif

#ifdef LTHREAD__ASAN
#include <pthread.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef LTHREAD__TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef LTHREAD__VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

/* Per-lthread sanitizer state, compiled in only where it is used. */
#ifdef LTHREAD__ASAN
#define LTHREAD__ASAN_FIELDS void *asan_fake_stack;
#define lthread__fake_slot(lt) (&(lt)->asan_fake_stack)
#define lthread__fake_of(lt) ((lt)->asan_fake_stack)
#else
#define LTHREAD__ASAN_FIELDS
#define lthread__fake_slot(lt) ((void **)NULL)
#define lthread__fake_of(lt) ((void *)NULL)
#endif
#ifdef LTHREAD__TSAN
#define LTHREAD__TSAN_FIELDS void *tsan_fiber;
#define lthread__fiber_of(lt) ((lt)->tsan_fiber)
#define lthread__fiber_set(lt, f) ((lt)->tsan_fiber = (f))
#else
#define LTHREAD__TSAN_FIELDS
#define lthread__fiber_of(lt) ((void *)NULL)
#define lthread__fiber_set(lt, f) ((void)(f))
#endif

/*
 * A switch decided in one function and made in another (the decision's
 * frame must be gone before the switch, see sched.c): what the sanitizers
 * must be told just before the switch itself. TSan in particular must
 * switch fibers after the last instrumented function exit of the old
 * fiber. Empty in plain builds.
 */
struct lthread__san_switch {
#ifdef LTHREAD__ASAN
    void **fake_save;
    const void *bottom;
    size_t size;
#endif
#ifdef LTHREAD__TSAN
    void *fiber;
#endif
    char unused; /* a struct may not be empty */
};

/* Marks a function that reads or writes other contexts' stacks wholesale:
 * ASan would take their redzones for overflows. */
#ifdef LTHREAD__ASAN
#define LTHREAD__NO_ASAN __attribute__((no_sanitize_address, noinline))
#else
#define LTHREAD__NO_ASAN
#endif

/* Before switching away; fake_stack_save NULL when the context ends. */
static inline void lthread__asan_start_switch(void **fake_stack_save,
                                              const void *bottom, size_t size)
{
#ifdef LTHREAD__ASAN
    __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
    (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

/* First thing after a switch lands; reports the stack we came from. */
static inline void lthread__asan_finish_switch(void *fake_stack_save,
                                               const void **bottom_old,
                                               size_t *size_old)
{
#ifdef LTHREAD__ASAN
    __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
    (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}

/* The calling pthread's stack, which ASan must be told about when an
 * lthread switches back to it. */
static inline void lthread__asan_host_stack(const void **bottom, size_t *size)
{
#ifdef LTHREAD__ASAN
    pthread_attr_t attr;
    void *addr = NULL;
    size_t len = 0;

    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &len);
        pthread_attr_destroy(&attr);
    }
    *bottom = addr;
    *size = len;
#else
    (void)bottom, (void)size;
#endif
}

static inline void lthread__asan_unpoison(const void *addr, size_t size)
{
#ifdef LTHREAD__ASAN
    __asan_unpoison_memory_region(addr, size);
#else
    (void)addr, (void)size;
#endif
}

static inline void *lthread__tsan_current_fiber(void)
{
#ifdef LTHREAD__TSAN
    return __tsan_get_current_fiber();
#else
    return NULL;
#endif
}

static inline void *lthread__tsan_create_fiber(void)
{
#ifdef LTHREAD__TSAN
    return __tsan_create_fiber(0);
#else
    return NULL;
#endif
}

static inline void lthread__tsan_destroy_fiber(void *fiber)
{
#ifdef LTHREAD__TSAN
    if (fiber)
        __tsan_destroy_fiber(fiber);
#else
    (void)fiber;
#endif
}

static inline void lthread__tsan_switch_to(void *fiber)
{
#ifdef LTHREAD__TSAN
    __tsan_switch_to_fiber(fiber, 0);
#else
    (void)fiber;
#endif
}

/* Returns an id for lthread__valgrind_stack_deregister(). */
static inline unsigned lthread__valgrind_stack_register(void *lo, void *hi)
{
#ifdef LTHREAD__VALGRIND
    /* (On architectures valgrind does not support, the macro ignores
     * its arguments.) */
    (void)lo, (void)hi;
    return VALGRIND_STACK_REGISTER(lo, hi);
#else
    (void)lo, (void)hi;
    return 0;
#endif
}

#ifdef LTHREAD__VALGRIND
/* Whether the process runs under valgrind, read once at load (region.c):
 * a client request costs a dozen instructions natively, with a chain of
 * dependent rotates, on every image restored and every lthread started. */
extern __attribute__((visibility("hidden"))) int lthread__on_valgrind;
#endif

/* Memcheck marks stack memory below a stack's lowest sp as unaddressable;
 * a saved image written back there is legitimate. */
static inline void lthread__valgrind_make_writable(void *addr, size_t len)
{
#ifdef LTHREAD__VALGRIND
    (void)addr, (void)len;
    if (lthread__on_valgrind)
        VALGRIND_MAKE_MEM_UNDEFINED(addr, len);
#else
    (void)addr, (void)len;
#endif
}

static inline void lthread__valgrind_stack_deregister(unsigned id)
{
#ifdef LTHREAD__VALGRIND
    (void)id;
    VALGRIND_STACK_DEREGISTER(id);
#else
    (void)id;
#endif
}

/* Records what lthread__san_before_switch() will tell the sanitizers. */
static inline void lthread__san_prepare(struct lthread__san_switch *p,
                                        void **fake_save, const void *bottom,
                                        size_t size, void *fiber)
{
#ifdef LTHREAD__ASAN
    p->fake_save = fake_save;
    p->bottom = bottom;
    p->size = size;
#else
    (void)fake_save, (void)bottom, (void)size;
#endif
#ifdef LTHREAD__TSAN
    p->fiber = fiber;
#else
    (void)fiber;
#endif
    (void)p;
}

static inline void
lthread__san_before_switch(const struct lthread__san_switch *p)
{
    lthread__asan_start_switch(
#ifdef LTHREAD__ASAN
        p->fake_save, p->bottom, p->size
#else
        NULL, NULL, 0
#endif
    );
#ifdef LTHREAD__TSAN
    lthread__tsan_switch_to(p->fiber);
#endif
    (void)p;
}

#endif /* LTHREAD_DEBUG_HOOKS_H */
