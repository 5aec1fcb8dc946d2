#!/usr/bin/env bash
# bench/icount_qemu.sh [TREE] aarch64|riscv64: instructions per cond
# hand-off, lthread_sleep(0) hand-off, create + run + join and channel
# hand-off (bench/icount_lthread.c) on another architecture, counted by
# qemu-user: one translation block per instruction (-singlestep), each
# execution logged (-d nochain,exec), lines counted. Like icount.sh it runs
# two sizes and divides the difference by the operations added. TREE: a
# tree whose library is built for that architecture in build/ARCH (make
# check-aarch64 or check-riscv64 builds it; default: this tree). No timing
# is meaningful under qemu: counts only, and no hardware of these
# architectures was at hand to time them.
set -eu
cd "$(dirname "$0")"
T=$(cd "${1:-..}" && pwd) arch=${2:-aarch64}
case $arch in
aarch64 | riscv64) ;;
*)
    echo "usage: icount_qemu.sh [TREE] aarch64|riscv64" >&2
    exit 2
    ;;
esac
lib=$T/build/$arch/liblthread.a
[ -f "$lib" ] || {
    echo "icount_qemu: no $lib (make check-$arch builds it)" >&2
    exit 2
}
bin=$(mktemp /tmp/icount_qemu.XXXXXX) log=$(mktemp /tmp/icount_qemu.XXXXXX)
trap 'rm -f "$bin" "$log"' EXIT
"$arch-linux-gnu-gcc" -std=gnu11 -O2 -g -I"$T/include" -o "$bin" \
    icount_lthread.c "$lib" -pthread -static 2>/dev/null
count() {
    "qemu-$arch" -singlestep -d nochain,exec -D "$log" "$bin" "$1" "$2" >/dev/null
    grep -c '^Trace' "$log"
}
for m in 0 1 2 3; do
    a=$(count $m 1000) b=$(count $m 2000)
    awk -v a="$a" -v b="$b" -v m=$m -v arch="$arch" 'BEGIN {
        d = (b - a) / 1000; if (m != 2) d /= 2
        printf "%s %s: %.1f instructions\n", arch,
            (m == 0 ? "cond hand-off" : m == 1 ? "sleep(0) hand-off" : m == 2 ? "create+run+join" : "chan hand-off (capacity 1)"), d }'
done
