/*
 * The cases of hook_cases.h in a binary that does not link the hook
 * library: it runs itself again with LD_PRELOAD naming it, as an
 * unmodified program would be run. The library's own calls (lthread_*)
 * then reach the hooks as well.
 */
#include <stdlib.h>

#include "hook_cases.h"

int main(int argc, char **argv)
{
    (void)argc;
    if (!hooks_active() && !getenv("LTHREAD_HOOK_TEST_REEXEC")) {
        setenv("LTHREAD_HOOK_TEST_REEXEC", "1", 1);
        setenv("LD_PRELOAD", HOOK_LIB_PATH, 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        return 1;
    }
    return run_cases("test_hook_preload");
}
