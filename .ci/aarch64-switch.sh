#!/bin/sh
# shellcheck disable=SC2086 # $QEMU and the compiler commands split on purpose
# Builds tests/test_switch.c (the context switch alone) for aarch64 and runs
# it under qemu-user, then natively for the host with gcc, clang and the
# sanitizers. Run from anywhere:
#
#   .ci/aarch64-switch.sh
#
# Needs: gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user, clang.
# Environment:
#   AARCH64_CC   cross compiler (default aarch64-linux-gnu-gcc)
#   QEMU         how to run an aarch64 binary
#                (default "qemu-aarch64 -L /usr/aarch64-linux-gnu")
#
# Prints PASS or FAIL per build, with the output of what failed, and exits 1
# if anything failed to build, to run, or to pass.

cd "$(dirname "$0")/.." || exit 1

AARCH64_CC=${AARCH64_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64 -L /usr/aarch64-linux-gnu}
WARN="-std=c11 -Wall -Wextra -Werror -g"
TEST=tests/test_switch.c

out=$(mktemp -d "${TMPDIR:-/tmp}/lthread-switch.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
failed=0

# check NAME ARCH RUNNER CC FLAGS...: builds NAME from the test and the
# arch's switch.S and frame.c, runs it (RUNNER may be empty) and wants exit
# status 0 and the summary line with 0 failed.
check() {
    name=$1 arch=$2 runner=$3
    shift 3
    bin="$out/$name"
    if ! "$@" $WARN $TEST "src/arch/$arch/switch.S" "src/arch/$arch/frame.c" \
            -o "$bin" -lm >"$out/log" 2>&1; then
        echo "FAIL $name (build)"
    elif timeout 300 $runner "$bin" >"$out/log" 2>&1 &&
            grep -q '^test_switch: [0-9]* passed, 0 failed$' "$out/log"; then
        echo "PASS $name: $(tail -n 1 "$out/log")"
        return 0
    else
        echo "FAIL $name (run)"
    fi
    sed 's/^/    /' "$out/log"
    failed=$((failed + 1))
}

check aarch64-gcc-O2 aarch64 "$QEMU" $AARCH64_CC -O2
check aarch64-gcc-O0 aarch64 "$QEMU" $AARCH64_CC -O0
# With the BTI landing pads and the .note.gnu.property marking. qemu only
# guards pages when every object is marked, which Debian's glibc is not, so
# this checks the build and the markings more than BTI itself.
check aarch64-gcc-O2-bti aarch64 "$QEMU -cpu max" $AARCH64_CC -O2 \
    -mbranch-protection=standard
if clang --print-targets 2>/dev/null | grep -q aarch64; then
    check aarch64-clang-O2 aarch64 "$QEMU" clang --target=aarch64-linux-gnu -O2
fi

# The aarch64 object itself: the trampoline ends unwinding, and the stack
# is not made executable.
obj="$out/switch.o"
if $AARCH64_CC -c src/arch/aarch64/switch.S -o "$obj" &&
        readelf --debug-dump=frames "$obj" 2>&1 | tee "$out/log" |
            grep -q 'DW_CFA_undefined: r30' &&
        ! grep -qi 'warning\|error' "$out/log" &&
        readelf -S "$obj" | grep -q '\.note\.GNU-stack'; then
    echo "PASS aarch64-object: CFI well formed, x30 undefined in the trampoline"
else
    echo "FAIL aarch64-object"
    sed 's/^/    /' "$out/log"
    failed=$((failed + 1))
fi

# Natively, for whatever the host is.
host=$(uname -m)
if [ -d "src/arch/$host" ]; then
    check "$host-gcc-O2" "$host" "" gcc -O2
    check "$host-gcc-O0" "$host" "" gcc -O0
    check "$host-clang-O2" "$host" "" clang -O2
    check "$host-gcc-asan-ubsan" "$host" "" gcc -O1 -fno-omit-frame-pointer \
        -fsanitize=address,undefined -fno-sanitize-recover=all
    check "$host-clang-asan-ubsan" "$host" "" clang -O1 \
        -fno-omit-frame-pointer -fsanitize=address,undefined \
        -fno-sanitize-recover=all
else
    echo "FAIL native (no src/arch/$host)"
    failed=$((failed + 1))
fi

if [ "$failed" -ne 0 ]; then
    echo "aarch64-switch: $failed failed"
    exit 1
fi
echo "aarch64-switch: all passed"
