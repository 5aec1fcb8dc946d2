#!/usr/bin/env bash
# bench/scale_run.sh: the hello server on N schedulers against the raw epoll
# loop on N threads (BENCHMARKS.md, "## Multicore", scaling).
#
#   epoll    build/server_epoll_mt PORT N: N threads, each its own epoll
#            loop and SO_REUSEPORT listener (server_epoll.c's logic)
#   lthread  build/server_lthread_mt PORT N: N schedulers, each its own
#            SO_REUSEPORT listener lthread and one lthread per connection
#            (server_lthread.c's handler)
#
# For every N, REPS rounds, the two servers interleaved (epoll, lthread,
# epoll, ...): the server pinned with taskset to CPUs 0..N-1, then
# `wrk -t N -c N*CONNS -d SECONDS --latency` pinned to CPUs N..2N-1, so that
# on a machine with 2N CPUs or more (16 for N = 1, 2, 4, 8) client and
# server never share a CPU. With fewer, wrk gets the CPUs left over, or when
# none is left all of the server's (the line "# N=...: wrk shares ..." says
# so); an N above the CPU count is skipped. Before each run the script
# waits (at most QUIET_WAIT s, default 30) until the CPUs were under 15%
# busy for a second, and logs how busy they were.
# Reports requests/s, the server's CPU time per request (utime + stime from
# /proc/PID/stat, before and after) and wrk's p99, then medians, the ratio
# lthread / epoll of the medians and the median of the ratios paired within
# a round. Target: lthread >= 0.9x epoll's requests/s at every N.
#
# Usage: bench/scale_run.sh [-n REPS] [-d SECONDS] [-t LIST] [-c CONNS] [-o FILE]
#   -n REPS     rounds (default 5)
#   -d SECONDS  wrk duration per run (default 5)
#   -t LIST     comma list of N (default 1,2,4,8)
#   -c CONNS    connections per server thread (default 64, as server_run.sh)
#   -o FILE     results (default bench/results/scale-<date>.txt)
# Lines: "RESULT <metric> <server>.n<N> <round> <value>". Needs wrk, taskset,
# curl. Only 127.0.0.1 is used.
set -u
cd "$(dirname "$0")" || exit 1

REPS=5 DUR=5 LIST=1,2,4,8 CONNS=64 OUT=""
while getopts "n:d:t:c:o:" o; do
    case $o in
    n) REPS=$OPTARG ;; d) DUR=$OPTARG ;; t) LIST=$OPTARG ;;
    c) CONNS=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,33p' "$0"; exit 2 ;;
    esac
done
mkdir -p results
[ -n "$OUT" ] || OUT=results/scale-$(date +%Y%m%d-%H%M%S).txt
tmp=$(mktemp -d /tmp/scale_run.XXXXXX) || exit 1
srv_pid=""
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

log() { echo "$*" | tee -a "$OUT"; }

make -s build/server_epoll_mt || { echo "scale_run.sh: server_epoll_mt failed to build" >&2; exit 1; }
servers=(epoll)
if [ -f ../build/liblthread.a ] && make -s build/server_lthread_mt; then
    servers+=(lthread)
else
    echo "scale_run.sh: server_lthread_mt does not build: skipped" >&2
fi
command -v wrk >/dev/null || { echo "scale_run.sh: wrk is missing (Debian wrk)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null

NCPU=$(nproc)
HZ=$(getconf CLK_TCK)
port_of() { case $1 in epoll) echo 19091 ;; lthread) echo 19092 ;; esac; }

{
    echo "# scaling benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $NCPU CPUs, $(uname -sr)"
    echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# N=$LIST REPS=$REPS wrk -tN -c$CONNS*N -d${DUR}s; $(wrk --version 2>&1 | head -1 | cut -c1-40)"
    echo "# lthread tree: $(git -C .. log -1 --format='%h %s' 2>/dev/null | cut -c1-60)$(git -C .. status --porcelain -- ../src ../include 2>/dev/null | grep -q . && echo ' + uncommitted changes in src/')"
} | tee "$OUT"

# CPU lists for N: server "0-(N-1)", wrk the next N CPUs, or what is left,
# or (nothing left) the server's own.
srv_cpus() { echo "0-$(($1 - 1))"; }
cli_cpus() {
    local lo=$1 hi=$((2 * $1 - 1))
    [ "$hi" -ge "$NCPU" ] && hi=$((NCPU - 1))
    if [ "$lo" -gt "$hi" ]; then srv_cpus "$1"; else echo "$lo-$hi"; fi
}

busy_ticks() { # busy and total ticks of all CPUs
    awk '$1 == "cpu" { for (i = 2; i <= NF; i++) t += $i
        print $2 + $3 + $4 + $7 + $8 + $9, t }' /proc/stat
}
QUIET_WAIT=${QUIET_WAIT:-30}
wait_quiet() {
    local end=$((SECONDS + QUIET_WAIT)) b0 t0 b1 t1 pct
    while :; do
        read -r b0 t0 < <(busy_ticks)
        sleep 1
        read -r b1 t1 < <(busy_ticks)
        pct=$(( (b1 - b0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1) ))
        [ "$pct" -lt 15 ] || [ "$SECONDS" -ge "$end" ] && break
    done
    echo "# busy before $1: ${pct}% of all CPUs" >>"$OUT"
}

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

start_server() { # NAME N
    local port
    port=$(port_of "$1")
    taskset -c "$(srv_cpus "$2")" "./build/server_${1}_mt" "$port" "$2" \
        >"$tmp/server.log" 2>&1 &
    srv_pid=$!
    for _ in $(seq 100); do
        curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.05
    done
    echo "scale_run.sh: server_${1}_mt did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
}

stop_server() {
    kill -TERM "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_pid=""
}

one_run() { # NAME N ROUND
    local name=$1 n=$2 r=$3 t0 t1 reqs rps p99
    wait_quiet "$name n=$n $r"
    start_server "$name" "$n"
    t0=$(cpu_ticks "$srv_pid")
    taskset -c "$(cli_cpus "$n")" wrk -t"$n" -c$((n * CONNS)) -d"$DUR"s --latency \
        "http://127.0.0.1:$(port_of "$name")/" >"$tmp/wrk.out" 2>&1
    t1=$(cpu_ticks "$srv_pid")
    stop_server
    if grep -q 'Socket errors\|Non-2xx' "$tmp/wrk.out"; then
        echo "scale_run.sh: $name n=$n: wrk reports errors:" >&2
        grep 'Socket errors\|Non-2xx' "$tmp/wrk.out" | tee -a "$OUT" >&2
    fi
    reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk.out")
    p99=$(awk '$1 == "99%" { v = $2 + 0; f = 1
        if ($2 ~ /ms$/) f = 1000; else if ($2 ~ /[0-9]s$/) f = 1000000
        else if ($2 ~ /m$/) f = 60000000
        printf "%.1f", v * f }' "$tmp/wrk.out")
    if [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
        echo "scale_run.sh: $name n=$n: no requests:" >&2
        cat "$tmp/wrk.out" >&2
        return
    fi
    log "RESULT req_per_s $name.n$n $r $rps"
    log "RESULT cpu_us_per_req $name.n$n $r $(awk -v t="$((t1 - t0))" \
        -v hz="$HZ" -v q="$reqs" 'BEGIN { printf "%.3f", t * 1e6 / hz / q }')"
    log "RESULT p99_us $name.n$n $r $p99"
}

ns=()
for n in ${LIST//,/ }; do
    if [ "$n" -gt "$NCPU" ]; then
        log "# N=$n: skipped, only $NCPU CPUs"
        continue
    fi
    ns+=("$n")
    c=$(cli_cpus "$n")
    if [ "$c" = "$(srv_cpus "$n")" ]; then
        log "# N=$n: server on CPUs $(srv_cpus "$n"); wrk shares them (no CPU left)"
    else
        log "# N=$n: server on CPUs $(srv_cpus "$n"), wrk on CPUs $c"
    fi
done
for r in $(seq "$REPS"); do
    for n in "${ns[@]}"; do
        for s in "${servers[@]}"; do
            echo "[round $r/$REPS] $s N=$n" >&2
            one_run "$s" "$n" "$r"
        done
    done
done
echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"

# ---- summary -----------------------------------------------------------------
awk '
$1 == "RESULT" {
    k = $2 SUBSEP $3; n[k]++; v[k, n[k]] = $5 + 0; at[$2, $3, $4] = $5 + 0
    split($3, p, ".n"); N[p[2]]; if ($4 > nrep) nrep = $4
}
function median(k,   i, j, t, c, a) {
    c = n[k]; for (i = 1; i <= c; i++) a[i] = v[k, i]
    for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--)
        { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    lo = a[1]; hi = a[c]
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
function paired(m, a, b,   r, c, i, j, t, x) {
    c = 0
    for (r = 1; r <= nrep; r++)
        if (((m, a, r) in at) && ((m, b, r) in at) && at[m, b, r] > 0)
            x[++c] = at[m, a, r] / at[m, b, r]
    if (!c) return "-"
    for (i = 2; i <= c; i++) for (j = i; j > 1 && x[j - 1] > x[j]; j--)
        { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
    return sprintf("%.2f", c % 2 ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2)
}
function cell(m, s, f) {
    k = m SUBSEP s
    if (!(k in n)) return "-"
    x = median(k)
    return sprintf(f " (" f "-" f ")", x, lo, hi)
}
function ratio(m, a, b) {
    if (!((m SUBSEP a) in n) || !((m SUBSEP b) in n)) return "-"
    return sprintf("%.2f", median(m SUBSEP a) / median(m SUBSEP b))
}
END {
    print ""
    print "| N | epoll req/s (min-max) | lthread req/s (min-max) | lthread/epoll | paired | epoll CPU us/req | lthread CPU us/req | lthread/epoll | epoll p99 us | lthread p99 us |"
    print "|---:|---|---|---:|---:|---|---|---:|---:|---:|"
    for (x in N) ord[++nn] = x + 0
    for (i = 2; i <= nn; i++) for (j = i; j > 1 && ord[j - 1] > ord[j]; j--)
        { t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t }
    for (i = 1; i <= nn; i++) {
        e = "epoll.n" ord[i]; l = "lthread.n" ord[i]
        printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", ord[i],
            cell("req_per_s", e, "%.0f"), cell("req_per_s", l, "%.0f"),
            ratio("req_per_s", l, e), paired("req_per_s", l, e),
            cell("cpu_us_per_req", e, "%.2f"), cell("cpu_us_per_req", l, "%.2f"),
            ratio("cpu_us_per_req", l, e),
            ((("p99_us" SUBSEP e) in n) ? sprintf("%.0f", median("p99_us" SUBSEP e)) : "-"),
            ((("p99_us" SUBSEP l) in n) ? sprintf("%.0f", median("p99_us" SUBSEP l)) : "-")
    }
}' "$OUT" | tee -a "$OUT"
case $OUT in /*) echo "results: $OUT" ;; *) echo "results: bench/$OUT" ;; esac
