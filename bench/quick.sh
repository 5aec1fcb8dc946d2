#!/usr/bin/env bash
# bench/quick.sh (make bench-quick): the hot paths against their peers in
# one run, in under two minutes, with a summary of ratios and the
# issue #14 targets. For every change to a hot path, before it lands.
#
#   switch  switch_lthread (static library; "shared" rows: LTHREAD_REGIONS=1),
#           also through the shared library with and without -fno-plt;
#           switch_st (State Threads), switch_fcontext (Boost.Context),
#           switch_aco (libaco, with LIBACO=DIR)
#   create  create_lthread (the same three linkages), create_st,
#           create_fcontext, create_aco
#   server  server_epoll (the raw epoll loop), server_lthread, server_st:
#           CPU us per request under `wrk -t1 -c64 -d${DUR}s`
# Each group runs REPS times interleaved, pinned (taskset); medians, and
# for each ratio the median of the ratios paired within a repetition.
#
# Usage: bench/quick.sh [-n REPS] [-d SECONDS] [-o FILE]   (REPS 3, DUR 2)
#        (a relative FILE is taken from bench/, as the default
#        results/quick-<date>.txt is)
#        LIBACO=DIR bench/quick.sh     also against libaco (its source,
#                                      outside this tree)
# Needs ../build/liblthread.a and .so (top-level make), taskset, wrk, curl.
set -u
cd "$(dirname "$0")" || exit 1
REPS=3 DUR=2 OUT=""
while getopts "n:d:o:" o; do
    case $o in
    n) REPS=$OPTARG ;; d) DUR=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
    esac
done
mkdir -p results build/quick
[ -n "$OUT" ] || OUT=results/quick-$(date +%Y%m%d-%H%M%S).txt
mkdir -p "$(dirname "$OUT")" || exit 1
[ -f ../build/liblthread.a ] && [ -f ../build/liblthread.so ] ||
    { echo "quick.sh: build the library first (make at the top)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/quick.XXXXXX) || exit 1
srv_pid=""
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

make -s peers lthread servers ${LIBACO:+LIBACO=$LIBACO} >&2 ||
    { echo "quick.sh: the benchmarks do not build" >&2; exit 1; }
Q=build/quick
for b in switch_lthread create_lthread; do
    gcc -std=gnu11 -O2 -g -I../include -o $Q/$b-so $b.c -L../build -llthread \
        -Wl,-rpath,"$(cd ../build && pwd)" -pthread &&
        gcc -std=gnu11 -O2 -g -fno-plt -I../include -o $Q/$b-noplt $b.c \
            -L../build -llthread -Wl,-rpath,"$(cd ../build && pwd)" -pthread ||
        exit 1
done

SW=100000 CR=200000
# "tag|command": the tag names the linkage for lthread, the peer otherwise
jobs_switch=("static|./build/switch_lthread $SW"
    "static|env LTHREAD_REGIONS=1 ./build/switch_lthread $SW"
    "so|$Q/switch_lthread-so $SW" "noplt|$Q/switch_lthread-noplt $SW"
    "st|./build/switch_st $SW" "fc|./build/switch_fcontext $((SW * 10))"
    "aco|./build/switch_aco $SW")
jobs_create=("static|./build/create_lthread $CR" "so|$Q/create_lthread-so $CR"
    "noplt|$Q/create_lthread-noplt $CR" "st|./build/create_st $CR"
    "fc|./build/create_fcontext $CR" "aco|./build/create_aco $CR")
servers=(epoll lthread st)

{
    echo "# bench-quick, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cpus; switch/create pinned to cpu 1, servers to 0, wrk to 1"
    echo "# kernel: $(uname -r); $(gcc --version | head -1)"
    echo "# lthread tree: $(git -C .. log -1 --format=%h 2>/dev/null)$(git -C .. status --porcelain -- src include 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
    echo "# reps $REPS, wrk ${DUR}s, loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
    [ -x build/switch_aco ] || echo "# libaco: not built (LIBACO=DIR): its rows are missing"
} | tee "$OUT"

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
server_run() { # NAME: prints CPU us per request of build/server_NAME
    local port=19095 t0 t1 reqs i
    taskset -c 0 "$(fresh "./build/server_$1")" "$port" >"$tmp/srv.log" 2>&1 &
    srv_pid=$!
    for i in $(seq 100); do
        curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.05
    done
    t0=$(cpu_ticks "$srv_pid")
    taskset -c 1 wrk -t1 -c64 -d"$DUR"s "http://127.0.0.1:$port/" >"$tmp/wrk" 2>&1
    t1=$(cpu_ticks "$srv_pid")
    kill -TERM "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_pid=""
    reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
    awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v r="${reqs:-0}" \
        'BEGIN { if (r > 0) printf "%.4f\n", t * 1e6 / hz / r }'
}

# Each repetition runs fresh copies of the binaries and of liblthread.so
# (LD_LIBRARY_PATH outranks the -so binaries' RUNPATH): on the AMD EPYC
# guest, byte-identical copies of one binary ran the same hand-off at 17.3
# and 19.8 ns, each copy steadily (BENCHMARKS.md, "Repetitions inside one
# process"): where a file's pages lie counts, and fresh copies make it a
# per-repetition draw that the medians absorb, not a bias of one binary.
fresh() { # fresh FILE: path of a copy of FILE made for this repetition
    local d=$tmp/fresh.$r
    mkdir -p "$d" && cp -p "$1" "$d/${1##*/}" && echo "$d/${1##*/}"
}
RAW=$tmp/raw
: >"$RAW"
# How much of the core was ours before each job: ALU adds per cycle
# (build/core_probe: about 4 with the physical core to ourselves, fewer
# while a hyperthread of another tenant takes its share). The summary
# says how contended the run was; the figures are all the samples'.
core_probe() {
    [ -x build/core_probe ] || return 0
    taskset -c 1 build/core_probe alu 2>/dev/null |
        awk -v r="$r" '$1 == "PROBE" { print "PROBE", r, $2, $3 }' >>"$RAW"
}
for ((r = 1; r <= REPS; r++)); do
    rm -rf "$tmp/fresh.$((r - 1))"
    lib=$(fresh ../build/liblthread.so.1) || exit 1
    for g in switch create; do
        declare -n jobs="jobs_$g"
        for j in "${jobs[@]}"; do
            tag=${j%%|*} cmd=${j#*|} bin=""
            for w in $cmd; do case $w in ./build/* | build/*) bin=$w; break ;; esac; done
            [ -x "$bin" ] || continue
            echo "[$r/$REPS] $cmd" >&2
            core_probe
            copy=$(fresh "$bin") || exit 1
            # shellcheck disable=SC2086
            LD_LIBRARY_PATH=${lib%/*} taskset -c 1 ${cmd/"$bin"/"$copy"} 2>/dev/null |
                awk -v r="$r" -v t="$tag" '$1 == "RESULT" { print "RESULT", r, t, $2, $3, $4 }' >>"$RAW"
        done
        unset -n jobs
    done
    for s in "${servers[@]}"; do
        [ -x "build/server_$s" ] || continue
        echo "[$r/$REPS] server_$s" >&2
        v=$(server_run "$s")
        [ -n "$v" ] && echo "RESULT $r $s server cpu_us_per_req $v" >>"$RAW"
    done
done
cat "$RAW" >>"$OUT"
echo >>"$OUT"
awk -f quick_summarize.awk "$RAW" | tee -a "$OUT"
case $OUT in /*) ;; *) OUT=bench/$OUT ;; esac
echo "results written to $OUT" >&2
