/* vm.max_map_count, from /proc (see src/os/maps.h). */
#include <stdio.h>

#include "os/maps.h"

long lthread__os_max_maps(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    long maps = 0;

    if (!f)
        return 0;
    if (fscanf(f, "%ld", &maps) != 1 || maps < 0)
        maps = 0;
    fclose(f);
    return maps;
}
