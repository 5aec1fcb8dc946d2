#!/usr/bin/env bash
# bench/ab_run.sh: two builds of the library side by side, same run.
#
# Builds this tree's switch_lthread, create_lthread and server_lthread
# against the library of tree A and of tree B (each already built: its
# build/liblthread.a and build/liblthread.so), linked statically and
# dynamically (the shared library found through an rpath), and runs them
# interleaved REPS times (A-static B-static A-shared B-shared, ...), every
# run pinned. Reports, per benchmark row and linkage, the medians of A and
# B, and the median of the paired ratios B/A (run r of B over run r of A),
# which drifts less with the machine's load than the ratio of medians.
#
#   switch   switch_lthread ROUNDS (ns per hand-off; cond and sleep(0), 0
#            and 1024 B live, separate regions; shared region at 0 B)
#   create   create_lthread N (ns per create + run + join, batch forms)
#   server   server_lthread pinned to CPU $SRV_CPU, `wrk -t1 -c64 -dDURs`
#            pinned to $CLI_CPU: the server's CPU us per request
#
# Usage: bench/ab_run.sh -a TREE_A -b TREE_B [-n REPS] [-g GROUPS]
#                        [-d SECONDS] [-o FILE] [-q]
#   -n REPS    repetitions (default 5)       -g GROUPS  switch,create,server
#   -d SECONDS wrk duration (default 3)      -o FILE    results file
#   -q         quick: 1/4 of the counts
# Needs taskset, and wrk and curl for the server group.
set -u
here=$(pwd)
cd "$(dirname "$0")" || exit 1

A="" B_="" REPS=5 GROUPS_=switch,create,server DUR=3 OUT="" QUICK=0
SRV_CPU=0 CLI_CPU=1 CPU=1
while getopts "a:b:n:g:d:o:q" o; do
    case $o in
    a) A=$OPTARG ;; b) B_=$OPTARG ;; n) REPS=$OPTARG ;; g) GROUPS_=$OPTARG ;;
    d) DUR=$OPTARG ;; o) OUT=$OPTARG ;; q) QUICK=1 ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
    esac
done
[ -n "$A" ] && [ -n "$B_" ] || { sed -n '2,24p' "$0"; exit 2; }
A=$(cd "$here" && cd "$A" && pwd) B_=$(cd "$here" && cd "$B_" && pwd) || exit 1
case $OUT in "" | /*) ;; *) OUT=$here/$OUT ;; esac
[ -n "$OUT" ] || OUT=results/ab-$(date +%Y%m%d-%H%M%S).txt
mkdir -p "$(dirname "$OUT")" || exit 1
tmp=$(mktemp -d /tmp/ab_run.XXXXXX) || exit 1
srv_pid=""
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

SW=700000 CR=1000000
[ "$QUICK" = 1 ] && SW=170000 CR=250000

# build TAG TREE: $tmp/TAG-{static,shared}/{switch,create,server}_lthread
build() {
    local tag=$1 tree=$2 libs="" b
    nm "$tree/build/liblthread.a" 2>/dev/null | grep -q ' U io_uring_' &&
        libs=-luring
    for b in switch_lthread create_lthread server_lthread; do
        mkdir -p "$tmp/$tag-static" "$tmp/$tag-shared"
        gcc -std=gnu11 -O2 -g -I"$tree/include" -o "$tmp/$tag-static/$b" \
            "$b.c" "$tree/build/liblthread.a" -pthread $libs &&
            gcc -std=gnu11 -O2 -g -I"$tree/include" -o "$tmp/$tag-shared/$b" \
                "$b.c" -L"$tree/build" -llthread -Wl,-rpath,"$tree/build" \
                -pthread || { echo "ab_run.sh: $b does not build against $tree" >&2; exit 1; }
    done
}
build A "$A"
build B "$B_"

{
    echo "# ab_run, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cpus; switch/create pinned to cpu $CPU, server to $SRV_CPU, wrk to $CLI_CPU"
    echo "# kernel: $(uname -r); $(gcc --version | head -1)"
    echo "# A: $A at $(git -C "$A" log -1 --format=%h 2>/dev/null)$(git -C "$A" status --porcelain -- src include 2>/dev/null | grep -q . && echo ' + changes')"
    echo "# B: $B_ at $(git -C "$B_" log -1 --format=%h 2>/dev/null)$(git -C "$B_" status --porcelain -- src include 2>/dev/null | grep -q . && echo ' + changes')"
    echo "# reps $REPS, quick $QUICK, loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
HZ=$(getconf CLK_TCK)
PORT=19091

# server_run DIR: one wrk run; prints the server's CPU us per request.
server_run() {
    local t0 t1 reqs i
    taskset -c "$SRV_CPU" "$1/server_lthread" "$PORT" >"$tmp/srv.log" 2>&1 &
    srv_pid=$!
    for i in $(seq 100); do
        curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$PORT/" && break
        sleep 0.05
    done
    t0=$(cpu_ticks "$srv_pid")
    taskset -c "$CLI_CPU" wrk -t1 -c64 -d"$DUR"s "http://127.0.0.1:$PORT/" \
        >"$tmp/wrk.out" 2>&1
    t1=$(cpu_ticks "$srv_pid")
    kill -TERM "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_pid=""
    reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
    awk -v t="$((t1 - t0))" -v hz="$HZ" -v r="${reqs:-0}" \
        'BEGIN { if (r > 0) printf "%.4f\n", t * 1e6 / hz / r }'
}

RAW=$tmp/raw
: >"$RAW"
for g in ${GROUPS_//,/ }; do
    for ((r = 1; r <= REPS; r++)); do
        for cfg in A-static B-static A-shared B-shared; do
            d=$tmp/$cfg tag=${cfg%%-*} link=${cfg#*-}
            echo "[$g $r/$REPS] $cfg" >&2
            case $g in
            switch)
                taskset -c "$CPU" "$d/switch_lthread" "$SW" 2>/dev/null
                LTHREAD_REGIONS=1 taskset -c "$CPU" "$d/switch_lthread" \
                    "$SW" 2>/dev/null | grep 'pad0\.'
                ;;
            create) taskset -c "$CPU" "$d/create_lthread" "$CR" 2>/dev/null ;;
            server)
                v=$(server_run "$d")
                [ -n "$v" ] && echo "RESULT server lthread.cpu_us_per_req $v us"
                ;;
            esac | awk -v r="$r" -v t="$tag" -v l="$link" \
                '$1 == "RESULT" { print "RESULT", r, t, l, $2, $3, $4, $5 }' \
                >>"$RAW"
        done
    done
done
cat "$RAW" >>"$OUT"
echo >>"$OUT"
awk -f ab_summarize.awk "$RAW" | tee -a "$OUT"
echo "results written to $OUT" >&2
