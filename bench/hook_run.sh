#!/usr/bin/env bash
# bench/hook_run.sh: liblthread_hook's two benchmarks (BENCHMARKS.md,
# "The hook library"), from the top of a built tree (make lib examples):
#  1. hook_client hook vs api against examples/hello_server (one scheduler,
#     pinned to CPU 1; the client pinned to CPU 0): client CPU per request,
#     RUNS interleaved pairs, medians and the median of paired ratios;
#  2. hook_passthrough plain, with LD_PRELOAD=liblthread_hook.so and with
#     the floor of any interposer (bench/hook_floor.c, bare forwarders)
#     preloaded: ns per write+read pair on a pipe in a program without
#     lthreads, PT_RUNS interleaved triples of PT_N pairs; medians and
#     quartiles of the paired ratios; and, with valgrind, the instructions
#     per pair each way (callgrind: exact where time is noise).
# Environment: RUNS (default 7), CONNS (50), REQS (2000 per connection),
# PT_RUNS (31), PT_N (300000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=build
RUNS=${RUNS:-7}
CONNS=${CONNS:-50}
REQS=${REQS:-2000}
PT_RUNS=${PT_RUNS:-31}
PT_N=${PT_N:-300000}
mkdir -p $B/bench
cc -O2 -g -Iinclude -o $B/bench/hook_client_hooked bench/hook_client.c \
    -L$B -Wl,--no-as-needed -llthread_hook -llthread -Wl,-rpath,"$PWD/$B" -pthread
cc -O2 -g -Iinclude -o $B/bench/hook_client_api bench/hook_client.c \
    -L$B -llthread -Wl,-rpath,"$PWD/$B" -pthread
cc -O2 -g -o $B/bench/hook_passthrough bench/hook_passthrough.c
cc -O2 -g -shared -fPIC -o $B/bench/hook_floor.so bench/hook_floor.c -ldl

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# "median (q1-q3)" of a column of numbers.
quartiles() {
    sort -g | awk '{a[NR]=$1} END {
        q1 = a[int((NR + 3) / 4)]; q3 = a[int((3 * NR + 3) / 4)]
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%.3f (%.3f-%.3f)\n", m, q1, q3 }'
}

lscpu | grep -E 'Model name|^CPU\(s\)'
log=$(mktemp)
taskset -c 1 $B/examples/hello_server 0 1 >"$log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do
    port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.1
done
echo "hello_server on port $port; $CONNS connections x $REQS requests, $RUNS pairs"
: >/tmp/hook_bench_pairs
for i in $(seq "$RUNS"); do
    h=$(taskset -c 0 $B/bench/hook_client_hooked hook "$port" "$CONNS" "$REQS")
    a=$(taskset -c 0 $B/bench/hook_client_api api "$port" "$CONNS" "$REQS")
    echo "  $h"
    echo "  $a"
    hv=$(echo "$h" | awk '{print $NF}')
    av=$(echo "$a" | awk '{print $NF}')
    echo "$hv $av" >>/tmp/hook_bench_pairs
done
echo "client CPU us/request: hook median $(awk '{print $1}' /tmp/hook_bench_pairs | median)," \
    "api median $(awk '{print $2}' /tmp/hook_bench_pairs | median)," \
    "median paired ratio hook/api $(awk '{print $1/$2}' /tmp/hook_bench_pairs | median)"

pt=$B/bench/hook_passthrough
hook_env=(env LD_PRELOAD="$PWD/$B/liblthread_hook.so" LD_LIBRARY_PATH="$PWD/$B")
floor_env=(env LD_PRELOAD="$PWD/$B/bench/hook_floor.so")
: >/tmp/hook_bench_pt
for i in $(seq "$PT_RUNS"); do
    p=$(taskset -c 0 $pt "$PT_N" | awk '{print $2}')
    q=$("${hook_env[@]}" taskset -c 0 $pt "$PT_N" | awk '{print $2}')
    f=$("${floor_env[@]}" taskset -c 0 $pt "$PT_N" | awk '{print $2}')
    echo "$p $q $f" >>/tmp/hook_bench_pt
done
echo "pipe write+read pair, no lthreads, $PT_RUNS triples of $PT_N:" \
    "plain median $(awk '{print $1}' /tmp/hook_bench_pt | median) ns," \
    "hooks $(awk '{print $2}' /tmp/hook_bench_pt | median) ns," \
    "floor $(awk '{print $3}' /tmp/hook_bench_pt | median) ns"
echo "  paired ratios, median (quartiles): hooks/plain" \
    "$(awk '{print $2/$1}' /tmp/hook_bench_pt | quartiles)," \
    "floor/plain $(awk '{print $3/$1}' /tmp/hook_bench_pt | quartiles)," \
    "hooks/floor $(awk '{print $2/$3}' /tmp/hook_bench_pt | quartiles)"
if command -v valgrind >/dev/null; then
    # Instructions per pair: the difference between runs of 2N and N pairs
    # (start-up and loading cancel out).
    icount() {
        local a b
        a=$("$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            $pt 200000 2>&1 | sed -n 's/.*Collected : //p')
        b=$("$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            $pt 100000 2>&1 | sed -n 's/.*Collected : //p')
        echo $(((a - b) / 100000))
    }
    echo "  instructions per pair (callgrind): plain $(icount env)," \
        "hooks $(icount "${hook_env[@]}"), floor $(icount "${floor_env[@]}")"
fi
rm -f /tmp/hook_bench_pairs /tmp/hook_bench_pt
