#!/bin/sh
# shellcheck disable=SC2086 # $libs is split on purpose: "-luring"
# Builds the compatibility programs against a built library, as users of
# the original library would (C with -Wall -Wextra -Werror, C11 and
# gnu11; C++ with g++), runs them, and checks that an entry function of
# any other type is a compile error. Prints PASS/FAIL lines and
# "N passed, N failed".
#
#   tests/compat/run.sh BUILD_DIR
#
# LIBS: what a program linking the static library needs besides it and
# -pthread (-luring when the library was built with liburing).
set -u
build=${1:-build}
dir=$(dirname "$0")
cc=${CC:-cc}
cxx=${CXX:-c++}
out=$(mktemp -d "${TMPDIR:-/tmp}/lthread-compat.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
lib="$build/liblthread.a"
libs=${LIBS:-}
passed=0 failed=0

pass() { echo "PASS compat: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL compat: $1"; sed 's/^/    /' "$out/log"; failed=$((failed + 1)); }

build_run() { # name compile-command...
    name=$1
    shift
    if "$@" >"$out/log" 2>&1 && timeout 60 "$out/$name" >>"$out/log" 2>&1; then
        pass "$name"
    else
        fail "$name"
    fi
}

for std in c11 gnu11; do
    for p in compat_later compat_seed; do
        build_run "$p.$std" "$cc" -std=$std -D_DEFAULT_SOURCE -Wall -Wextra \
            -Werror -Iinclude -o "$out/$p.$std" "$dir/$p.c" "$lib" -pthread $libs
    done
done
if command -v "$cxx" >/dev/null 2>&1; then
    build_run compat_cpp "$cxx" -std=c++11 -Wall -Wextra -Werror -Iinclude \
        -o "$out/compat_cpp" "$dir/compat_cpp.cc" "$lib" -pthread $libs
else
    echo "SKIP compat: no C++ compiler ($cxx)"
fi
# The README's Usage example, as printed.
readme=$(dirname "$0")/../../README.md
awk '/^## Usage/ { u = 1 } u && /^```c$/ { c = 1; next } c && /^```$/ { exit }
     c { print }' "$readme" >"$out/usage.c"
if [ -s "$out/usage.c" ]; then
    build_run usage "$cc" -std=c11 -Wall -Wextra -Werror -Iinclude \
        -o "$out/usage" "$out/usage.c" "$lib" -pthread $libs
else
    echo "no C example under README's Usage" >"$out/log"
    fail "README usage example"
fi
if "$cc" -std=c11 -Iinclude -c -o "$out/bad.o" "$dir/bad_type.c" \
    >"$out/log" 2>&1; then
    echo "an entry function of the wrong type compiled" >"$out/log"
    fail "bad_type (must not compile)"
else
    pass "bad_type does not compile"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
