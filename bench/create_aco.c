/*
 * create, libaco peer (built only with `make -C bench LIBACO=DIR`, see
 * switch_aco.c): aco_create on one shared stack, aco_resume runs the
 * empty entry to its aco_exit(), aco_destroy, N times.
 *   aco.create_resume_destroy - ns per create + run + destroy
 * Usage: create_aco [N]
 */
#include <aco.h>

#include "bench.h"

static void entry(void)
{
    bench_sink++;
    aco_exit();
}

static void loop(aco_t *main_co, aco_share_stack_t *sstk, long n)
{
    for (long i = 0; i < n; i++) {
        aco_t *co = aco_create(main_co, sstk, 0, entry, NULL);

        aco_resume(co);
        if (!co->is_end)
            BENCH_DIE("coroutine %ld did not end", i);
        aco_destroy(co);
    }
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 1000000);
    aco_share_stack_t *sstk;
    aco_t *main_co;
    uint64_t t0;

    aco_thread_init(NULL);
    main_co = aco_create(NULL, NULL, 0, NULL, NULL);
    sstk = aco_share_stack_new(256 * 1024);
    loop(main_co, sstk, n / 100 + 1000);
    t0 = bench_now_ns();
    loop(main_co, sstk, n);
    bench_result("create", "aco.create_resume_destroy",
                 (double)(bench_now_ns() - t0) / (double)n, "ns");
    aco_share_stack_destroy(sstk);
    aco_destroy(main_co);
    return 0;
}
