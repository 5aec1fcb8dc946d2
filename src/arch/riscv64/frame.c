/* Builds the first switch frame of a new RISC-V 64 context. */
#include "../switch.h"

void *lthread__frame_init(void *stack_top, const struct lthread__entry *e)
{
    return lthread__frame_fill(stack_top, e);
}
