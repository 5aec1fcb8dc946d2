#!/usr/bin/env bash
# The TLS examples (examples/https_server.c, https_client.c) from outside:
# a certificate authority and a server certificate made here with the
# openssl CLI; curl --cacert (the body, keep-alive: two requests on one
# connection, a client that does not know the CA refused); openssl
# s_client (TLS 1.3 and 1.2 handshakes, verify return code 0, a request
# through it); https_client with 1,000 concurrent TLS connections, every
# reply checked; all of it again with the handshakes in compute sections
# (https_server -c); SIGTERM stops the server promptly with an idle TLS
# client, and in -c mode in the middle of a flood of handshakes.
#
#   make examples && bash tests/test_tls.sh
#
# Environment:
#   EXAMPLES_DIR       where the example binaries are (default build/examples)
#   LTHREAD_TEST_SLOW  factor for the time limits (default 1)
#
# Exits 77 (skipped), saying why, when the examples were not built (no
# OpenSSL headers: Debian libssl-dev) or openssl or curl is missing. Only
# 127.0.0.1 is contacted; the server takes port 0 and says which port it
# got. Every client and every wait has a time limit, and the whole script
# runs under timeout(1), 180 s x slow. Prints PASS/FAIL per check, then
# "test_tls.sh: N passed, N failed"; exits 1 on failure.

slow=${LTHREAD_TEST_SLOW:-1}

if [ -z "${TEST_TLS_LIMITED:-}" ] && command -v timeout >/dev/null; then
    limit=$((180 * slow))
    TEST_TLS_LIMITED=1 timeout -k 10 "$limit" bash "${BASH_SOURCE[0]}" "$@"
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "FAIL test_tls.sh: still running after $limit s: stopped"
    fi
    exit "$rc"
fi

dir=${EXAMPLES_DIR:-build/examples}
skip() {
    echo "SKIP test_tls.sh: $1"
    exit 77
}
[ -x "$dir/https_server" ] && [ -x "$dir/https_client" ] ||
    skip "$dir/https_server and https_client not built (no OpenSSL headers: apt-get install libssl-dev, then ./configure)"
command -v openssl >/dev/null || skip "no openssl command (apt-get install openssl)"
command -v curl >/dev/null || skip "no curl (apt-get install curl)"

passed=0
failed=0
pids=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lthread-tls.XXXXXX") || exit 1

cleanup() {
    local p
    exec 6>&-
    for p in "${pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL test_tls.sh: interrupted"; exit 1' INT TERM

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1${2:+: $2}"
    failed=$((failed + 1))
}
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

curl_() { curl --noproxy '*' -s -m "$((30 * slow))" "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

wait_for() {
    local end=$(($(date +%s) + $1 * slow))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -gt "$end" ] && return 1
        sleep 0.05
    done
}

# start LOG ARGS...: https_server ARGS in the background, its output
# line-buffered into $tmp/LOG.log; sets $pid, $log, and $port once it
# listens (false if it does not within 10 s x slow).
start() {
    log=$tmp/$1.log
    stdbuf -oL -eL "$dir/https_server" "${@:2}" >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_for 10 grep -q 'listening on 127\.0\.0\.1:[0-9]' "$log" || return 1
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
}

# wait_exit PID SECONDS: its status, or 124 after SECONDS x slow (SIGKILL).
wait_exit() {
    local end=$(($(date +%s) + $2 * slow))
    while kill -0 "$1" 2>/dev/null; do
        if [ "$(date +%s)" -gt "$end" ]; then
            kill -KILL "$1" 2>/dev/null
            wait "$1" 2>/dev/null
            return 124
        fi
        sleep 0.02
    done
    wait "$1"
}

# stop_ok LABEL PID LOG: SIGTERM; passes if it exits 0 within 5 s x slow,
# its last line "https_server: stopped".
stop_ok() {
    local t0 rc why=
    t0=$(now)
    kill -TERM "$2" 2>/dev/null
    wait_exit "$2" 5
    rc=$?
    if [ "$rc" -eq 124 ]; then
        why="still running 5 s (x $slow) after SIGTERM: killed"
    elif [ "$rc" -ne 0 ]; then
        why="exit status $rc"
    elif [ "$(tail -n 1 "$3")" != "https_server: stopped" ]; then
        why="last line \"$(tail -n 1 "$3")\""
    fi
    if [ -z "$why" ]; then
        pass "$1 (stopped $(elapsed "$t0") s after SIGTERM)"
    else
        fail "$1" "$why"
    fi
}

# ---- Certificates: a CA (EC P-256) and a server certificate (RSA 2048,
# 127.0.0.1 and localhost) signed by it; a second CA that signed nothing.

certs() {
    local d=$tmp/pki
    mkdir -p "$d" && cd "$d" || return 1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 2 -subj '/CN=lthread test CA' -keyout ca.key \
        -out ca.pem &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -days 2 -subj '/CN=another CA' -keyout other.key \
            -out other.pem &&
        openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' \
            -keyout server.key -out server.csr &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -days 2 -extfile server.ext -out server.pem &&
        openssl verify -CAfile ca.pem server.pem
}
if ! (certs) >"$tmp/certs.log" 2>&1; then
    fail "certificates made with the openssl CLI" "$(tail -n 5 "$tmp/certs.log")"
    echo "test_tls.sh: $passed passed, $failed failed"
    exit 1
fi
pass "certificates: a CA and a server certificate for 127.0.0.1 signed by it"
ca=$tmp/pki/ca.pem
cert=$tmp/pki/server.pem
key=$tmp/pki/server.key

# s_client VERSION REQUEST: openssl s_client (-tls1_3 or -tls1_2) against
# the server, verifying against the CA, sending REQUEST, then EOF after
# 1 s; its output into $tmp/s_client.out.
s_client() {
    { printf '%b' "$2"; sleep 1; } |
        timeout "$((20 * slow))" openssl s_client "$1" \
            -connect "127.0.0.1:$port" -CAfile "$ca" -verify_return_error \
            -verify_ip 127.0.0.1 -servername localhost \
            >"$tmp/s_client.out" 2>&1
}
s_client_ok() {
    s_client "$1" 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' &&
        grep -q '^ *Verify return code: 0 (ok)' "$tmp/s_client.out" &&
        grep -q "^ *Protocol *: *$2\|^New, $2" "$tmp/s_client.out" &&
        grep -qx 'Hello World' "$tmp/s_client.out"
}

# https_client N M: N connections x M requests; passes when it exits 0 and
# says so.
client_ok() {
    local out
    out=$(timeout -k 5 "$((120 * slow))" "$dir/https_client" -n "$1" -m "$2" \
        -t "$((30000 * slow))" "$ca" "$port" 2>&1)
    echo "     ($out)" | head -n 8
    case $out in
    *"$1 connections x $2 requests: $1 handshakes in "*", $(($1 * $2)) good replies in "*"; 0 handshakes failed, 0 requests failed") ;;
    *) return 1 ;;
    esac
}

# served_ok LOG ACCEPTED_MIN FAILED: the server's last count: at least
# ACCEPTED_MIN connections, exactly FAILED failed handshakes, every other
# connection made its handshake.
served_ok() {
    local line a h f
    line=$(sed -n 's/^https_server: \([0-9]*\) connections, \([0-9]*\) handshakes, \([0-9]*\) failed, .*/\1 \2 \3/p' "$1")
    echo "     (served: ${line:-nothing counted})"
    read -r a h f <<<"$line"
    [ -n "$f" ] && [ "$a" -ge "$2" ] && [ "$f" -eq "$3" ] &&
        [ "$h" -eq $((a - f)) ]
}

# ---- One mode of the server: inline handshakes, or -c -------------------------

# tls_checks LABEL SERVER_ARGS...: the whole round against one server.
tls_checks() {
    local label=$1 url out srv
    shift
    if ! start "$label" "$@" "$cert" "$key" 0 2 120; then
        fail "$label: the server starts" "$(cat "$log")"
        return
    fi
    srv=$pid
    url=https://127.0.0.1:$port/
    check "$label: curl --cacert gets the body" \
        test "$(curl_ --cacert "$ca" "$url")" = "Hello World"
    out=$(curl_ --http1.1 --cacert "$ca" -w ' connects=%{num_connects}\n' \
        "$url" "${url}again")
    check "$label: keep-alive: curl makes two requests on one connection" \
        test "$out" = "Hello World
 connects=1
Hello World
 connects=0"
    curl_ --cacert "$tmp/pki/other.pem" "$url" >/dev/null
    out=$?
    check "$label: curl refuses the server with another CA (exit $out, 60 expected)" \
        test "$out" -eq 60
    check "$label: openssl s_client -tls1_3: verify return code 0, a request answered" \
        s_client_ok -tls1_3 TLSv1.3 || sed 's/^/     /' "$tmp/s_client.out" | tail -n 20
    check "$label: openssl s_client -tls1_2: verify return code 0, a request answered" \
        s_client_ok -tls1_2 TLSv1.2 || sed 's/^/     /' "$tmp/s_client.out" | tail -n 20
    check "$label: https_client: 1000 concurrent TLS connections x 5 requests, every reply checked" \
        client_ok 1000 5
    check "$label: https_client: 20 connections x 200 keep-alive requests" \
        client_ok 20 200

    # An idle TLS client holds a connection: SIGTERM still stops it. Its
    # stdin is a fifo that fd 6 keeps open (closed at the end: EOF).
    rm -f "$tmp/idle.in" && mkfifo "$tmp/idle.in"
    timeout "$((40 * slow))" openssl s_client -connect "127.0.0.1:$port" \
        -CAfile "$ca" <"$tmp/idle.in" >"$tmp/idle.out" 2>&1 &
    pids+=($!)
    exec 6>"$tmp/idle.in"
    wait_for 10 grep -q '^Verify return code: 0' "$tmp/idle.out"
    check "$label: an idle s_client holds a verified connection" \
        grep -q '^Verify return code: 0' "$tmp/idle.out"
    stop_ok "$label: SIGTERM stops it with an idle TLS client" "$srv" "$log"
    exec 6>&-
    # wait_for's probes, curl x 3 (one refused), s_client x 2, 1000 + 20,
    # the idle one.
    check "$label: the server counted every connection, 1 failed handshake (curl's)" \
        served_ok "$log" 1026 1
}

tls_checks inline
tls_checks compute -c

# ---- -c: SIGTERM in the middle of a flood of handshakes ------------------------
# Some connections are then inside a compute section (lthread_destroy():
# EBUSY): they must end themselves, the process exit 0, promptly.

if start flood -c "$cert" "$key" 0 2 120; then
    srv=$pid
    "$dir/https_client" -n 1000 -m 100 -t "$((30000 * slow))" "$ca" "$port" \
        >"$tmp/flood.out" 2>&1 &
    pids+=($!)
    flooding() {
        grep -q 'handshakes' "$tmp/flood.out" && return 1 # already done
        awk -v port=":$(printf '%04X' "$port")" '
            $4 == "01" && substr($2, length($2) - 4) == port { n++ }
            END { exit !(n >= 100) }' /proc/net/tcp
    }
    if [ -r /proc/net/tcp ]; then
        wait_for 10 flooding
    else
        sleep 0.3
    fi
    stop_ok "flood: -c: SIGTERM stops it while 1000 connections make handshakes" \
        "$srv" "$log"
else
    fail "flood: the server starts" "$(cat "$log")"
fi

echo "test_tls.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
