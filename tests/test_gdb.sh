#!/usr/bin/env bash
# Drives gdb in batch mode against build/tests/test_gdb_target (lthreads in
# every state on two schedulers, stopped at gdbt_stop) and checks what
# tools/gdb/lthread.py says:
#   live process  `info lthreads` lists every lthread of both schedulers
#                 with its state, wait and where its frames are; `lthread
#                 bt` names the right functions for frames saved in an
#                 image, in place on a private stack, in place in a shared
#                 region, running, and computing on a compute pthread;
#                 `lthread frame` and `lthread apply` see the right
#                 locals; the program then runs to its end and passes its
#                 own checks (the images written into regions were taken
#                 out again)
#   core file     the list and in-place backtraces; a saved image is
#                 refused while the core is read-only, and backtraced on a
#                 copy opened with `set write on`, which is the same byte
#                 for byte afterwards
#   install       `make install` puts the script where gdb auto-loads it
#                 for the installed liblthread.so: a program linked with
#                 it gets `info lthreads` without sourcing anything
#
#   bash tests/test_gdb.sh [BUILD]      (BUILD: default build)
#
# Exits 0 when every check passed, 77 when gdb is missing or may not trace
# (ptrace refused), 1 otherwise. Prints PASS/FAIL per check.

build=${1:-build}
target=$build/tests/test_gdb_target
script=tools/gdb/lthread.py
slow=${LTHREAD_TEST_SLOW:-1}
limit=$((120 * slow))
passed=0
failed=0

if ! command -v gdb >/dev/null 2>&1; then
    echo "SKIP test_gdb.sh: no gdb (Debian: apt-get install gdb)"
    exit 77
fi
if ! gdb -batch -nx -ex 'python import gdb.unwinder' >/dev/null 2>&1; then
    echo "SKIP test_gdb.sh: this gdb has no Python"
    exit 77
fi
case $(uname -m) in
x86_64) ;;
*)
    echo "SKIP test_gdb.sh: checked on x86-64 only"
    exit 77
    ;;
esac
[ -x "$target" ] || { echo "FAIL test_gdb.sh: no $target"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lthread-gdb.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

check() { # check NAME COMMAND...: PASS when the command succeeds
    local name=$1
    shift
    if "$@"; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
}

# has FILE REGEX: a line of FILE matches.
has() { grep -Eq -- "$2" "$1"; }

# bt_has FILE WHO FUNC...: the backtrace printed for lthread WHO (a header
# "lthread N (WHO)") names each FUNC, in this order, innermost first.
bt_has() {
    local file=$1 who=$2
    shift 2
    awk -v who="($who)" -v want="$*" '
        BEGIN { n = split(want, f, " "); i = 1 }
        /^lthread [0-9]+ \(/ { inside = index($0, who) > 0; next }
        inside && /^#[0-9]+/ && i <= n && index($0, " " f[i] " (") { i++ }
        END { exit !(i > n) }' "$file"
}

run_gdb() { # run_gdb OUT ARGS...: gdb in batch mode, output in OUT
    local out=$1
    shift
    timeout -k 10 "$limit" gdb -batch -nx -iex 'set pagination off' \
        -iex 'set confirm off' "$@" >"$out" 2>&1
}

# ---- a live process ------------------------------------------------------------

cat >"$tmp/live.gdb" <<EOF
source $script
break gdbt_stop
run
info lthreads
lthread bt gdbt-sleeper
lthread bt gdbt-condwait
lthread bt gdbt-chanrecv
lthread bt gdbt-computer
lthread bt gdbt-stopper
lthread bt gdbt_ready_main
lthread bt gdbt-zombie
lthread bt gdbt-remote
echo == frame\n
lthread frame gdbt-sleeper 3
echo == apply\n
lthread apply gdbt-condwait 2 print depth
echo == all\n
lthread bt all
gcore $tmp/core
continue
EOF
run_gdb "$tmp/live.out" -x "$tmp/live.gdb" "$target"
if grep -q "ptrace: Operation not permitted\|Could not trace the inferior\|not permitted" \
    "$tmp/live.out"; then
    echo "SKIP test_gdb.sh: gdb may not trace a process here (ptrace refused)"
    exit 77
fi
out=$tmp/live.out
check "live: stopped with every lthread in its state" has "$out" "hit Breakpoint 1, gdbt_stop"
check "live: two schedulers listed" [ "$(grep -c '^scheduler 0x' "$out")" -eq 2 ]
check "live: saved sleeper" has "$out" ' gdbt-sleeper +waiting +sleep +[0-9]+ ms saved [0-9]+ B +gdbt_saved_main$'
check "live: private cond waiter" has "$out" ' gdbt-condwait +waiting +cond +[0-9]+ ms private [0-9]+ B'
check "live: joiner" has "$out" ' gdbt-joiner +waiting +join [0-9]+ '
check "live: fd reader" has "$out" ' gdbt-reader +waiting +fd [0-9]+ read '
check "live: mutex waiter" has "$out" ' gdbt-mutex +waiting +sync '
check "live: channel receiver in place in the shared region" has "$out" ' gdbt-chanrecv +waiting +sync +[0-9]+ ms in place [0-9]+ B'
check "live: zombie" has "$out" ' gdbt-zombie +exited '
check "live: computing" has "$out" ' gdbt-computer +computing '
check "live: running" has "$out" ' gdbt-stopper +running .* running '
check "live: ready, not started" has "$out" ' ready .* not started +gdbt_ready_main$'
check "live: the other scheduler's lthread" has "$out" ' gdbt-remote +waiting +sleep '
check "live: bt of a saved image" bt_has "$out" gdbt-sleeper lthread_sleep gdbt_saved_inner gdbt_saved_outer gdbt_saved_main lthread__trampoline
check "live: bt on a private stack" bt_has "$out" gdbt-condwait lthread_cond_wait gdbt_inplace_inner gdbt_inplace_outer gdbt_inplace_main lthread__trampoline
check "live: bt in place in a shared region" bt_has "$out" gdbt-chanrecv lthread_chan_recv gdbt_owner_inner gdbt_owner_main lthread__trampoline
check "live: bt of a computing lthread" bt_has "$out" gdbt-computer gdbt_computer_main lthread__trampoline
check "live: bt of the running lthread" bt_has "$out" gdbt-stopper gdbt_stop gdbt_stopper_main
check "live: bt on the other scheduler" bt_has "$out" gdbt-remote lthread_sleep gdbt_remote_inner gdbt_remote_main
check "live: not started" has "$out" 'has not run yet: it starts at gdbt_ready_main'
check "live: exited" has "$out" 'gdbt-zombie\) has exited'
check "live: lthread frame" bash -c "sed -n '/^== frame/,/^== apply/p' '$out' | grep -q 'depth = 41'"
check "live: lthread apply" bash -c "sed -n '/^== apply/,/^== all/p' '$out' | grep -q '= 7\$'"
check "live: lthread bt all" [ "$(sed -n '/^== all/,$p' "$out" | grep -Ec '^lthread [0-9]+ \([^)]*\), (ready|running|waiting|computing|exited)')" -eq 11 ]
check "live: the program ends well after it all" has "$out" 'test_gdb_target: [0-9]+ passed, 0 failed'
check "live: and exits 0" has "$out" 'exited normally'

# The saved sleeper's image of over 1 KiB holds the 16 bytes below its sp
# or not (src/region.c, image_skew), depending on where its image and its
# sp lie. GDBT_SHIFT moves its sp by 16, 32, 48 bytes (where its image
# lands moves too, with the heap's history): the first shift whose run
# saved the image the other way than the run above is checked as that one
# was. The script must place both right (bt, locals, and the region's bytes
# put back: the program's own checks).
cat >"$tmp/shift.gdb" <<EOF
source $script
break gdbt_stop
run
lthread bt gdbt-sleeper
echo == frame\n
lthread frame gdbt-sleeper 3
continue
EOF
skew_of() { sed -n 's/^sleeper image .* skew \([0-9]*\)$/\1/p' "$1"; }
skew_a=$(skew_of "$tmp/live.out") skew_b=""
for shift in 16 32 48; do
    GDBT_SHIFT=$shift run_gdb "$tmp/shift.out" -x "$tmp/shift.gdb" "$target"
    skew_b=$(skew_of "$tmp/shift.out")
    [ -n "$skew_b" ] && [ "$skew_b" != "$skew_a" ] && break
done
out=$tmp/shift.out
check "shifted: one run saved the image with the 16 bytes, one without ($skew_a; $skew_b, shift $shift)" \
    test -n "$skew_a" -a -n "$skew_b" -a "$skew_a" != "$skew_b"
check "shifted: bt of a saved image" bt_has "$out" gdbt-sleeper lthread_sleep gdbt_saved_inner gdbt_saved_outer gdbt_saved_main lthread__trampoline
check "shifted: lthread frame" bash -c "sed -n '/^== frame/,\$p' '$out' | grep -q 'depth = 41'"
check "shifted: the program ends well after it" has "$out" 'test_gdb_target: [0-9]+ passed, 0 failed'

# ---- a core file ---------------------------------------------------------------

if [ -s "$tmp/core" ]; then
    run_gdb "$tmp/core.out" -x "$script" -ex "core-file $tmp/core" \
        -ex 'info lthreads' -ex 'lthread bt gdbt-condwait' \
        -ex 'lthread bt gdbt-chanrecv' -ex 'lthread bt gdbt-sleeper' "$target"
    out=$tmp/core.out
    check "core: list" has "$out" ' gdbt-sleeper +waiting +sleep +- saved '
    check "core: bt on a private stack" bt_has "$out" gdbt-condwait lthread_cond_wait gdbt_inplace_inner gdbt_inplace_main
    check "core: bt in place in a shared region" bt_has "$out" gdbt-chanrecv lthread_chan_recv gdbt_owner_inner gdbt_owner_main
    check "core: a saved image needs a writable core" has "$out" 'its frames are saved in its image .*set write on'

    cp "$tmp/core" "$tmp/core.copy"
    run_gdb "$tmp/write.out" -x "$script" -iex 'set write on' \
        -ex "core-file $tmp/core.copy" -ex 'lthread bt gdbt-sleeper' \
        -ex 'lthread bt gdbt-joiner' "$target"
    out=$tmp/write.out
    check "core, set write on: bt of a saved image" bt_has "$out" gdbt-sleeper lthread_sleep gdbt_saved_inner gdbt_saved_outer gdbt_saved_main
    check "core, set write on: another" bt_has "$out" gdbt-joiner lthread_join gdbt_joiner_main
    check "core, set write on: the core is unchanged" cmp -s "$tmp/core" "$tmp/core.copy"
    rm -f "$tmp/core" "$tmp/core.copy"
else
    check "core: gcore wrote a core file" false
fi

# ---- installed: auto-loaded with liblthread.so -----------------------------------

prefix=$tmp/prefix
if ${MAKE:-make} --no-print-directory -s install PREFIX="$prefix" \
    BUILD="$build" LDCONFIG=: >"$tmp/install.out" 2>&1; then
    auto=$(find "$prefix/share/gdb/auto-load" -name 'liblthread.so.*-gdb.py')
    check "install: the auto-load script is where gdb looks for it" \
        [ "$auto" = "$prefix/share/gdb/auto-load$prefix/lib/$(basename "$(readlink -f "$prefix/lib/liblthread.so")")-gdb.py" ]
    if ${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -I"$prefix/include" -Itests \
        -o "$tmp/target_shared" tests/test_gdb_target.c -L"$prefix/lib" \
        -llthread -Wl,-rpath,"$prefix/lib" -pthread >"$tmp/cc.out" 2>&1; then
        run_gdb "$tmp/auto.out" \
            -iex "set auto-load scripts-directory $prefix/share/gdb/auto-load" \
            -iex "set auto-load safe-path $prefix" \
            -ex 'break gdbt_stop' -ex run -ex 'info lthreads' \
            -ex 'lthread bt gdbt-sleeper' -ex kill "$tmp/target_shared"
        out=$tmp/auto.out
        check "install: auto-loaded, info lthreads" has "$out" ' gdbt-sleeper +waiting +sleep .* saved '
        check "install: auto-loaded, lthread bt" bt_has "$out" gdbt-sleeper lthread_sleep gdbt_saved_inner gdbt_saved_main
    else
        cat "$tmp/cc.out"
        check "install: a program builds against the installed library" false
    fi
else
    cat "$tmp/install.out"
    check "install: make install" false
fi

if [ "$failed" -gt 0 ]; then
    for f in "$tmp"/*.out; do
        echo "---- $(basename "$f")"
        grep -v '^\[New \|^\[Thread \|libthread_db' "$f" | head -150
    done
fi
echo "test_gdb.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
