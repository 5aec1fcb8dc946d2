#!/usr/bin/env bash
# Runs the example servers on loopback and checks them from outside:
# hello_server (curl, keep-alive, pipelining, several schedulers, stopping),
# echo_server with echo_client, udp_server with udp_client, and the seed's
# web server (its answer, and accepting while fibonacci runs).
#
#   make examples && bash tests/test_examples.sh
#
# Environment:
#   EXAMPLES_DIR       where the example binaries are (default build/examples)
#   TEST_PORT          first TCP/UDP port to use (default: 20000 + pid % 20000)
#   LTHREAD_TEST_SLOW  factor for the time limits (default 1)
#
# Only 127.0.0.1 is ever contacted. The seed's web server needs port 3128.
# Prints PASS/FAIL per check, then "N passed, N failed"; exits 1 on failure.

dir=${EXAMPLES_DIR:-build/examples}
slow=${LTHREAD_TEST_SLOW:-1}
port=${TEST_PORT:-$((20000 + $$ % 20000))}
passed=0
failed=0
pids=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lthread-examples.XXXXXX") || exit 1

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1${2:+: $2}"
    failed=$((failed + 1))
}
# check NAME COMMAND...: PASS if the command succeeds.
check() {
    local name=$1
    shift
    if "$@"; then
        pass "$name"
    else
        fail "$name"
        return 1
    fi
}

# Never go through a proxy: everything here is local.
curl_() { curl --noproxy '*' -s -m "$((30 * slow))" "$@"; }
now() { date +%s.%N; }
# elapsed T0: seconds since T0, as a decimal.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# le A B: true if A <= B (decimals).
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# wait_for SECONDS COMMAND...: retries the command every 50 ms.
wait_for() {
    local end=$(($(date +%s) + $1 * slow))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -gt "$end" ] && return 1
        sleep 0.05
    done
}

# start NAME ARGS...: runs an example in the background, stdout and stderr
# line-buffered into $tmp/NAME.log; sets $pid.
start() {
    local name=$1
    shift
    stdbuf -oL -eL "$dir/$name" "$@" >"$tmp/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}

# stop PID: SIGTERM, then at most 3 s (x slow) to exit; returns its status.
stop() {
    local end=$(($(date +%s) + 3 * slow))
    kill -TERM "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null; do
        if [ "$(date +%s)" -gt "$end" ]; then
            kill -KILL "$1" 2>/dev/null
            wait "$1" 2>/dev/null
            return 124
        fi
        sleep 0.05
    done
    wait "$1"
}

for bin in hello_server echo_server echo_client udp_server udp_client \
    seed_webserver; do
    if [ ! -x "$dir/$bin" ]; then
        fail "$bin" "$dir/$bin not built (make examples)"
    fi
done

# ---- hello_server: 2 schedulers, SO_REUSEPORT --------------------------------

if [ -x "$dir/hello_server" ]; then
    hp=$port
    url=http://127.0.0.1:$hp/
    start hello_server "$hp" 2 120
    hello=$pid
    if wait_for 5 curl_ -o /dev/null "$url"; then
        check "hello: curl prints the body" \
            test "$(curl_ "$url")" = "Hello World"

        # Two URLs on one connection: curl connects once (num_connects
        # is 1 for the first transfer and 0 for the reused connection).
        out=$(curl_ -w ' connects=%{num_connects}\n' "$url" "${url}again")
        check "hello: keep-alive, two requests on one connection" \
            test "$out" = "Hello World
 connects=1
Hello World
 connects=0"

        # Two requests in one packet: two responses.
        pipelined() {
            exec 3<>"/dev/tcp/127.0.0.1/$hp" || return 1
            printf 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n' >&3
            timeout 1 cat <&3 >"$tmp/pipelined.out"
            exec 3<&-
            [ "$(grep -c 'Hello World' "$tmp/pipelined.out")" -eq 2 ]
        }
        check "hello: two pipelined requests, two responses" pipelined

        # 32 clients at once, spread over both schedulers.
        cpids=()
        for i in $(seq 32); do
            curl_ "$url" >"$tmp/par.$i" &
            cpids+=($!)
        done
        wait "${cpids[@]}"
        all_hello() {
            local i
            for i in $(seq 32); do
                [ "$(cat "$tmp/par.$i")" = "Hello World" ] || return 1
            done
        }
        check "hello: 32 concurrent clients" all_hello
    else
        fail "hello: server did not answer" "$(cat "$tmp/hello_server.log")"
    fi
    stop "$hello"
    rc=$?
    check "hello: SIGTERM stops it cleanly" \
        test "$rc" -eq 0 -a "$(tail -n 1 "$tmp/hello_server.log")" = \
        "hello_server: stopped"

    # The `seconds` argument: it stops by itself, open connection or not.
    # (2 s: on a loaded machine the first curl alone may take a second.)
    start hello_server "$((hp + 1))" 1 2
    t0=$(now)
    wait_for 5 curl_ -o /dev/null "http://127.0.0.1:$((hp + 1))/"
    # An idle keep-alive client, if the server is still there to take it.
    { exec 4<>"/dev/tcp/127.0.0.1/$((hp + 1))"; } 2>/dev/null || true
    wait "$pid"
    rc=$?
    exec 4<&- 2>/dev/null
    check "hello: stops by itself after its time limit" \
        test "$rc" -eq 0 -a "$(elapsed "$t0" | cut -d. -f1)" -lt $((6 * slow))
fi

# ---- echo_server and echo_client ----------------------------------------------

if [ -x "$dir/echo_server" ] && [ -x "$dir/echo_client" ]; then
    ep=$((port + 2))
    start echo_server "$ep" 120
    echo_pid=$pid
    if wait_for 5 grep -q listening "$tmp/echo_server.log"; then
        out=$("$dir/echo_client" "$ep" 8 50 2>&1)
        rc=$?
        case $out in
        *"8 connections, 400 messages echoed, 0 failed"*) ok=$rc ;;
        *) ok=1 ;;
        esac
        check "echo: 8 connections x 50 messages echoed" test "$ok" -eq 0 ||
            echo "$out"
    else
        fail "echo: server did not start" "$(cat "$tmp/echo_server.log")"
    fi
    stop "$echo_pid"
    check "echo: server stops on SIGTERM" test $? -eq 0
fi

# ---- udp_server and udp_client ------------------------------------------------

if [ -x "$dir/udp_server" ] && [ -x "$dir/udp_client" ]; then
    up=$((port + 3))
    start udp_server "$up" 120
    udp_pid=$pid
    if wait_for 5 grep -q listening "$tmp/udp_server.log"; then
        out=$("$dir/udp_client" "$up" 5 2>&1)
        rc=$?
        case $out in
        *"reply: echo: ping 0"*"reply: echo: ping 4"*) ok=$rc ;;
        *) ok=1 ;;
        esac
        check "udp: 5 datagrams answered and printed" test "$ok" -eq 0 ||
            echo "$out"
    else
        fail "udp: server did not start" "$(cat "$tmp/udp_server.log")"
    fi
    stop "$udp_pid"
    check "udp: server stops on SIGTERM" test $? -eq 0
fi

# ---- the seed's web server (port 3128, fibonacci(35) per request) -----------

if [ -x "$dir/seed_webserver" ]; then
    wurl=http://127.0.0.1:3128/
    if curl_ -o /dev/null "$wurl"; then
        fail "seed web server" "port 3128 is already in use"
    else
        # It never stops by itself: timeout is its stop switch.
        start_t=$(now)
        stdbuf -oL timeout "$((120 * slow))" "$dir/seed_webserver" \
            >"$tmp/web.log" 2>&1 &
        web=$!
        pids+=("$web")
        if wait_for 5 grep -q 'Starting listener on 3128' "$tmp/web.log"; then
            t0=$(now)
            check "seed web server answers Hello World" \
                test "$(curl_ "$wurl")" = "Hello World"
            echo "     (one request, fibonacci(35) included: $(elapsed "$t0") s)"

            # 8 clients at once: all are accepted while fibonacci runs in
            # compute sections, not one after another.
            n0=$(grep -c 'Accepted connection on IP' "$tmp/web.log")
            t0=$(now)
            cpids=()
            for i in $(seq 8); do
                curl_ -m $((120 * slow)) "$wurl" >"$tmp/web.$i" &
                cpids+=($!)
            done
            accepted_all() {
                [ "$(grep -c 'Accepted connection on IP' "$tmp/web.log")" \
                    -ge $((n0 + 8)) ]
            }
            wait_for 10 accepted_all
            t_acc=$(elapsed "$t0")
            check "seed web server: 8 connections accepted within 1 s" \
                le "$t_acc" "$slow" ||
                echo "     (took $t_acc s)"
            wait "${cpids[@]}"
            all_ok() {
                local i
                for i in $(seq 8); do
                    [ "$(cat "$tmp/web.$i")" = "Hello World" ] || return 1
                done
            }
            check "seed web server: all 8 answered Hello World" all_ok
            echo "     (8 concurrent requests: $(elapsed "$t0") s)"
        else
            fail "seed web server did not start" "$(cat "$tmp/web.log")"
        fi
        kill "$web" 2>/dev/null
        wait "$web" 2>/dev/null
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
