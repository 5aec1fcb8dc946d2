#!/usr/bin/env bash
# bench/run.sh: build and run the lthread benchmarks and their peers.
#
# Each benchmark group runs its binaries REPS times interleaved
# (A B C A B C ...), every run pinned with `taskset -c $CPU`. Every
# "RESULT name variant value unit" line is kept, tagged with its repetition;
# the summary gives the median per (name, variant) and the ratios of lthread
# to State Threads and to Boost.Context fcontext (bench/summarize.awk).
#
# Usage: bench/run.sh [-n REPS] [-c CPU] [-o FILE] [-g GROUPS] [-q] [-p]
#   -n REPS    repetitions (default 5)
#   -c CPU     CPU to pin to (default 1)
#   -o FILE    results file (default bench/results/run-<date>.txt)
#   -g GROUPS  comma list of switch,create,memory (default all three)
#   -q         quick: 1/10 of the counts, no 10M memory run (a smoke test)
#   -p         peers only (ST and fcontext), even if liblthread.a exists
# The lthread binaries are skipped (their figures reported "pending") when
# ../build/liblthread.a does not exist or they fail to build.
# The "shared" switch rows run switch_lthread with LTHREAD_REGIONS=1, the
# library's knob capping the shared stack regions per scheduler.
set -u
cd "$(dirname "$0")" || exit 1

REPS=5 CPU=1 OUT="" GROUPS_=switch,create,memory QUICK=0 PEERS_ONLY=0
while getopts "n:c:o:g:qp" o; do
    case $o in
    n) REPS=$OPTARG ;; c) CPU=$OPTARG ;; o) OUT=$OPTARG ;;
    g) GROUPS_=$OPTARG ;; q) QUICK=1 ;; p) PEERS_ONLY=1 ;;
    *) sed -n '2,22p' "$0"; exit 2 ;;
    esac
done
mkdir -p results
[ -n "$OUT" ] || OUT=results/run-$(date +%Y%m%d-%H%M%S).txt

make -s peers || { echo "run.sh: peers failed to build" >&2; exit 1; }
LT=0
if [ "$PEERS_ONLY" = 0 ] && [ -f ../build/liblthread.a ]; then
    if make -s lthread; then LT=1; else echo "run.sh: lthread benchmarks failed to build: pending" >&2; fi
else
    echo "run.sh: lthread benchmarks skipped: pending" >&2
fi

if [ "$QUICK" = 1 ]; then
    SW=70000 CR=100000 M1=100000 M10=
else
    SW=700000 CR=1000000 M1=1000000 M10=10000000
fi

# jobs per group: "label|command"; lthread ones only when LT=1
jobs_switch=("st|./build/switch_st $SW" "fcontext|./build/switch_fcontext $((SW * 10))")
jobs_create=("st|./build/create_st $CR" "fcontext|./build/create_fcontext $CR")
jobs_memory=("st-cond|./build/memory_st $M1 cond" "st-sleep|./build/memory_st $M1 sleep")
if [ "$LT" = 1 ]; then
    jobs_switch=("lthread-sep|./build/switch_lthread $SW"
        "lthread-shared|env LTHREAD_REGIONS=1 ./build/switch_lthread $SW" "${jobs_switch[@]}")
    jobs_create=("lthread|./build/create_lthread $CR" "${jobs_create[@]}")
    jobs_memory=("lthread-cond|./build/memory_lthread $M1 cond"
        "lthread-sleep|./build/memory_lthread $M1 sleep" "${jobs_memory[@]}")
    [ -n "$M10" ] && jobs_memory+=("lthread-cond-10M|./build/memory_lthread $M10 cond"
        "lthread-sleep-10M|./build/memory_lthread $M10 sleep")
fi

{
    echo "# lthread benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cpus, pinned to cpu $CPU"
    echo "# kernel: $(uname -r); $(gcc --version | head -1)"
    echo "# reps $REPS, quick $QUICK, lthread $( [ "$LT" = 1 ] && echo built || echo pending)"
} >"$OUT"
cat "$OUT"

RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
for g in ${GROUPS_//,/ }; do
    declare -n jobs="jobs_$g"
    for ((r = 1; r <= REPS; r++)); do
        for j in "${jobs[@]}"; do
            label=${j%%|*} cmd=${j#*|} bin=""
            for w in $cmd; do case $w in ./build/*) bin=$w; break ;; esac; done
            if [ ! -x "$bin" ]; then # a peer whose package is missing
                [ "$r" = 1 ] && echo "run.sh: $bin not built: skipped" >&2
                continue
            fi
            echo "[$g $r/$REPS] $label: $cmd" >&2
            # shellcheck disable=SC2086
            if ! taskset -c "$CPU" $cmd >"$RAW.out" 2>"$RAW.err"; then
                echo "run.sh: '$cmd' failed:" >&2
                tail -5 "$RAW.err" >&2
            fi
            grep '^RESULT' "$RAW.out" | sed "s/^RESULT/RESULT $r/" >>"$RAW"
            grep -v '^switch_\|^memory_' "$RAW.err" >&2 || true
            grep '^memory_' "$RAW.err" | sed 's/^/# /' >>"$OUT"
        done
    done
    unset -n jobs
done
rm -f "$RAW.out" "$RAW.err"

cat "$RAW" >>"$OUT"
echo >>"$OUT"
awk -v lt="$LT" -v quick="$QUICK" -f summarize.awk "$RAW" | tee -a "$OUT"
echo "results written to bench/$OUT" >&2
