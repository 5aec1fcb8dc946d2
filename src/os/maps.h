/*
 * How many memory maps the process may have (Linux's vm.max_map_count),
 * which bounds the private stacks given by learning (region.c). One file
 * per system in src/os/<os>/maps.c.
 */
#ifndef LTHREAD_OS_MAPS_H
#define LTHREAD_OS_MAPS_H

/* The limit, or 0 when the system has none or it cannot be read. */
long lthread__os_max_maps(void);

#endif /* LTHREAD_OS_MAPS_H */
