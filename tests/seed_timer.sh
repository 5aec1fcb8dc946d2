#!/bin/sh
# Runs the seed's timer example (examples/seed_timer, path as $1) and checks
# its output against the seed's semantics:
#   a sleeps 2000 ms three times, b 1000 ms eight times, both detached;
#   d creates c and joins it; c sleeps 1 s inside a compute section.
# "elapsed" is the difference of gettimeofday()'s whole seconds around a
# sleep, so a 2000 ms sleep prints 2, or 3 when it straddles a second edge
# late enough; never less (a sleep never ends early). Likewise 1 or 2 for b.
# The whole run takes b's 8 s: at least 7.9 s, at most 8 s + 1 s * slow.
#
# Environment: TEST_WRAPPER (put in front of the binary), LTHREAD_TEST_SLOW.
# Prints "seed_timer: N passed, N failed" like the C tests; exits 1 on failure.

bin=${1:?usage: seed_timer.sh path/to/seed_timer}
slow=${LTHREAD_TEST_SLOW:-1}
out=$(mktemp "${TMPDIR:-/tmp}/seed_timer.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }

t0=$(now_ms)
# shellcheck disable=SC2086
timeout 60 $TEST_WRAPPER "$bin" >"$out" 2>&1
rc=$?
t1=$(now_ms)

awk -v rc="$rc" -v ms="$((t1 - t0))" -v slow="$slow" '
function check(ok, what) {
    if (ok) passed++
    else { failed++; printf "seed_timer: FAILED: %s\n", what }
}
{ line[NR] = $0; pos[$0] = NR; count[$0]++ }
/^a \([0-9]+\): elapsed is: [0-9]+$/ { na++; v = $NF
    check(v == 2 || v == 3, "a elapsed " v " (want 2, or 3 at a second edge): " $0) }
/^b \([0-9]+\): elapsed is: [0-9]+$/ { nb++; v = $NF
    check(v == 1 || v == 2, "b elapsed " v " (want 1, or 2 at a second edge): " $0) }
function key(prefix, n,    k) {
    for (k in pos) if (index(k, prefix "(" n "): elapsed is: ") == 1) return k
    return ""
}
function before(x, y) {
    check((x in pos) && (y in pos) && pos[x] < pos[y], "\"" x "\" before \"" y "\"")
}
END {
    check(rc == 0, "exit status " rc)
    check(ms >= 7900, "ran " ms " ms, want >= 7900")
    check(ms <= 8000 + 1000 * slow, "ran " ms " ms, want <= " 8000 + 1000 * slow)
    split("I am in a|I am in b|d is running|c is running|c is exiting|" \
          "d is done joining on c.|a is exiting|b is exiting", want, "|")
    for (i in want) check(count[want[i]] == 1, "once: \"" want[i] "\"")
    check(na == 3, "3 lines from a, got " na + 0)
    check(nb == 8, "8 lines from b, got " nb + 0)
    check(NR == 8 + 3 + 8, "19 lines in all, got " NR)
    # Creation order is first-run order.
    before("I am in a", "I am in b")
    before("I am in b", "d is running")
    before("d is running", "c is running")
    before("c is running", "c is exiting")
    before("c is exiting", "d is done joining on c.")
    # c exits at 1 s, a first wakes at 2 s.
    before("d is done joining on c.", key("a ", 2))
    before("I am in a", key("a ", 2))
    for (i = 2; i > 0; i--) before(key("a ", i), key("a ", i - 1))
    before(key("a ", 0), "a is exiting")
    before("I am in b", key("b ", 7))
    for (i = 7; i > 0; i--) before(key("b ", i), key("b ", i - 1))
    before(key("b ", 0), "b is exiting")
    # a is done at 6 s, b at 8 s.
    before("a is exiting", "b is exiting")
    printf "seed_timer: %d passed, %d failed\n", passed, failed
    if (failed) {
        print "--- output ---"
        for (i = 1; i <= NR; i++) print line[i]
    }
    exit failed != 0
}' "$out"
