/* The failure path of LTHREAD__CHECK (lthread_int.h). */
#include <stdio.h>
#include <stdlib.h>

#if defined(__has_include)
#if __has_include(<execinfo.h>) && defined(__GLIBC__)
#include <execinfo.h>
#define HAVE_BACKTRACE 1
#endif
#endif

#include "lthread_int.h"

void lthread__check_failed(const char *invariant, const char *file, int line)
{
    fprintf(stderr,
            "lthread: invariant broken at %s:%d: %s (see docs/DESIGN.md, "
            "\"Invariants\")\n",
            file, line, invariant);
#ifdef HAVE_BACKTRACE
    {
        void *frames[32];

        backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    }
#endif
    abort();
}
