#!/bin/sh
# Installs lthread into a temporary prefix, from a copy of this tree, and
# uses it the way a user would: pkg-config, a C++ compiler, CMake's
# find_package(), and a look at what the shared library exports. Prints
# PASS/FAIL per step and ends with "install_check: N passed, N failed".
#
#   sh tests/install_check.sh        (`make check-install` runs it)
#
# Environment: CC (default cc), CXX (g++), MAKE (make), KEEP_TMP=1 keeps the
# temporary directory for a look after a failure, INSTALL_CHECK_TIMEOUT the
# seconds the whole check may take (default 900).

# Steps are functions run through step(); $cc is split on purpose (CC="ccache gcc").
# shellcheck disable=SC2317,SC2086

set -u

# The whole check runs under timeout(1), so that nothing in it (a build, a
# compiler, cmake) can hang make check: it runs itself again under it.
# timeout stops its process group, everything started here, with SIGTERM
# and SIGKILL 10 s later.
if [ -z "${INSTALL_CHECK_LIMITED:-}" ] && command -v timeout >/dev/null; then
    limit=${INSTALL_CHECK_TIMEOUT:-900}
    INSTALL_CHECK_LIMITED=1 timeout -k 10 "$limit" sh "$0" "$@"
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "FAIL: install_check: still running after $limit s: stopped"
    fi
    exit "$rc"
fi

src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lthread-install.XXXXXX") || exit 1
cleanup() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "install_check: kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

cc=${CC:-cc}
cxx=${CXX:-g++}
make=${MAKE:-make}
# Our own make, not a slice of the caller's (jobserver, BUILD=..., SAN=...).
unset MAKEFLAGS MFLAGS MAKELEVEL
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)

prefix=$tmp/inst
work=$tmp/src
use=$tmp/use
mkdir -p "$work" "$use"

passed=0
failed=0

# step NAME COMMAND...: runs the command with its output in a log, which is
# shown only when it fails.
step() {
    name=$1
    shift
    if "$@" >"$tmp/log" 2>&1; then
        echo "PASS: $name"
        passed=$((passed + 1))
        return 0
    fi
    echo "FAIL: $name"
    sed 's/^/    /' "$tmp/log" | tail -n 40
    failed=$((failed + 1))
    return 1
}

finish() {
    echo "install_check: $passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit $?
}

# A step that later ones need: stop at once when it fails.
must() {
    step "$@" || finish
}

version=$(awk '$1 == "#define" { v[$2] = $3 }
    END { print v["LTHREAD_VERSION_MAJOR"] "." v["LTHREAD_VERSION_MINOR"] \
        "." v["LTHREAD_VERSION_PATCH"] }' "$src/include/lthread.h")
major=${version%%.*}

# ---- Build and install ------------------------------------------------------

copy_tree() {
    (cd "$src" && tar cf - --exclude=./.git --exclude=./build \
        --exclude=./config.mk --exclude=./config.log .) |
        (cd "$work" && tar xf -)
}
must "copy the source tree" copy_tree
cd "$work" || finish
must "./configure --prefix=$prefix" ./configure --prefix="$prefix"
must "make" "$make" -j"$jobs"
must "make install" "$make" install LDCONFIG=:

# ---- What was installed -------------------------------------------------------

case $(uname -s) in
Darwin)
    shlib=liblthread.$version.dylib
    soname=liblthread.$major.dylib
    devlink=liblthread.dylib
    ;;
*)
    shlib=liblthread.so.$version
    soname=liblthread.so.$major
    devlink=liblthread.so
    ;;
esac
lib=$prefix/lib

installed_files() {
    for f in "lib/$shlib" lib/liblthread.a include/lthread.h \
        lib/pkgconfig/lthread.pc lib/cmake/lthread/lthreadConfig.cmake \
        lib/cmake/lthread/lthreadConfigVersion.cmake; do
        [ -f "$prefix/$f" ] || { echo "missing $f"; return 1; }
    done
    [ "$(readlink "$lib/$soname")" = "$shlib" ] ||
        { echo "$soname does not point to $shlib"; return 1; }
    [ "$(readlink "$lib/$devlink")" = "$soname" ] ||
        { echo "$devlink does not point to $soname"; return 1; }
    for m in man/*.3; do
        [ -e "$m" ] || continue
        [ -f "$prefix/share/man/man3/${m#man/}" ] ||
            { echo "missing man page ${m#man/}"; return 1; }
    done
    # The names documented by a page of another name: an alias page each.
    sh man/aliases.sh >"$tmp/aliases" || return 1
    while read -r alias page; do
        grep -qx ".so man3/$page.3" "$prefix/share/man/man3/$alias.3" ||
            { echo "alias $alias.3 missing or not to $page.3"; return 1; }
    done <"$tmp/aliases"
}
step "installed files and symlinks" installed_files

# An alias shows its page, as `man lthread_cond_wait` would: mandoc, and
# man-db's `man -l` (both resolve .so from the man3/ directory's parent).
alias_renders() (
    cd "$prefix/share/man" || exit 1
    if command -v mandoc >/dev/null 2>&1; then
        mandoc -Tmarkdown man3/lthread_cond_wait.3 | tr -d '\\' |
            sed -n '/^# NAME/,/^# LIBRARY/p' | grep -q 'lthread_cond_wait' ||
            { echo "mandoc: no lthread_cond_wait in NAME"; exit 1; }
    fi
    if command -v man >/dev/null 2>&1; then
        MANPAGER=cat MANWIDTH=80 man -l man3/lthread_cond_wait.3 \
            >"$tmp/man.out" 2>&1
        sed 's/.\x08//g' "$tmp/man.out" | grep -q 'condition variables' ||
            { echo "man -l: not the page"; cat "$tmp/man.out"; exit 1; }
    fi
)
if [ -f man/lthread_cond.3 ]; then
    step "an alias man page renders its page (mandoc, man -l)" alias_renders
fi

destdir_same() {
    "$make" install DESTDIR="$tmp/stage" LDCONFIG=: &&
        (cd "$prefix" && find . | sort) >"$tmp/a" &&
        (cd "$tmp/stage$prefix" && find . | sort) >"$tmp/b" &&
        diff "$tmp/a" "$tmp/b"
}
step "make install DESTDIR= stages the same tree" destdir_same

if [ "$(uname -s)" = Linux ]; then
    check_soname() {
        readelf -d "$lib/$shlib" | grep "SONAME" | tee /dev/stderr |
            grep -q "\[$soname\]"
    }
    step "SONAME is $soname" check_soname

    # Only the public API may be exported: lthread_* but not the internal
    # lthread__*. (nm prints "ADDR TYPE NAME[@VERSION]".)
    check_exports() {
        nm -D --defined-only "$lib/$shlib" >"$tmp/syms" || return 1
        awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' "$tmp/syms" |
            sort >"$tmp/names"
        echo "$(wc -l <"$tmp/names") exported symbols"
        bad=$(grep -v '^lthread_' "$tmp/names"; grep '^lthread__' "$tmp/names")
        if [ -n "$bad" ]; then
            echo "exported beyond the public API:"
            echo "$bad"
            return 1
        fi
        grep -qx lthread_create "$tmp/names" ||
            { echo "lthread_create is not exported"; return 1; }
    }
    step "the .so exports only lthread_* symbols" check_exports
fi

# ---- Using it -------------------------------------------------------------------

PKG_CONFIG_PATH=$lib/pkgconfig
export PKG_CONFIG_PATH
LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
DYLD_LIBRARY_PATH=$lib
export LD_LIBRARY_PATH DYLD_LIBRARY_PATH

check_pkgconfig() {
    got=$(pkg-config --modversion lthread) || return 1
    echo "modversion $got, flags: $(pkg-config --cflags --libs lthread)"
    [ "$got" = "$version" ]
}
step "pkg-config --modversion lthread is $version" check_pkgconfig

# The seed's examples, as the README builds them.
for ex in examples/seed_*.c; do
    [ -e "$ex" ] || continue
    name=$(basename "$ex" .c)
    # shellcheck disable=SC2046
    step "cc $name.c \$(pkg-config --cflags --libs lthread)" \
        $cc -Wall -Werror=implicit-function-declaration -o "$use/$name" \
        "$ex" $(pkg-config --cflags --libs lthread)
done

# The header alone, under strict C and strict C++.
cat >"$use/strict.c" <<'EOF'
#include <lthread.h>
int main(void) { return lthread_version() == NULL; }
EOF
# shellcheck disable=SC2046
step "lthread.h under -std=c11 -Wpedantic -Werror" \
    $cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Werror \
    -o "$use/strict" "$use/strict.c" $(pkg-config --cflags --libs lthread)

cat >"$use/hello.cpp" <<EOF
#include <lthread.h>
#include <cstdio>
#include <cstring>

static void body(lthread_t *, void *arg)
{
    *static_cast<int *>(arg) = 1;
}

int main(int argc, char **)
{
    std::printf("%s\n", lthread_version());
    if (std::strcmp(lthread_version(), "$version") != 0)
        return 1;
    // Referenced, not run: the check is that C++ links the C API.
    if (argc > 1) {
        int ran = 0;
        lthread_t *lt = nullptr;
        lthread_create(&lt, body, &ran);
        lthread_run();
        return !ran;
    }
    return 0;
}
EOF
cxx_use() {
    # shellcheck disable=SC2046
    $cxx -std=c++11 -Wall -Wextra -Werror -o "$use/hello" "$use/hello.cpp" \
        $(pkg-config --cflags --libs lthread) && "$use/hello"
}
step "g++ with <lthread.h>, runs lthread_version()" cxx_use

mkdir -p "$use/cmake"
cat >"$use/cmake/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.13)
project(lthread_use C)
find_package(lthread $major.0 REQUIRED)
if(NOT lthread_VERSION STREQUAL "$version")
  message(FATAL_ERROR "lthread_VERSION is \${lthread_VERSION}")
endif()
add_executable(use use.c)
target_link_libraries(use PRIVATE lthread::lthread)
add_executable(use_static use.c)
target_link_libraries(use_static PRIVATE lthread::lthread_static)
EOF
cat >"$use/cmake/use.c" <<'EOF'
#include <lthread.h>
#include <stdio.h>
int main(void)
{
    puts(lthread_version());
    return 0;
}
EOF
cmake_use() {
    cmake -S "$use/cmake" -B "$use/cmake/build" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" &&
        cmake --build "$use/cmake/build" &&
        "$use/cmake/build/use" && "$use/cmake/build/use_static"
}
step "CMake find_package(lthread) + lthread::lthread" cmake_use

cmake_wrong_major() {
    sed "s/find_package(lthread $major.0 REQUIRED)/find_package(lthread $((major + 1)).0 REQUIRED)/" \
        "$use/cmake/CMakeLists.txt" >"$use/cmake/CMakeLists.txt.new" &&
        mkdir -p "$use/cmake2" && cp "$use/cmake/use.c" "$use/cmake2/" &&
        mv "$use/cmake/CMakeLists.txt.new" "$use/cmake2/CMakeLists.txt" &&
        ! cmake -S "$use/cmake2" -B "$use/cmake2/build" \
            -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc"
}
step "CMake refuses find_package(lthread $((major + 1)).0)" cmake_wrong_major

# ---- Uninstall ---------------------------------------------------------------------

uninstall_clean() {
    "$make" uninstall &&
        left=$(cd "$prefix" && find . ! -type d) &&
        { [ -z "$left" ] || { echo "left behind:"; echo "$left"; false; }; }
}
step "make uninstall removes every file" uninstall_clean

finish
