/*
 * icount_lthread.c's operations with libaco, for callgrind
 * (bench/icount.sh, LIBACO=DIR): 0 hand-off between two coroutines on
 * separate shared stacks (yield to main + resume: no copy), 3 the same on
 * one shared stack (a save and a restore per hand-off), 2 create + resume
 * + destroy.
 */
#include <aco.h>
#include <stdio.h>
#include <stdlib.h>

static long N;

static void empty(void)
{
    aco_exit();
}

static void player(void)
{
    for (long i = 0; i < N; i++)
        aco_yield();
    aco_exit();
}

int main(int argc, char **argv)
{
    aco_share_stack_t *ss[2];
    aco_t *main_co, *co[2];
    int mode;

    if (argc != 3) {
        fprintf(stderr, "usage: icount_aco 0|2|3 N\n");
        return 2;
    }
    mode = atoi(argv[1]);
    N = atol(argv[2]);
    aco_thread_init(NULL);
    main_co = aco_create(NULL, NULL, 0, NULL, NULL);
    ss[0] = aco_share_stack_new(256 * 1024);
    ss[1] = mode == 3 ? ss[0] : aco_share_stack_new(256 * 1024);
    if (mode == 2) {
        for (long i = 0; i < N; i++) {
            aco_t *c = aco_create(main_co, ss[0], 0, empty, NULL);
            aco_resume(c);
            aco_destroy(c);
        }
        return 0;
    }
    co[0] = aco_create(main_co, ss[0], 0, player, NULL);
    co[1] = aco_create(main_co, ss[1], 0, player, NULL);
    while (!co[0]->is_end || !co[1]->is_end)
        for (int i = 0; i < 2; i++)
            if (!co[i]->is_end)
                aco_resume(co[i]);
    return 0;
}
