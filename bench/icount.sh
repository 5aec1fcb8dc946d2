#!/usr/bin/env bash
# bench/icount.sh [TREE] [static|shared]: instructions per cond hand-off,
# lthread_sleep(0) hand-off, create + run + join and a channel hand-off
# between two lthreads of one scheduler (valgrind's callgrind;
# they do not depend on the machine's load, unlike times). TREE: a built
# lthread tree (default: this one). LTHREAD_REGIONS is passed through.
# With LIBACO=DIR (libaco's source, outside this tree), libaco's hand-off
# (separate stacks, one shared stack) and create + resume + destroy too.
# (State Threads cannot be counted: it dies of SIGFPE under valgrind.)
set -eu
cd "$(dirname "$0")"
T=$(cd "${1:-..}" && pwd) how=${2:-static}
bin=$(mktemp /tmp/icount.XXXXXX)
trap 'rm -f "$bin"' EXIT
if [ "$how" = static ]; then
    gcc -std=gnu11 -O2 -g -I"$T/include" -o "$bin" icount_lthread.c \
        "$T/build/liblthread.a" -pthread \
        $(nm "$T/build/liblthread.a" | grep -q ' U io_uring_' && echo -luring)
else
    gcc -std=gnu11 -O2 -g -I"$T/include" -o "$bin" icount_lthread.c \
        -L"$T/build" -llthread -Wl,-rpath,"$T/build" -pthread
fi
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    awk '/Collected/ { print $4 }'; }
for m in 0 1 2 3; do
    a=$(ir $m 10000) b=$(ir $m 20000)
    # cond, sleep(0), chan: 10000 more rounds of each player = 20000 hand-offs
    awk -v a="$a" -v b="$b" -v m=$m -v how="$how" 'BEGIN {
        d = (b - a) / 10000; if (m != 2) d /= 2
        printf "%s %s: %.1f instructions\n", how,
            (m == 0 ? "cond hand-off" : m == 1 ? "sleep(0) hand-off" : m == 2 ? "create+run+join" : "chan hand-off (capacity 1)"), d }'
done
[ -n "${LIBACO:-}" ] && [ -f "$LIBACO/aco.c" ] || exit 0
gcc -std=gnu11 -O2 -g -w -I"$LIBACO" -o "$bin" icount_aco.c "$LIBACO/aco.c" \
    "$LIBACO/acosw.S" -Wl,-z,noexecstack
for m in 0 3 2; do
    a=$(ir $m 10000) b=$(ir $m 20000)
    # 10000 more rounds of each coroutine = 20000 yields + 20000 resumes
    awk -v a="$a" -v b="$b" -v m=$m 'BEGIN {
        d = (b - a) / 10000; if (m != 2) d /= 2
        w = "create+resume+destroy"
        if (m == 0) w = "hand-off, separate stacks"
        if (m == 3) w = "hand-off, one shared stack, 0 B"
        printf "libaco %s: %.1f instructions\n", w, d }'
done
