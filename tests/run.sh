#!/bin/sh
# Runs each test executable given as an argument and counts the results.
#
#   tests/run.sh build/tests/test_join build/tests/test_cond ...
#
# Environment:
#   TEST_WRAPPER       command put in front of each test (valgrind, qemu-aarch64)
#   TEST_TIMEOUT       seconds a test may run (default 120)
#   LTHREAD_TEST_SLOW  factor the tests multiply their time tolerances by
#
# Prints PASS or FAIL per test (with the test's output when it fails, cut
# to its first 100 and last 40 lines when longer than 150), then,
# as the very last line, "N passed, N failed" counting tests. Exits 1 if any
# test failed, timed out or could not be run.

timeout_s=${TEST_TIMEOUT:-120}
passed=0
failed=0
log=$(mktemp "${TMPDIR:-/tmp}/lthread-test.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT INT TERM

for t in "$@"; do
    name=$(basename "$t")
    if [ ! -x "$t" ]; then
        echo "FAIL $name (not an executable)"
        failed=$((failed + 1))
        continue
    fi
    # TEST_WRAPPER is split on spaces on purpose: "valgrind -q --error-exitcode=99".
    # shellcheck disable=SC2086
    timeout "$timeout_s" $TEST_WRAPPER "$t" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        if [ "$rc" -eq 124 ]; then
            echo "FAIL $name (timed out after ${timeout_s}s)"
        else
            echo "FAIL $name (exit status $rc)"
        fi
        # Enough to see what failed, not a sanitizer's thousand reports.
        lines=$(wc -l <"$log")
        if [ "$lines" -le 150 ]; then
            sed 's/^/    /' "$log"
        else
            head -n 100 "$log" | sed 's/^/    /'
            echo "    ... $((lines - 140)) lines left out ..."
            tail -n 40 "$log" | sed 's/^/    /'
        fi
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
