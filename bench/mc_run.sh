#!/usr/bin/env bash
# bench/mc_run.sh: the multicore channel and mutex benchmarks
# (BENCHMARKS.md, "## Multicore"; the server scaling is bench/scale_run.sh).
#
#   xsched   channels between threads: ping-pong round trip and stream
#            throughput, 1 producer x 1 consumer and 4 x 4 (bench/xsched.h):
#            xsched_lthread (schedulers; again with each scheduler pthread
#            pinned to one CPU, XS_PIN=1, reported as lthread-pinned; and
#            with polled channel waits off, LTHREAD_CHAN_SPIN_US=0, reported
#            as lthread-nopoll), xsched_pthread (mutex + condvar
#            queue), xsched_go (Go channels, GOMAXPROCS = the CPUs given),
#            xsched_fiber (Boost.Fiber buffered_channel, two threads). All
#            pinned with taskset to the CPUs of -x (default 0,1). For
#            comparison, each also runs the shapes with everything on one
#            thread (variants .1thread; Go: a second run, GOMAXPROCS=1).
#   handoff  two lthreads of one scheduler hand control back and forth with
#            a cond (the reference), a channel of capacity 0 and 1, a mutex
#            (handoff_lthread), on separate regions and with
#            LTHREAD_REGIONS=1 (shared), pinned to the CPU of -c.
#
# Every group runs its binaries REPS times interleaved (A B C A B C ...);
# the summary (bench/mc_summarize.awk) gives medians, ratios of the medians
# and, for xsched, the median of the ratios paired within a repetition.
# Peers that were not built (package missing: see `make -C bench`) are
# skipped with a message. Other sessions share the machine: before each run
# the script waits (at most QUIET_WAIT s, default 30) until all CPUs were
# under 15% busy for a second, and logs how busy they were. A run that
# takes more than RUN_TIMEOUT s (default 300) is killed and reported.
#
# Usage: bench/mc_run.sh [-n REPS] [-g GROUPS] [-d MS] [-r ROUNDS] [-c CPU]
#                        [-x CPUS] [-o FILE]
#   -n REPS    repetitions (default 5)
#   -g GROUPS  comma list of xsched,handoff (default both)
#   -d MS      xsched: timed milliseconds per variant (default 1000; a 10%
#              warm-up comes first)
#   -r ROUNDS  handoff: rounds per measurement (default 700000; each
#              variant is measured 3 times in the process: the median)
#   -c CPU     handoff: the CPU (default 1)
#   -x CPUS    xsched: the CPUs, a taskset list (default 0,1)
#   -o FILE    results (default bench/results/mc-<date>.txt)
set -u
cd "$(dirname "$0")" || exit 1

REPS=5 GROUPS_=xsched,handoff DUR=1000 ROUNDS=700000 CPU=1 XCPUS=0,1 OUT=""
while getopts "n:g:d:r:c:x:o:" o; do
    case $o in
    n) REPS=$OPTARG ;; g) GROUPS_=$OPTARG ;; d) DUR=$OPTARG ;;
    r) ROUNDS=$OPTARG ;; c) CPU=$OPTARG ;; x) XCPUS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,33p' "$0"; exit 2 ;;
    esac
done
mkdir -p results
[ -n "$OUT" ] || OUT=results/mc-$(date +%Y%m%d-%H%M%S).txt

make -s multicore-peers || { echo "mc_run.sh: peers failed to build" >&2; exit 1; }
LT=0
if [ -f ../build/liblthread.a ] && make -s multicore-lthread; then
    LT=1
else
    echo "mc_run.sh: the lthread benchmarks do not build: skipped" >&2
fi
NX=$(taskset -c "$XCPUS" nproc)

# jobs per group: "label|command"
jobs_xsched=() jobs_handoff=()
[ "$LT" = 1 ] && jobs_xsched+=("lthread|./build/xsched_lthread $DUR"
    "lthread-pinned|env XS_PIN=1 ./build/xsched_lthread $DUR"
    "lthread-nopoll|env LTHREAD_CHAN_SPIN_US=0 ./build/xsched_lthread $DUR")
jobs_xsched+=("pthread|./build/xsched_pthread $DUR")
jobs_xsched+=("go|env GOMAXPROCS=$NX ./build/xsched_go $DUR")
jobs_xsched+=("go-1thread|env GOMAXPROCS=1 ./build/xsched_go $DUR")
jobs_xsched+=("fiber|./build/xsched_fiber $DUR")
if [ "$LT" = 1 ]; then
    jobs_handoff+=("sep|./build/handoff_lthread $ROUNDS")
    jobs_handoff+=("shared|env LTHREAD_REGIONS=1 ./build/handoff_lthread $ROUNDS")
fi

{
    echo "# lthread multicore benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cpus; xsched on cpus $XCPUS ($NX), handoff on cpu $CPU"
    echo "# kernel: $(uname -r); $(gcc --version | head -1); $(go version 2>/dev/null || echo 'no go')"
    echo "# lthread tree: $(git -C .. log -1 --format='%h %s' 2>/dev/null | cut -c1-60)$(git -C .. status --porcelain -- ../src ../include 2>/dev/null | grep -q . && echo ' + uncommitted changes in src/')"
    echo "# reps $REPS, xsched $DUR ms per variant, handoff $ROUNDS rounds"
    echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT"
cat "$OUT"

busy_ticks() { # busy and total ticks of all CPUs
    awk '$1 == "cpu" { for (i = 2; i <= NF; i++) t += $i
        print $2 + $3 + $4 + $7 + $8 + $9, t }' /proc/stat
}
QUIET_WAIT=${QUIET_WAIT:-30}
RUN_TIMEOUT=${RUN_TIMEOUT:-300} # a run that hangs is killed after this
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

RAW=$(mktemp)
FRESH=$(mktemp -d)
trap 'rm -rf "$RAW" "$RAW.out" "$RAW.err" "$FRESH"' EXIT
# Each run is of a fresh copy of its binary: byte-identical copies of one
# binary can run steadily apart (BENCHMARKS.md, "Repetitions inside one
# process": where a file's pages lie counts); a copy per run makes that a
# draw per repetition, which the medians absorb.
fresh() { # fresh FILE: path of a new copy of FILE
    rm -rf "${FRESH:?}"/* && cp -p "$1" "$FRESH/${1##*/}" && echo "$FRESH/${1##*/}"
}
for g in ${GROUPS_//,/ }; do
    case $g in
    xsched) pin=$XCPUS ;; handoff) pin=$CPU ;;
    *) echo "mc_run.sh: unknown group $g" >&2; continue ;;
    esac
    declare -n jobs="jobs_$g"
    for ((r = 1; r <= REPS; r++)); do
        for j in "${jobs[@]}"; do
            label=${j%%|*} cmd=${j#*|} bin=""
            for w in $cmd; do case $w in ./build/*) bin=$w; break ;; esac; done
            if [ ! -x "$bin" ]; then
                [ "$r" = 1 ] && echo "mc_run.sh: $bin not built: skipped" | tee -a "$OUT" >&2
                continue
            fi
            wait_quiet "$g $label $r"
            echo "[$g $r/$REPS] $label: $cmd" >&2
            copy=$(fresh "$bin") || exit 1
            # shellcheck disable=SC2086
            if ! timeout "$RUN_TIMEOUT" taskset -c "$pin" ${cmd/"$bin"/"$copy"} >"$RAW.out" 2>"$RAW.err"; then
                echo "mc_run.sh: '$cmd' failed (or ran past ${RUN_TIMEOUT}s):" | tee -a "$OUT" >&2
                tail -5 "$RAW.err" >&2
            fi
            grep '^RESULT' "$RAW.out" | sed "s/^RESULT/RESULT $r/" >>"$RAW"
            sed 's/^/# /' "$RAW.err" >>"$OUT"
        done
    done
    unset -n jobs
done
{
    echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    cat "$RAW"
    echo
} >>"$OUT"
awk -f mc_summarize.awk "$RAW" | tee -a "$OUT"
case $OUT in /*) echo "results written to $OUT" >&2 ;; *) echo "results written to bench/$OUT" >&2 ;; esac
