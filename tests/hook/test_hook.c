/* The hook library's semantics (hook_cases.h), linked with -llthread_hook. */
#include "hook_cases.h"

int main(void)
{
    return run_cases("test_hook");
}
