/* The failure path of LTHREAD__CHECK (lthread_int.h). */
#include <stdio.h>
#include <stdlib.h>

#include "lthread_int.h"

void lthread__check_failed(const char *invariant, const char *file, int line)
{
    fprintf(stderr,
            "lthread: invariant broken at %s:%d: %s (see docs/DESIGN.md, "
            "\"Invariants\")\n",
            file, line, invariant);
    abort();
}
