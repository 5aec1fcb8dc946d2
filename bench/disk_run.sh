#!/usr/bin/env bash
# bench/disk_run.sh: random 4 KiB reads at queue depth 1, 16 and 64 from one
# event loop, through the page cache and with O_DIRECT (where the file's
# filesystem takes it), for:
#
#   uring        lthread_io_pread() on io_uring (bench/disk_lthread io)
#   uring-stack  the same into a buffer on the lthread's shared stack
#                (copied through the heap)
#   pool         lthread_io_pread() on the I/O pool (LTHREAD_DISK=pool)
#   pool64       the same with 64 I/O pthreads (LTHREAD_DISK_THREADS=64;
#                not in the default list)
#   compute      blocking pread(2) in lthread_compute_begin()/_end()
#   libuv        uv_fs_read() on libuv's thread pool (bench/disk_libuv)
#   fio          fio --ioengine=io_uring, the same job
#
# Each prints IOPS, CPU time of the whole process per read (every thread,
# the kernel's io_uring workers included), and how late a 1 ms timer on the
# same loop fires (median, 99th percentile; not for fio). Runs are
# interleaved (A B C ... A B C ...), REPS of each, and the summary gives
# medians and the ratios the issue asks about.
#
# Usage: bench/disk_run.sh [-n REPS] [-t SECONDS] [-d DIR] [-o FILE]
#                          [-q DEPTHS] [-v VARIANTS]
#   -n REPS      repetitions (default 3)
#   -t SECONDS   measured seconds per run, after 0.5 s of warm-up (default 3)
#   -d DIR       where the 1 GiB test file is made (default $TMPDIR or /tmp);
#                it is deleted at the end
#   -o FILE      results file (default bench/results/disk-<date>.txt)
#   -q DEPTHS    comma list (default 1,16,64)
#   -v VARIANTS  comma list (default: all of the above)
set -u
cd "$(dirname "$0")" || exit 1

REPS=3 SECS=3 DIR=${TMPDIR:-/tmp} OUT="" DEPTHS=1,16,64
VARIANTS=uring,uring-stack,pool,compute,libuv,fio
while getopts "n:t:d:o:q:v:" o; do
    case $o in
    n) REPS=$OPTARG ;; t) SECS=$OPTARG ;; d) DIR=$OPTARG ;; o) OUT=$OPTARG ;;
    q) DEPTHS=$OPTARG ;; v) VARIANTS=$OPTARG ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
    esac
done
mkdir -p results
[ -n "$OUT" ] || OUT=results/disk-$(date +%Y%m%d-%H%M%S).txt

[ -f ../build/liblthread.a ] || { echo "disk_run.sh: build the library first (make)" >&2; exit 1; }
make -s disk || { echo "disk_run.sh: make -C bench disk failed" >&2; exit 1; }
command -v fio >/dev/null || VARIANTS=${VARIANTS//fio/}

FILE=$(mktemp "$DIR/lthread-disk-bench.XXXXXX") || exit 1
RAW=$(mktemp)
trap 'rm -f "$FILE" "$RAW" "$RAW".*' EXIT
head -c $((1 << 30)) /dev/urandom >"$FILE" || exit 1
modes=cached
if dd if="$FILE" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
    modes="cached direct"
fi

{
    echo "# lthread disk benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cpus, not pinned"
    echo "# kernel: $(uname -r); $(gcc --version | head -1); $(fio --version 2>/dev/null); libuv $(pkg-config --modversion libuv 2>/dev/null || echo '?')"
    echo "# lthread: $(git -C .. describe --always --dirty 2>/dev/null); pool threads: ${LTHREAD_DISK_THREADS:-default}; UV_THREADPOOL_SIZE: ${UV_THREADPOOL_SIZE:-4 (default)}"
    echo "# file: 1 GiB on $(df -T "$DIR" | awk 'NR == 2 { print $2 " (" $1 ")" }'); modes: $modes (direct = O_DIRECT)"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# reps $REPS, $SECS s each after 0.5 s of warm-up"
} >"$OUT"
cat "$OUT"

# run VARIANT DEPTH MODE: prints its RESULT lines.
run() {
    local v=$1 d=$2 m=$3 dflag=
    [ "$m" = direct ] && dflag=direct
    case $v in
    uring) ./build/disk_lthread io "$FILE" "$d" "$SECS" $dflag ;;
    uring-stack) ./build/disk_lthread stack "$FILE" "$d" "$SECS" $dflag ;;
    pool64) LTHREAD_DISK=pool LTHREAD_DISK_THREADS=64 \
        ./build/disk_lthread io "$FILE" "$d" "$SECS" $dflag |
        sed 's/ pool\./ pool64./' ;;
    pool) LTHREAD_DISK=pool ./build/disk_lthread io "$FILE" "$d" "$SECS" $dflag ;;
    compute) ./build/disk_lthread compute "$FILE" "$d" "$SECS" $dflag ;;
    libuv) ./build/disk_libuv "$FILE" "$d" "$SECS" $dflag ;;
    fio)
        fio --name=r --filename="$FILE" --ioengine=io_uring --rw=randread \
            --bs=4k --iodepth="$d" --direct="$([ "$m" = direct ] && echo 1 || echo 0)" \
            --time_based --runtime="$SECS" --ramp_time=0.5 --invalidate=0 \
            --norandommap --randrepeat=0 --output-format=json 2>/dev/null |
            python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
r, secs = j["read"], j["job_runtime"] / 1000.0
v = "fio.%s.qd%s" % (sys.argv[1], sys.argv[2])
print("RESULT disk_iops %s %.2f iops" % (v, r["iops"]))
print("RESULT disk_cpu %s %.2f us/io" % (v, (j["usr_cpu"] + j["sys_cpu"]) / 100 * secs * 1e6 / r["total_ios"]))
' "$m" "$d"
        ;;
    esac
}

for m in $modes; do
    [ "$m" = cached ] && cat "$FILE" >/dev/null # into the page cache
    for ((r = 1; r <= REPS; r++)); do
        for d in ${DEPTHS//,/ }; do
            for v in ${VARIANTS//,/ }; do
                echo "[$m rep $r/$REPS] $v qd$d" >&2
                run "$v" "$d" "$m" | grep '^RESULT' | sed "s/\$/ rep=$r/" >>"$RAW"
            done
        done
    done
done

{
    echo
    echo "## raw"
    cat "$RAW"
    echo
    echo "## medians"
    awk '
    { key = $2 " " $3; vals[key] = vals[key] " " $4; unit[key] = $5 }
    END {
        for (k in vals) {
            n = split(vals[k], a, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            med = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            split(k, kk, " ")
            printf "%-16s %-28s %12.2f %s\n", kk[1], kk[2], med, unit[k]
        }
    }' "$RAW" | sort
    echo
    echo "## ratios (medians)"
    awk '
    { key = $2 " " $3; vals[key] = vals[key] " " $4 }
    END {
        for (k in vals) {
            n = split(vals[k], a, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            med[k] = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        split("cached direct", modes, " ")
        split("1 16 64", qds, " ")
        for (mi = 1; mi <= 2; mi++) for (qi = 1; qi <= 3; qi++) {
            s = modes[mi] ".qd" qds[qi]
            if (!(("disk_iops uring." s) in med)) continue
            line = sprintf("%-12s", s)
            if (("disk_iops pool." s) in med)
                line = line sprintf("  uring/pool IOPS %.2fx",
                    med["disk_iops uring." s] / med["disk_iops pool." s])
            if (("disk_iops libuv." s) in med)
                line = line sprintf("  uring/libuv IOPS %.2fx",
                    med["disk_iops uring." s] / med["disk_iops libuv." s])
            if (("disk_cpu fio." s) in med)
                line = line sprintf("  uring/fio CPU per I/O %.2fx",
                    med["disk_cpu uring." s] / med["disk_cpu fio." s])
            print line
        }
    }' "$RAW"
} >>"$OUT"
sed -n '/^## medians/,$p' "$OUT"
echo "results in bench/$OUT"
