#!/usr/bin/env bash
# bench/icount.sh [TREE] [static|shared|aarch64|riscv64]: instructions per
# cond hand-off, lthread_sleep(0) hand-off, create + run + join and a
# channel hand-off between two lthreads of one scheduler (they do not
# depend on the machine's load, unlike times). TREE: a built lthread tree
# (default: this one). LTHREAD_REGIONS is passed through. Each is run at
# two sizes and the difference divided by the operations added: the start
# and the end cancel out.
#   static, shared     counted by valgrind's callgrind, linked with the
#                      tree's liblthread.a or liblthread.so
#   aarch64, riscv64   counted by qemu-user: one translation block per
#                      instruction (-singlestep), each execution logged
#                      (-d nochain,exec), lines counted; linked statically
#                      with TREE/build/ARCH/liblthread.a (make check-aarch64
#                      or check-riscv64 builds it). No hardware of these was
#                      at hand to time them: counts only.
# With LIBACO=DIR (libaco's source, outside this tree), static or shared,
# libaco's hand-off (separate stacks, one shared stack) and create +
# resume + destroy too. (State Threads cannot be counted: it dies of
# SIGFPE under valgrind.)
set -eu
cd "$(dirname "$0")"
T=$(cd "${1:-..}" && pwd) how=${2:-static}
bin=$(mktemp /tmp/icount.XXXXXX) log=$(mktemp /tmp/icount.XXXXXX)
trap 'rm -f "$bin" "$log"' EXIT
case $how in
static)
    gcc -std=gnu11 -O2 -g -I"$T/include" -o "$bin" icount_lthread.c \
        "$T/build/liblthread.a" -pthread \
        $(nm "$T/build/liblthread.a" | grep -q ' U io_uring_' && echo -luring)
    ;;
shared)
    gcc -std=gnu11 -O2 -g -I"$T/include" -o "$bin" icount_lthread.c \
        -L"$T/build" -llthread -Wl,-rpath,"$T/build" -pthread
    ;;
aarch64 | riscv64)
    lib=$T/build/$how/liblthread.a
    [ -f "$lib" ] || {
        echo "icount: no $lib (make check-$how builds it)" >&2
        exit 2
    }
    "$how-linux-gnu-gcc" -std=gnu11 -O2 -g -I"$T/include" -o "$bin" \
        icount_lthread.c "$lib" -pthread -static 2>/dev/null
    ;;
*)
    echo "usage: icount.sh [TREE] [static|shared|aarch64|riscv64]" >&2
    exit 2
    ;;
esac
# Instructions of one run of $bin with arguments $1 $2.
case $how in
aarch64 | riscv64)
    n=1000
    ir() {
        "qemu-$how" -singlestep -d nochain,exec -D "$log" "$bin" "$1" "$2" \
            >/dev/null
        grep -c '^Trace' "$log"
    }
    ;;
*)
    n=10000
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
        awk '/Collected/ { print $4 }'; }
    ;;
esac
for m in 0 1 2 3; do
    a=$(ir $m $n) b=$(ir $m $((2 * n)))
    # cond, sleep(0), chan: n more rounds of each player = 2n hand-offs
    awk -v a="$a" -v b="$b" -v n=$n -v m=$m -v how="$how" 'BEGIN {
        d = (b - a) / n; if (m != 2) d /= 2
        printf "%s %s: %.1f instructions\n", how,
            (m == 0 ? "cond hand-off" : m == 1 ? "sleep(0) hand-off" : m == 2 ? "create+run+join" : "chan hand-off (capacity 1)"), d }'
done
case $how in aarch64 | riscv64) exit 0 ;; esac
[ -n "${LIBACO:-}" ] && [ -f "$LIBACO/aco.c" ] || exit 0
gcc -std=gnu11 -O2 -g -w -I"$LIBACO" -o "$bin" icount_aco.c "$LIBACO/aco.c" \
    "$LIBACO/acosw.S" -Wl,-z,noexecstack
for m in 0 3 2; do
    a=$(ir $m $n) b=$(ir $m $((2 * n)))
    # n more rounds of each coroutine = 2n yields + 2n resumes
    awk -v a="$a" -v b="$b" -v n=$n -v m=$m 'BEGIN {
        d = (b - a) / n; if (m != 2) d /= 2
        w = "create+resume+destroy"
        if (m == 0) w = "hand-off, separate stacks"
        if (m == 3) w = "hand-off, one shared stack, 0 B"
        printf "libaco %s: %.1f instructions\n", w, d }'
done
