#!/bin/sh
# Runs each test executable given as an argument and counts the results.
#
#   tests/run.sh build/tests/test_join build/tests/test_cond ...
#
# Environment:
#   TEST_WRAPPER       command put in front of each test (valgrind, qemu-aarch64)
#   TEST_TIMEOUT       seconds a test may run (default 120); SIGTERM then,
#                      SIGKILL 10 s later if it is still there
#   LTHREAD_TEST_SLOW  factor the tests multiply their time tolerances by
#
# A test whose only failed checks were timing checks (CHECK_TIME in
# tests/check.h) exits with status 75; it is run once more, and the second
# run decides. The retry and the first run's output go to stderr, so that a
# loaded machine shows in the log without failing the suite.
#
# Prints PASS or FAIL per test (with the test's output when it fails, cut
# to its first 100 and last 40 lines when longer than 150), then,
# as the very last line, "N passed, N failed" counting tests. Exits 1 if any
# test failed, timed out or could not be run.

timeout_s=${TEST_TIMEOUT:-120}
timing_only=75 # CHECK_EXIT_TIMING in tests/check.h
passed=0
failed=0
log=$(mktemp "${TMPDIR:-/tmp}/lthread-test.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT
trap 'exit 1' INT TERM

# show: the test's output, indented; cut when long.
show() {
    lines=$(wc -l <"$log")
    if [ "$lines" -le 150 ]; then
        sed 's/^/    /' "$log"
    else
        head -n 100 "$log" | sed 's/^/    /'
        echo "    ... $((lines - 140)) lines left out ..."
        tail -n 40 "$log" | sed 's/^/    /'
    fi
}

# run_one TEST: runs it under the time limit; its output goes to $log.
run_one() {
    # TEST_WRAPPER is split on spaces on purpose: "valgrind -q --error-exitcode=99".
    # shellcheck disable=SC2086
    timeout -k 10 "$timeout_s" $TEST_WRAPPER "$1" >"$log" 2>&1
}

for t in "$@"; do
    name=$(basename "$t")
    if [ ! -x "$t" ]; then
        echo "FAIL $name (not an executable)"
        failed=$((failed + 1))
        continue
    fi
    run_one "$t"
    rc=$?
    again=
    if [ "$rc" -eq "$timing_only" ]; then
        {
            echo "RETRY $name: only timing checks failed (a loaded machine?);" \
                "running it once more. The first run said:"
            show
        } >&2
        run_one "$t"
        rc=$?
        again=" (second run: the first failed timing checks only)"
    fi
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name$again"
        passed=$((passed + 1))
    else
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "FAIL $name (timed out after ${timeout_s}s)$again"
        else
            echo "FAIL $name (exit status $rc)$again"
        fi
        # Enough to see what failed, not a sanitizer's thousand reports.
        show
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
