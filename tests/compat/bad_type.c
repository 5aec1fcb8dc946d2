/* Must NOT compile: an entry function of neither accepted type. */
#include <lthread.h>

static int wrong(int x)
{
    return x;
}

int main(void)
{
    lthread_t *lt;

    return lthread_create(&lt, wrong, NULL);
}
