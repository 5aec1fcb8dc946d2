#!/usr/bin/env bash
# bench/hook_run.sh: liblthread_hook's two benchmarks (BENCHMARKS.md,
# "The hook library"), from the top of a built tree (make lib examples):
#  1. hook_client hook vs api against examples/hello_server (one scheduler,
#     pinned to CPU 1; the client pinned to CPU 0): client CPU per request,
#     RUNS interleaved pairs, medians and the median of paired ratios;
#  2. hook_passthrough with and without LD_PRELOAD: ns per write+read pair
#     on a pipe in a program without lthreads, RUNS interleaved pairs.
# Environment: RUNS (default 7), CONNS (50), REQS (2000 per connection).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=build
RUNS=${RUNS:-7}
CONNS=${CONNS:-50}
REQS=${REQS:-2000}
mkdir -p $B/bench
cc -O2 -g -Iinclude -o $B/bench/hook_client_hooked bench/hook_client.c \
    -L$B -Wl,--no-as-needed -llthread_hook -llthread -Wl,-rpath,"$PWD/$B" -pthread
cc -O2 -g -Iinclude -o $B/bench/hook_client_api bench/hook_client.c \
    -L$B -llthread -Wl,-rpath,"$PWD/$B" -pthread
cc -O2 -g -o $B/bench/hook_passthrough bench/hook_passthrough.c

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

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

: >/tmp/hook_bench_pt
for i in $(seq "$RUNS"); do
    p=$(taskset -c 0 $B/bench/hook_passthrough | awk '{print $2}')
    q=$(LD_PRELOAD="$PWD/$B/liblthread_hook.so" LD_LIBRARY_PATH="$PWD/$B" \
        taskset -c 0 $B/bench/hook_passthrough | awk '{print $2}')
    echo "  plain $p ns, preloaded $q ns"
    echo "$p $q" >>/tmp/hook_bench_pt
done
echo "pipe write+read pair, no lthreads: plain median $(awk '{print $1}' /tmp/hook_bench_pt | median) ns," \
    "preloaded median $(awk '{print $2}' /tmp/hook_bench_pt | median) ns," \
    "median paired ratio $(awk '{print $2/$1}' /tmp/hook_bench_pt | median)"
rm -f /tmp/hook_bench_pairs /tmp/hook_bench_pt
