// The later original library's C++ binding style: both entry forms, and
// the C++ overloads that type-check them.
#include <lthread.h>

#include <cstdio>
#include <cstring>

static int failures;
#define EXPECT(c)                                                              \
    do {                                                                       \
        if (!(c)) {                                                            \
            std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);       \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static int sum;

static void later(void *arg) { sum += *static_cast<int *>(arg); }

static void seed(lthread_t *, void *arg) { sum += *static_cast<int *>(arg); }

static void parent(void *)
{
    static int one = 1, ten = 10, hundred = 100;
    lthread_t *a, *b, *c;
    lthread_attr_t attr;

    lthread_attr_init(&attr);
    attr.flags = LTHREAD_ATTR_PRIVATE_STACK;
    EXPECT(lthread_create(&a, later, &one) == 0);
    EXPECT(lthread_create(&b, seed, &ten) == 0);
    EXPECT(lthread_create_ex(&c, later, &hundred, &attr) == 0);
    EXPECT(lthread_join(a, nullptr, 0) == 0);
    EXPECT(lthread_join(b, nullptr, 0) == 0);
    EXPECT(lthread_join(c, nullptr, 0) == 0);
}

int main()
{
    lthread_t *lt;

    EXPECT(lthread_create(&lt, parent, nullptr) == 0);
    EXPECT(lthread_run() == 0);
    EXPECT(sum == 111);
    std::printf("compat_cpp: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
