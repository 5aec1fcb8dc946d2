/* No per-process cap on memory maps here (see src/os/maps.h). */
#include "os/maps.h"

long lthread__os_max_maps(void)
{
    return 0;
}
