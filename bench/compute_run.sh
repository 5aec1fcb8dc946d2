#!/usr/bin/env bash
# bench/compute_run.sh: the compute-section benchmarks (BENCHMARKS.md,
# "## Compute sections").
#
#   roundtrip  an empty lthread_compute_begin()/end() against a plain
#              mutex + condvar hand-off to a pthread and back
#              (build/compute_roundtrip, both in each run);
#   fib        the seed's web server with fibonacci(30) (compute_fib_lthread,
#              with the default pool and with LTHREAD_COMPUTE_MAX = CPUs)
#              against a pthread pool of CPUs threads + epoll acceptor
#              (compute_fib_pool), each under `wrk -c8 -t1`, interleaved.
# Nothing is pinned: every variant needs two CPUs. Figures are medians.
#
# Usage: bench/compute_run.sh [-n REPS] [-d SECONDS] [-r ROUNDS] [-o FILE] [-g GROUPS]
#   -n REPS     repetitions (default 5)
#   -d SECONDS  wrk duration per run (default 5)
#   -r ROUNDS   round trips per roundtrip run (default 100000)
#   -o FILE     results file (default bench/results/compute-<date>.txt)
#   -g GROUPS   comma list of roundtrip,fib (default both)
# Environment: WRK (default wrk), PORT (first of two ports, default 23128),
# LIBLTHREAD (the library to link, default ../build/liblthread.a) and B (the
# build folder, default build): to measure another build of the library.
set -u
cd "$(dirname "$0")" || exit 1

REPS=5 DUR=5 ROUNDS=100000 OUT="" GROUPS_=roundtrip,fib
while getopts "n:d:r:o:g:" o; do
    case $o in
    n) REPS=$OPTARG ;; d) DUR=$OPTARG ;; r) ROUNDS=$OPTARG ;;
    o) OUT=$OPTARG ;; g) GROUPS_=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
    esac
done
WRK=${WRK:-wrk}
PORT=${PORT:-23128}
mkdir -p results
[ -n "$OUT" ] || OUT=results/compute-$(date +%Y%m%d-%H%M%S).txt

B=${B:-build}
make -s compute B="$B" ${LIBLTHREAD:+LIBLTHREAD="$LIBLTHREAD"} || { echo "compute_run.sh: build failed" >&2; exit 1; }

{
    echo "# lthread compute-section benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cpus, not pinned"
    echo "# kernel: $(uname -r); $(gcc --version | head -1)"
    echo "# reps $REPS, wrk -c8 -t1 -d${DUR}s, $ROUNDS round trips per run"
    echo "# library: ${LIBLTHREAD:-../build/liblthread.a}"
} >"$OUT"
cat "$OUT"

RAW=$(mktemp)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -f "$RAW"
}
trap cleanup EXIT INT TERM

# Waits until something accepts on 127.0.0.1:$1.
wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "compute_run.sh: nothing listens on port $1" >&2
    return 1
}

# wrk's Requests/sec for one run of $2 seconds against port $1.
wrk_rps() {
    "$WRK" -c8 -t1 -d"${2}s" "http://127.0.0.1:$1/" 2>&1 |
        awk '/^Requests\/sec:/ { print $2 } /Non-2xx|Socket errors/ { print "# " $0 > "/dev/stderr" }'
}

# CPU time (user + system, in clock ticks) process $1 has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# One fib run: variant $1, port $2, server pid $3, repetition $4. Records
# requests/s and the server's CPU time per request (less sensitive than
# requests/s to what else the machine runs).
fib_run() {
    local c0 c1 out req rps
    c0=$(cpu_ticks "$3")
    out=$("$WRK" -c8 -t1 -d"${DUR}s" "http://127.0.0.1:$2/" 2>&1)
    c1=$(cpu_ticks "$3")
    req=$(echo "$out" | awk '/ requests in / { print $1 }')
    rps=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
    echo "$out" | grep -E 'Non-2xx|Socket errors' | sed 's/^/# /' >&2
    echo "RESULT $4 compute_fib30 $1 ${rps:-0} req/s" >>"$RAW"
    awk -v c=$((c1 - c0)) -v tk="$(getconf CLK_TCK)" -v n="${req:-0}" \
        -v r="$4" -v v="$1" 'BEGIN { if (n > 0) printf "RESULT %s compute_fib30_cpu %s %.1f us/req\n", r, v, c / tk / n * 1e6 }' >>"$RAW"
}

for g in ${GROUPS_//,/ }; do
    case $g in
    roundtrip)
        for ((r = 1; r <= REPS; r++)); do
            echo "[roundtrip $r/$REPS]" >&2
            "$B"/compute_roundtrip "$ROUNDS" | grep '^RESULT' |
                sed "s/^RESULT/RESULT $r/" >>"$RAW"
        done
        ;;
    fib)
        np=$(nproc)
        "$B"/compute_fib_lthread "$PORT" 30 2>/dev/null &
        pid_lt=$!
        "$B"/compute_fib_pool "$((PORT + 1))" 30 2>/dev/null &
        pid_pool=$!
        LTHREAD_COMPUTE_MAX=$np "$B"/compute_fib_lthread "$((PORT + 2))" 30 \
            2>/dev/null &
        pid_max=$!
        pids+=("$pid_lt" "$pid_pool" "$pid_max")
        for p in "$PORT" "$((PORT + 1))" "$((PORT + 2))"; do
            wait_port "$p" || exit 1
            # Warm-up: compute workers created, caches and sockets hot.
            wrk_rps "$p" 1 >/dev/null
        done
        for ((r = 1; r <= REPS; r++)); do
            echo "[fib $r/$REPS]" >&2
            fib_run lthread "$PORT" "$pid_lt" "$r"
            fib_run pool "$((PORT + 1))" "$pid_pool" "$r"
            fib_run "lthread_max$np" "$((PORT + 2))" "$pid_max" "$r"
        done
        ;;
    *) echo "compute_run.sh: unknown group $g" >&2 ;;
    esac
done

cat "$RAW" >>"$OUT"
echo >>"$OUT"
awk '
$1 == "RESULT" {
    k = $3 " " $4
    if (!(k in n)) order[++nk] = k
    v[k, ++n[k]] = $5 + 0; unit[k] = $6
    at[$3, $4, $2] = $5 + 0
    if ($2 > nrep) nrep = $2
}
# Median over the repetitions of a/b taken within the same repetition: the
# load of a shared machine drifts less within one repetition than across.
function paired(name, a, b,    r, m, i, j, t, x) {
    m = 0
    for (r = 1; r <= nrep; r++)
        if (((name, a, r) in at) && at[name, b, r] > 0)
            x[++m] = at[name, a, r] / at[name, b, r]
    if (!m) return -1
    for (i = 2; i <= m; i++) {
        t = x[i]
        for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]
        x[j + 1] = t
    }
    return m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
}
function median(k,    i, j, t, a, m) {
    m = n[k]
    for (i = 1; i <= m; i++) a[i] = v[k, i]
    for (i = 2; i <= m; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    lo[k] = a[1]; hi[k] = a[m]
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
    print "| benchmark | variant | median | min | max | unit |"
    print "|---|---|---|---|---|---|"
    for (i = 1; i <= nk; i++) {
        k = order[i]; med[k] = median(k); split(k, p, " ")
        f = med[k] < 100 ? "%.1f" : "%.0f"
        printf "| %s | %s | " f " | " f " | " f " | %s |\n", p[1], p[2], med[k], lo[k], hi[k], unit[k]
    }
    print ""
    if ((x = paired("compute_roundtrip", "lthread", "handoff")) > 0)
        printf "roundtrip: lthread / handoff = %.2f (median of paired ratios; target <= 1.5)\n", x
    if ((x = paired("compute_fib30", "lthread", "pool")) > 0)
        printf "fib(30) server: lthread / pool = %.2f (requests/s, median of paired ratios)\n", x
    for (i = 1; i <= nk; i++) {
        split(order[i], p, " ")
        if (p[1] == "compute_fib30" && p[2] ~ /^lthread_max/ &&
            (x = paired("compute_fib30", p[2], "pool")) > 0)
            printf "fib(30) server: %s / pool = %.2f\n", p[2], x
    }
}' "$RAW" | tee -a "$OUT"
case $OUT in /*) echo "results written to $OUT" >&2 ;; *) echo "results written to bench/$OUT" >&2 ;; esac
