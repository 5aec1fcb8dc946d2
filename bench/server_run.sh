#!/usr/bin/env bash
# bench/server_run.sh: the server benchmarks (BENCHMARKS.md, "## Servers").
#
# Three servers with the same keep-alive "hello" logic (one response per
# complete request): server_epoll (the raw epoll baseline), server_st
# (State Threads) and server_lthread (lthread, one scheduler).
#
#   cpu       for REPS rounds, each server in turn (A B C A B C ...): start
#             it pinned to CPU $SRV_CPU, run `wrk -t1 -c64 -d${DUR}s
#             --latency` pinned to CPU $CLI_CPU, read the server's
#             utime+stime (/proc/PID/stat) before and after. Reports CPU us
#             per request, requests/s and the p99 latency.
#   syscalls  for REPS rounds: the server runs under `perf stat` counting
#             raw_syscalls:sys_enter and the main syscalls one by one, wrk
#             as above for ${SYS_DUR}s; syscalls / requests wrk completed.
#   (cpu and syscalls runs first wait, at most 60 s, for both CPUs to be
#   under 15% busy: other work on this shared machine skews them.)
#   memory    for REPS rounds: server started and idle, VmRSS read; then
#             server_conns opens $CONNS connections, sends one request on
#             each, reads the responses and keeps them all open and idle;
#             (VmHWM - VmRSS before) / $CONNS = bytes per connection. For
#             lthread, gdb then reads how many bytes of stack each idle
#             connection's lthread has saved (its live stack at lthread_recv).
#
# Usage: bench/server_run.sh [-n REPS] [-d SECONDS] [-s SERVERS] [-g GROUPS]
#                            [-m CONNS] [-o FILE]
#   -n REPS     rounds (default 5)
#   -d SECONDS  wrk duration of a cpu run (default 5; syscalls: 3)
#   -s SERVERS  comma list of epoll,st,lthread (default all three; lthread
#               only if it builds, i.e. once the library links)
#   -g GROUPS   comma list of cpu,syscalls,memory (default all)
#   -m CONNS    connections of the memory run (default 10000)
#   -o FILE     results (default bench/results/servers-<date>.txt)
# Every measurement is a line "RESULT <metric> <server> <round> <value>";
# the summary (medians, ratios to epoll) follows them, in the file and on
# stdout. Only 127.0.0.1 is used. Needs wrk, perf, gdb, taskset, curl.
set -u
cd "$(dirname "$0")" || exit 1

REPS=5 DUR=5 SYS_DUR=3 SERVERS=epoll,st,lthread GROUPS_=cpu,syscalls,memory
CONNS=10000 OUT="" SRV_CPU=0 CLI_CPU=1
while getopts "n:d:s:g:m:o:" o; do
    case $o in
    n) REPS=$OPTARG ;; d) DUR=$OPTARG ;; s) SERVERS=$OPTARG ;;
    g) GROUPS_=$OPTARG ;; m) CONNS=$OPTARG ;; o) OUT=$OPTARG ;;
    *) sed -n '2,36p' "$0"; exit 2 ;;
    esac
done
mkdir -p results
[ -n "$OUT" ] || OUT=results/servers-$(date +%Y%m%d-%H%M%S).txt
tmp=$(mktemp -d /tmp/server_run.XXXXXX) || exit 1
srv_pid="" hold_open=0
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
    [ "$hold_open" = 1 ] && exec 6>&-
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

log() { echo "$*" | tee -a "$OUT"; }
has() { case ",$1," in *",$2,"*) return 0 ;; esac; return 1; }

# ---- build ---------------------------------------------------------------
make -s servers-peers || { echo "server_run.sh: peers failed to build" >&2; exit 1; }
list=()
for s in ${SERVERS//,/ }; do
    if [ "$s" = lthread ]; then
        if [ -f ../build/liblthread.a ] && make -s servers-lthread; then
            list+=(lthread)
        else
            echo "server_run.sh: server_lthread does not build: skipped" >&2
        fi
    elif [ -x "build/server_$s" ]; then
        list+=("$s")
    else # a peer whose package is missing (make -C bench names it)
        echo "server_run.sh: server_$s not built: skipped" >&2
    fi
done

# 10,000 connections need 10,000 fds in the server and in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 64)) ]; then
    echo "server_run.sh: RLIMIT_NOFILE $(ulimit -n) < $CONNS + 64" >&2
    exit 1
fi

HZ=$(getconf CLK_TCK)
port_of() {
    case $1 in epoll) echo 19081 ;; st) echo 19082 ;; lthread) echo 19083 ;; esac
}

{
    echo "# server benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) CPUs, $(uname -sr)"
    echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# servers pinned to CPU $SRV_CPU, clients to CPU $CLI_CPU; REPS=$REPS DUR=${DUR}s CONNS=$CONNS"
    echo "# $(wrk --version 2>&1 | head -1)"
    echo "# lthread tree: $(git -C .. log -1 --format='%h %s' 2>/dev/null | cut -c1-60)$(git -C .. status --porcelain -- ../src ../include 2>/dev/null | grep -q . && echo ' + uncommitted changes in src/')"
} | tee "$OUT"

# start_server NAME [PREFIX...]: starts build/server_NAME pinned, sets
# srv_pid (the server itself) and waits until it answers.
start_server() {
    local name=$1 port
    shift
    port=$(port_of "$name")
    "$@" taskset -c "$SRV_CPU" "./build/server_$name" "$port" \
        >"$tmp/server.log" 2>&1 &
    srv_pid=$!
    if [ $# -gt 0 ]; then # started under perf: the server is its child
        local i
        for i in $(seq 100); do
            perf_pid=$srv_pid
            srv_pid=$(pgrep -P "$perf_pid" | head -1)
            [ -n "$srv_pid" ] && break
            srv_pid=$perf_pid
            sleep 0.02
        done
    fi
    local i
    for i in $(seq 100); do
        curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.05
    done
    echo "server_run.sh: server_$name did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
}

stop_server() {
    kill -TERM "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_pid=""
}

# Other sessions share this machine: before each run, wait (at most
# QUIET_WAIT s) until both CPUs were under 15% busy for a second, and log
# how busy they were ("# busy before ...").
QUIET_WAIT=${QUIET_WAIT:-60}
busy_ticks() { # busy and total ticks of CPUs $SRV_CPU and $CLI_CPU
    awk -v a="cpu$SRV_CPU" -v b="cpu$CLI_CPU" '$1 == a || $1 == b {
        for (i = 2; i <= NF; i++) t += $i; busy += $2 + $3 + $4 + $7 + $8 + $9 }
        END { print busy, t }' /proc/stat
}
wait_quiet() {
    local end=$((SECONDS + QUIET_WAIT)) b0 t0 b1 t1 pct
    while :; do
        read -r b0 t0 < <(busy_ticks)
        sleep 1
        read -r b1 t1 < <(busy_ticks)
        pct=$(( (b1 - b0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1) ))
        [ "$pct" -lt 15 ] || [ "$SECONDS" -ge "$end" ] && break
    done
    echo "# busy before $1: ${pct}% of CPUs $SRV_CPU,$CLI_CPU" >>"$OUT"
}

# utime + stime of a process, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# run_wrk NAME SECONDS: wrk pinned, output in $tmp/wrk.out.
run_wrk() {
    taskset -c "$CLI_CPU" wrk -t1 -c64 -d"$2"s --latency \
        "http://127.0.0.1:$(port_of "$1")/" >"$tmp/wrk.out" 2>&1
    if grep -q 'Socket errors\|Non-2xx' "$tmp/wrk.out"; then
        echo "server_run.sh: $1: wrk reports errors:" >&2
        grep 'Socket errors\|Non-2xx' "$tmp/wrk.out" >&2
    fi
}
wrk_requests() { awk '/requests in/ { print $1 }' "$tmp/wrk.out"; }

cpu_run() {
    local name=$1 rep=$2 t0 t1 reqs rps p99
    wait_quiet "cpu $name $rep"
    start_server "$name"
    t0=$(cpu_ticks "$srv_pid")
    run_wrk "$name" "$DUR"
    t1=$(cpu_ticks "$srv_pid")
    stop_server
    reqs=$(wrk_requests)
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk.out")
    # p99 in us, whatever unit wrk chose.
    p99=$(awk '$1 == "99%" { v = $2 + 0; f = 1
        if ($2 ~ /ms$/) f = 1000; else if ($2 ~ /[0-9]s$/) f = 1000000
        else if ($2 ~ /m$/) f = 60000000
        printf "%.1f", v * f }' "$tmp/wrk.out")
    log "RESULT cpu_us_per_req $name $rep $(awk -v t="$((t1 - t0))" \
        -v hz="$HZ" -v r="$reqs" 'BEGIN { printf "%.3f", t * 1e6 / hz / r }')"
    log "RESULT req_per_s $name $rep $rps"
    log "RESULT p99_us $name $rep $p99"
    log "RESULT requests $name $rep $reqs"
}

SYSCALLS="recvfrom sendto read write readv writev epoll_wait epoll_pwait \
epoll_pwait2 epoll_ctl accept accept4 poll ppoll select pselect6 close fcntl \
ioctl futex mmap munmap brk madvise mprotect sched_yield"
sys_run() {
    local name=$1 rep=$2 ev="-e raw_syscalls:sys_enter" s reqs total
    for s in $SYSCALLS; do ev="$ev -e syscalls:sys_enter_$s"; done
    wait_quiet "syscalls $name $rep"
    # shellcheck disable=SC2086
    start_server "$name" perf stat -x, $ev -o "$tmp/perf.out" --
    run_wrk "$name" "$SYS_DUR"
    kill -TERM "$srv_pid" 2>/dev/null
    wait "$perf_pid" 2>/dev/null
    srv_pid=""
    reqs=$(wrk_requests)
    total=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$tmp/perf.out")
    log "RESULT syscalls_per_req $name $rep $(awk -v t="$total" -v r="$reqs" \
        'BEGIN { printf "%.3f", t / r }')"
    # The breakdown, per request (startup and connection setup included).
    log "# syscalls $name round $rep: $reqs requests, $total syscalls: $(awk -F, \
        -v r="$reqs" '$1 ~ /^[0-9]+$/ && $1 > 0 && $3 != "raw_syscalls:sys_enter" {
        sub(/syscalls:sys_enter_/, "", $3); printf "%s %.3f  ", $3, $1 / r }' \
        "$tmp/perf.out")"
}

# kB of a /proc/PID/status field.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

mem_run() {
    local name=$1 rep=$2 rss0 hwm rss1 cpid
    start_server "$name"
    sleep 0.2
    rss0=$(status_kb "$srv_pid" VmRSS)
    rm -f "$tmp/hold"
    mkfifo "$tmp/hold"
    taskset -c "$CLI_CPU" ./build/server_conns "$(port_of "$name")" "$CONNS" \
        <"$tmp/hold" >"$tmp/conns.out" 2>&1 &
    cpid=$!
    exec 6>"$tmp/hold" # the client's stdin: it holds on until this closes
    hold_open=1
    for _ in $(seq 1200); do
        grep -q ready "$tmp/conns.out" && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -q "ready $CONNS" "$tmp/conns.out"; then
        echo "server_run.sh: $name: the client failed:" >&2
        cat "$tmp/conns.out" >&2
    else
        sleep 0.2
        hwm=$(status_kb "$srv_pid" VmHWM)
        rss1=$(status_kb "$srv_pid" VmRSS)
        log "RESULT bytes_per_conn $name $rep $(((hwm - rss0) * 1024 / CONNS))"
        log "# memory $name round $rep: VmRSS before ${rss0} kB, VmHWM ${hwm} kB, VmRSS ${rss1} kB with $CONNS idle connections"
        if [ "$name" = lthread ] && [ "$rep" = 1 ]; then
            lthread_stacks
        fi
    fi
    exec 6>&-
    hold_open=0
    wait "$cpid"
    stop_server
}

# Reads, with gdb, the saved stack images of server_lthread's lthreads.
lthread_stacks() {
    cat >"$tmp/stacks.py" <<'EOF'
# Walks the lthreads parked on each fd (sched->fds[fd].readers): the idle
# connections. Follows the library's internal layout (src/lthread_int.h):
# struct lthread's sp, region->top, image_cap, next; sched->fds, nfds.
import gdb
gdb.execute('ptype struct lthread', to_string=True)  # loads the type
lt_t = gdb.lookup_type('struct lthread')
s = gdb.parse_and_eval('server_last_conn').cast(lt_t.pointer())['sched']
lens, caps = [], 0
for fd in range(int(s['nfds'])):
    p = s['fds'][fd]['readers']['head']
    while int(p) != 0:
        # Live stack: [sp, region top), saved in the image or in place.
        lens.append(int(p['region']['top']) - int(p['sp']))
        caps += int(p['image_cap'])
        p = p['next']
lens.sort()
med = lens[len(lens) // 2] if lens else 0
print("# lthread stacks: %d lthreads parked on fds; live stack (region "
      "top - sp) median %d B (min %d, max %d); image_cap total %d B; "
      "sizeof(struct lthread) %d B; fds table %d x %d B" % (
          len(lens), med, lens[0] if lens else 0, lens[-1] if lens else 0,
          caps, lt_t.sizeof, int(s['nfds']), s['fds'][0].type.sizeof))
print("RESULT live_stack_bytes lthread 1 %d" % med)
EOF
    gdb -q -batch -p "$srv_pid" -ex "source $tmp/stacks.py" >"$tmp/gdb.out" 2>&1
    grep '^# lthread stacks\|^RESULT' "$tmp/gdb.out" | tee -a "$OUT" ||
        { echo "server_run.sh: gdb could not read the lthreads:" >&2
          grep -i error "$tmp/gdb.out" >&2; }
}

for r in $(seq "$REPS"); do
    for s in "${list[@]}"; do
        has "$GROUPS_" cpu && cpu_run "$s" "$r"
    done
done
for r in $(seq "$REPS"); do
    for s in "${list[@]}"; do
        has "$GROUPS_" syscalls && sys_run "$s" "$r"
    done
done
for r in $(seq "$REPS"); do
    for s in "${list[@]}"; do
        has "$GROUPS_" memory && mem_run "$s" "$r"
    done
done
echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"

# ---- summary: medians, ratios to epoll -----------------------------------
awk '
$1 == "RESULT" { k = $2 SUBSEP $3; n[k]++; v[k, n[k]] = $5; m[$2]; s[$3] }
function median(k,   i, j, t, c, a) {
    c = n[k]; for (i = 1; i <= c; i++) a[i] = v[k, i]
    for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--)
        { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
END {
    print ""
    print "| server | CPU us/req | x epoll | (min-max) | req/s | p99 us | syscalls/req | x epoll | bytes/conn |"
    print "|---|---|---|---|---|---|---|---|---|"
    fmt["cpu_us_per_req"] = "%.2f"; fmt["req_per_s"] = "%.0f"; fmt["p99_us"] = "%.0f"
    fmt["syscalls_per_req"] = "%.2f"; fmt["bytes_per_conn"] = "%.0f"
    split("epoll st lthread", order, " ")
    for (o = 1; o <= 3; o++) {
        x = order[o]; if (!(x in s)) continue
        line = "| " x
        split("cpu_us_per_req req_per_s p99_us syscalls_per_req bytes_per_conn", ms, " ")
        for (i = 1; i <= 5; i++) {
            k = ms[i] SUBSEP x; e = ms[i] SUBSEP "epoll"
            val = (k in n) ? median(k) : "-"
            line = line " | " ((k in n) ? sprintf(fmt[ms[i]], val) : "-")
            if (ms[i] == "cpu_us_per_req" || ms[i] == "syscalls_per_req")
                line = line " | " (((k in n) && (e in n) && median(e) > 0) ? sprintf("%.2f", val / median(e)) : "-")
            if (ms[i] == "cpu_us_per_req" && (k in n)) {
                lo = hi = v[k, 1]
                for (j = 2; j <= n[k]; j++) { if (v[k, j] + 0 < lo + 0) lo = v[k, j]; if (v[k, j] + 0 > hi + 0) hi = v[k, j] }
                line = line sprintf(" | %.2f-%.2f", lo, hi)
            } else if (ms[i] == "cpu_us_per_req") line = line " | -"
        }
        print line " |"
    }
    if (("live_stack_bytes" SUBSEP "lthread") in n)
        printf "\nlthread live stack at lthread_recv (saved image, median): %d B\n", median("live_stack_bytes" SUBSEP "lthread")
}' "$OUT" | tee -a "$OUT"
echo "results: $OUT"
