#!/bin/sh
# Builds and runs the reproductions of the defects that the fuzzer's
# multi-scheduler mode found (tests/README.md, "What -m found"), against
# the ASan+UBSan library. Each program's comment says what goes wrong;
# "DEFECT" means it still does (an ASan report, or the wrong outcome),
# "fixed" that the program ran clean and printed what it should.
#
#   make BUILD=build/asan SAN=asan lib && sh tests/defects/run.sh [NAME...]
set -u
cd "$(dirname "$0")/../.." || exit 2
lib=${LIB:-build/asan/liblthread.a}
out=${OUT:-build/asan/defects}
[ -f "$lib" ] || { echo "no $lib: make BUILD=build/asan SAN=asan lib" >&2; exit 2; }
mkdir -p "$out"
names=${*:-$(cd tests/defects && ls *.c | sed 's/\.c$//')}
status=0
for n in $names; do
    ${CC:-cc} -std=gnu11 -g -fsanitize=address,undefined -Iinclude \
        -o "$out/$n" "tests/defects/$n.c" "$lib" -pthread || exit 2
    log=$out/$n.log
    ASAN_OPTIONS=detect_leaks=1 timeout 20 "$out/$n" >"$log" 2>&1
    rc=$?
    # What each one prints when the library is right.
    case $n in
    xjoin_esrch) want='join: -1 (Operation canceled)' ;;
    mutex_ready_destroy) want='timedlock(100 ms): 0' ;;
    *) want= ;;
    esac
    if [ $rc -ne 0 ] || grep -q 'ERROR: \|runtime error' "$log" ||
        grep -q 'ran after\|should have been destroyed' "$log" ||
        { [ -n "$want" ] && ! grep -qF "$want" "$log"; }; then
        echo "DEFECT $n"
        grep -E '^[A-Za-z].*:|ERROR|#[0-3] ' "$log" | head -8 | sed 's/^/    /'
        status=1
    else
        echo "fixed  $n"
    fi
done
exit $status
