#!/bin/sh
# shellcheck disable=SC2086 # flag lists split on purpose
# What can be checked here of the builds for systems this machine is not:
# FreeBSD and macOS, with clang's cross targets and no system headers.
#
#   sh tests/targets_check.sh        (make check-targets)
#
# For each target:
#  - the context switch, src/arch/<arch>/switch.S, is assembled (-c: it
#    proves the syntax and the object format's directives), and the
#    object's symbols are checked: hidden, sized functions on ELF;
#    underscore-prefixed private externals on Mach-O (llvm-nm);
#  - every C file that the Makefile would build for that target is
#    compiled with -fsyntax-only -ffreestanding -nostdlibinc (clang's own
#    headers only: <stdint.h>, <stddef.h>...). A file that includes a
#    system header (<errno.h>, <sys/event.h>...) cannot be checked without
#    that system's headers, which Debian does not ship: it is listed as
#    "not checked" with the first header missing. Any other error fails.
#
# Environment: CLANG (default clang), MAKE (default make), LLVM_NM (default
# llvm-nm; the Mach-O symbol check is skipped without it, and fails in CI).
# Prints PASS, FAIL or NOTE lines and ends with "N passed, N failed".

cd "$(dirname "$0")/.." || exit 1

CLANG=${CLANG:-clang}
MAKE=${MAKE:-make}
LLVM_NM=${LLVM_NM:-llvm-nm}
CFLAGS_CHECK="-std=gnu11 -Wall -Wextra -Werror -ffreestanding -nostdlibinc -fsyntax-only \
    -D_GNU_SOURCE -DLTHREAD_BUILDING -Iinclude -Isrc"

# target triple, and how its objects are made
TARGETS="x86_64-apple-darwin20:macho
arm64-apple-darwin20:macho
x86_64-unknown-freebsd13:elf
aarch64-unknown-freebsd13:elf
riscv64-unknown-freebsd13:elf"

out=$(mktemp -d "${TMPDIR:-/tmp}/lthread-targets.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
passed=0
failed=0

pass() {
    echo "PASS $*"
    passed=$((passed + 1))
}

fail() {
    echo "FAIL $*"
    sed 's/^/    /' "$out/log"
    failed=$((failed + 1))
}

# The symbols a switch object must define, for arch $1.
symbols() {
    case $1 in
    x86_64) echo "lthread__switch lthread__switch_cross lthread__switch_via lthread__switch_via_cross lthread__switch_drop lthread__switch_drop_ret lthread__switch_start lthread__trampoline" ;;
    *) echo "lthread__switch lthread__switch_drop lthread__switch_via lthread__switch_start lthread__trampoline" ;;
    esac
}

# check_object TARGET FORMAT ARCH OBJ
check_object() {
    t=$1 fmt=$2 arch=$3 obj=$4
    for s in $(symbols "$arch"); do
        if [ "$fmt" = elf ]; then
            # FUNC, nonzero size, GLOBAL, HIDDEN
            readelf -sW "$obj" >"$out/log" 2>&1 || return 1
            awk -v s="$s" '$8 == s && $3 > 0 && $4 == "FUNC" &&
                $5 == "GLOBAL" && $6 == "HIDDEN" { ok = 1 }
                END { exit !ok }' "$out/log" || return 1
        elif command -v "$LLVM_NM" >/dev/null 2>&1; then
            "$LLVM_NM" -m "$obj" >"$out/log" 2>&1 || return 1
            grep -q "(__TEXT,__text) private external _$s\$" "$out/log" ||
                return 1
        else
            echo "    ($LLVM_NM not found: Mach-O symbols not checked)" \
                >"$out/log"
            [ -z "$CI" ] || return 1
        fi
    done
    if [ "$fmt" = elf ]; then
        readelf -SW "$obj" >"$out/log" 2>&1 &&
            grep -q '\.note\.GNU-stack' "$out/log" || return 1
    fi
    return 0
}

for entry in $TARGETS; do
    t=${entry%%:*} fmt=${entry##*:}
    # The Makefile's own view of the target: its arch and its sources.
    vars=$($MAKE -s --no-print-directory print-target CC="$CLANG --target=$t" \
        2>"$out/log") || { fail "$t (make print-target)"; continue; }
    arch=$(echo "$vars" | sed -n 's/^ARCH=//p')
    srcs=$(echo "$vars" | sed -n 's/^LIB_SRCS=//p')
    if [ -z "$arch" ] || [ ! -d "src/arch/$arch" ]; then
        echo "no switch for $t (ARCH '$arch')" >"$out/log"
        fail "$t"
        continue
    fi

    obj="$out/$t.o"
    if "$CLANG" --target="$t" -c "src/arch/$arch/switch.S" -o "$obj" \
            >"$out/log" 2>&1 && check_object "$t" "$fmt" "$arch" "$obj"; then
        pass "$t: src/arch/$arch/switch.S assembles ($fmt, symbols right)"
    else
        fail "$t: src/arch/$arch/switch.S"
    fi

    checked="" unchecked=""
    for f in $srcs; do
        case $f in *.c) ;; *) continue ;; esac
        if "$CLANG" --target="$t" $CFLAGS_CHECK "$f" >"$out/log" 2>&1; then
            checked="$checked ${f#src/}"
        elif grep -q "fatal error: '.*' file not found" "$out/log" &&
                [ "$(grep -c 'error:' "$out/log")" -eq 1 ]; then
            h=$(sed -n "s/.*fatal error: '\(.*\)' file not found.*/\1/p" \
                "$out/log")
            unchecked="$unchecked ${f#src/}<$h>"
        else
            fail "$t: $f"
        fi
    done
    if [ -n "$checked" ]; then
        pass "$t: -fsyntax-only:$checked"
    fi
    echo "NOTE $t: not checked (need the system's headers):$unchecked"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
