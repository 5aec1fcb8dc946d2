#!/usr/bin/env bash
# TLS: examples/https_server with its handshakes inline (on the scheduler)
# and in compute sections (-c), side by side, runs interleaved.
#
#   make && make examples && bench/tls_run.sh [-n runs] [-s cpu] [-c cpu]
#
#   -n  runs of each mode (default 5), interleaved: inline, -c, inline, ...
#   -s  the CPU the server is pinned to, all its pthreads (default 0)
#   -c  the CPU the clients are pinned to (default 1)
#
# Each run starts a fresh server (one scheduler) and measures, with
# build/examples/https_client:
#   hs     handshakes/s: 500 connections at once, one request each (the
#          client's first phase), and the server's CPU time (utime + stime
#          from /proc, 10 ms ticks) over that client's run divided by the
#          handshakes: CPU per handshake, request and close included;
#   req    requests/s over 50 established keep-alive connections, 1000
#          requests each, one at a time on each (the client's second phase);
#   probe  the latency of plain requests on one established connection
#          (300, one after another) while another client floods the server
#          with new connections (loops of 100 at once, one request each).
# Prints one line per run and mode, then medians and the paired ratios
# (-c over inline, same run). Results: one file under bench/results/.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

runs=5
scpu=0
ccpu=1
while getopts n:s:c: o; do
    case $o in
    n) runs=$OPTARG ;;
    s) scpu=$OPTARG ;;
    c) ccpu=$OPTARG ;;
    *) exit 2 ;;
    esac
done
ex=build/examples
[ -x $ex/https_server ] && [ -x $ex/https_client ] || {
    echo "tls_run.sh: build the examples first (make examples; needs libssl-dev)" >&2
    exit 1
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lthread-tlsbench.XXXXXX") || exit 1
srv=
flood=
cleanup() {
    [ -n "$flood" ] && kill "$flood" 2>/dev/null
    [ -n "$srv" ] && kill -KILL "$srv" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" \
    -out "$tmp/cert.pem" 2>/dev/null || exit 1
hz=$(getconf CLK_TCK)
out=bench/results/tls-$(git rev-parse --short HEAD 2>/dev/null || echo tree).txt
{
    echo "# bench/tls_run.sh -n $runs -s $scpu -c $ccpu, $(date -u +%FT%TZ)"
    echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(openssl version)"
    echo "# server key: RSA 2048 (self-signed); TLS 1.3, X25519"
    echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
client() { taskset -c "$ccpu" $ex/https_client -t 60000 "$@" "$tmp/cert.pem" "$port"; }
# field NAME LINE: the number after NAME in an https_client line.
num() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" <<<"$2"; }

for r in $(seq "$runs"); do
    for mode in inline compute; do
        flag=
        [ $mode = compute ] && flag=-c
        taskset -c "$scpu" $ex/https_server $flag "$tmp/cert.pem" \
            "$tmp/key.pem" 0 1 >"$tmp/srv.log" 2>&1 &
        srv=$!
        for _ in $(seq 100); do
            grep -q listening "$tmp/srv.log" && break
            sleep 0.05
        done
        port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/srv.log")

        t0=$(cpu_ticks "$srv")
        hs=$(client -n 500 -m 1)
        t1=$(cpu_ticks "$srv")
        hs_rate=$(sed -n 's/.* handshakes in [0-9.]* s (\([0-9]*\)\/s).*/\1/p' <<<"$hs")
        cpu_hs=$(awk -v d=$((t1 - t0)) -v hz="$hz" \
            'BEGIN { printf "%.3f", d * 1000 / hz / 500 }')

        rq=$(client -n 50 -m 1000)
        rq_rate=$(sed -n 's/.* good replies in [0-9.]* s (\([0-9]*\)\/s).*/\1/p' <<<"$rq")

        (while :; do client -n 100 -m 1 >/dev/null 2>&1; done) &
        flood=$!
        sleep 0.5
        pr=$(client -n 1 -m 300)
        kill "$flood" 2>/dev/null
        wait "$flood" 2>/dev/null
        flood=
        kill -TERM "$srv"
        wait "$srv"
        srv=
        fails=$(grep -c 'failed, [1-9]\|[1-9][0-9]* handshakes failed' <<<"$hs$rq$pr")
        echo "run=$r mode=$mode hs_per_s=$hs_rate cpu_ms_per_hs=$cpu_hs" \
            "req_per_s=$rq_rate probe_p50_ms=$(num p50 "$pr")" \
            "probe_p99_ms=$(num p99 "$pr") probe_max_ms=$(num max "$pr")" \
            "client_failures=$fails" | tee -a "$out"
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"

# Medians per mode, and the median of the per-run ratios compute / inline.
awk '
function med(a, n,   i, j, t) {
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^run=/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    m = v["mode"]; r = v["run"]
    for (k in v) if (k != "mode" && k != "run") val[m, k, r] = v[k]
    nrun[m] = r
    keys = "hs_per_s cpu_ms_per_hs req_per_s probe_p50_ms probe_p99_ms probe_max_ms"
}
END {
    n = split(keys, K, " ")
    printf "# %-16s %10s %10s %16s\n", "median", "inline", "compute", "paired c/i"
    for (k = 1; k <= n; k++) {
        for (r = 1; r <= nrun["inline"]; r++) {
            a[r] = val["inline", K[k], r]; b[r] = val["compute", K[k], r]
            c[r] = a[r] > 0 ? b[r] / a[r] : 0
        }
        R = nrun["inline"]
        mi = med(a, R); mc = med(b, R); mr = med(c, R)
        printf "# %-16s %10s %10s %16.2f\n", K[k], mi, mc, mr
    }
}' "$out" | tee -a "$out"
echo "results: $out"
