#!/bin/bash
# Plants each bug listed in tests/mutants.txt, one at a time, in a copy of
# the tree, builds the copy and runs the tests against it: a mutant is
# KILLED when a test fails, SURVIVES when every test passes. Survivors are
# gaps in the suite.
#
#   tests/mutants.sh [NAME...]          (make mutants [MUTANTS=a,b])
#
# An entry whose `find` block no longer matches its file exactly once is
# reported STALE, and one whose copy does not build BROKEN: neither counts
# as killed. Exits 1 if any mutant survived or is stale or broken, 2 on a
# malformed list or a copy that does not build unmutated.
#
# The tests are the test binaries (tests/test_*.c) and the lifecycle
# fuzzer (FUZZ_SEEDS seeds; "fuzz" in a `tests` line), not the example
# servers or the seed timer (seconds each, and they cover nothing the
# binaries miss). A mutant's `tests` run first; only if none of them kills
# it do the others run, so that SURVIVED always means the whole set
# passed. A test that fails on the unmutated copy is left out (with a
# warning), and so are fuzzer seeds that fail there (known defects).
#
# Environment:
#   MAKE           make to use (default make)
#   MUTANTS        comma-separated names to run (default: all, or the args)
#   MUTANTS_JOBS   parallel jobs for make (default 2)
#   MUTANTS_DIR    where to make the copy (default: a temporary directory,
#                  removed afterwards; kept if given, with a log per mutant)
#   FUZZ_SEEDS     fuzzer seeds per run (default 300)
#   TEST_TIMEOUT   seconds a test may run (default 60)
#   MUTANTS_PLANT_ONLY=1  only plant each mutant and report the stale ones
#                  (seconds: no build, no tests; make check-mutants-list)
#   LTHREAD_TEST_SLOW  passed on to the tests

set -u

here=$(cd "$(dirname "$0")/.." && pwd)
list=$here/tests/mutants.txt
make=${MAKE:-make}
jobs=${MUTANTS_JOBS:-2}
seeds=${FUZZ_SEEDS:-300}
timeout_s=${TEST_TIMEOUT:-60}
want=${MUTANTS:-}
[ $# -gt 0 ] && want=$(
    IFS=,
    echo "$*"
)

die() {
    echo "mutants: $*" >&2
    exit 2
}

# ---- the list ---------------------------------------------------------------

# One array element per mutant; blocks are newline-separated.
names=()
files=()
finds=()
repls=()
hints=()
whys=()

lineno=0
n=-1
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    case $line in
    '' | '#'*) continue ;;
    esac
    key=${line%% *}
    if [ "$key" = "$line" ]; then
        text=''
    else
        text=${line#* }
    fi
    if [ "$key" = mutant ]; then
        case $text in
        '' | *[!a-z0-9-]*) die "$list:$lineno: bad mutant name '$text'" ;;
        esac
        for old in "${names[@]}"; do
            [ "$old" = "$text" ] && die "$list:$lineno: '$text' twice"
        done
        n=$((n + 1))
        names[n]=$text
        files[n]=''
        finds[n]=''
        repls[n]=''
        hints[n]=''
        whys[n]=''
        nfind=0
        nrepl=0
        continue
    fi
    [ "$n" -ge 0 ] || die "$list:$lineno: '$key' before any 'mutant'"
    case $key in
    file) files[n]=$text ;;
    find)
        if [ "$nrepl" -gt 0 ]; then
            die "$list:$lineno: 'find' after 'replace' in ${names[n]}"
        fi
        [ "$nfind" -gt 0 ] && finds[n]+=$'\n'
        finds[n]+=$text
        nfind=$((nfind + 1))
        ;;
    replace)
        [ "$nrepl" -gt 0 ] && repls[n]+=$'\n'
        repls[n]+=$text
        nrepl=$((nrepl + 1))
        ;;
    tests) hints[n]=$text ;;
    why) whys[n]=$text ;;
    *) die "$list:$lineno: unknown keyword '$key'" ;;
    esac
    if [ "$key" = replace ] && [ "$nfind" -eq 0 ]; then
        die "$list:$lineno: 'replace' before 'find' in ${names[n]}"
    fi
done <"$list"

total=$((n + 1))
[ "$total" -gt 0 ] || die "no mutants in $list"
for i in $(seq 0 $((total - 1))); do
    [ -n "${files[i]}" ] || die "${names[i]}: no 'file'"
    [ -n "${finds[i]}" ] || die "${names[i]}: no 'find'"
    [ -f "$here/${files[i]}" ] || die "${names[i]}: no file ${files[i]}"
    [ "${finds[i]}" != "${repls[i]}" ] || die "${names[i]}: replaces nothing"
done

selected=()
for i in $(seq 0 $((total - 1))); do
    if [ -z "$want" ] || [[ ",$want," == *",${names[i]},"* ]]; then
        selected+=("$i")
    fi
done
if [ -n "$want" ]; then
    IFS=, read -ra asked <<<"$want"
    for a in "${asked[@]}"; do
        found=0
        for i in "${selected[@]}"; do
            [ "${names[i]}" = "$a" ] && found=1
        done
        [ "$found" = 1 ] || die "no mutant named '$a' in $list"
    done
fi

# ---- the work directory -----------------------------------------------------

if [ -n "${MUTANTS_DIR:-}" ]; then
    work=$MUTANTS_DIR
    rm -rf "$work/tree"
    mkdir -p "$work" || exit 2
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/lthread-mutants.XXXXXX") || exit 2
    trap 'rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
fi

# ---- planting ---------------------------------------------------------------

# Writes file $1 with the lines of block $2 replaced by block $3; fails
# with status 3 (and the match count on stdout) unless $2 occurs once.
plant() {
    local f=$1
    printf '%s\n' "$2" >"$work/find"
    [ -n "$3" ] && printf '%s\n' "$3" >"$work/repl" || : >"$work/repl"
    FINDF=$work/find REPLF=$work/repl awk '
        BEGIN {
            while ((getline l < ENVIRON["FINDF"]) > 0) fb[nf++] = l
            while ((getline l < ENVIRON["REPLF"]) > 0) rb[nr++] = l
        }
        { line[NR] = $0 }
        END {
            for (i = 1; i + nf - 1 <= NR; i++) {
                for (j = 0; j < nf && line[i + j] == fb[j]; j++)
                    ;
                if (j == nf) { matches++; at = i }
            }
            if (matches != 1) { print matches + 0; exit 3 }
            for (i = 1; i < at; i++) print line[i] > ENVIRON["OUT"]
            for (j = 0; j < nr; j++) print rb[j] > ENVIRON["OUT"]
            for (i = at + nf; i <= NR; i++) print line[i] > ENVIRON["OUT"]
        }' "$f"
}

# Plant-only: each mutant planted in the working tree's file (read, not
# written: the result goes to $work), without the copy.
if [ "${MUTANTS_PLANT_ONLY:-0}" = 1 ]; then
    stale=0
    for i in "${selected[@]}"; do
        count=$(OUT=$work/mutated plant "$here/${files[i]}" "${finds[i]}" \
            "${repls[i]}")
        if [ $? -ne 0 ]; then
            echo "STALE     ${names[i]}: find block matches ${count:-?} times in ${files[i]}"
            stale=$((stale + 1))
        fi
    done
    echo "== mutants: ${#selected[@]} planted, $stale stale"
    [ "$stale" -eq 0 ]
    exit
fi

# ---- the copy ---------------------------------------------------------------

tree=$work/tree
logs=$work/logs
mkdir -p "$tree" "$logs"
# The working tree as it is (uncommitted changes included), no build/.
(
    cd "$here" || exit 2
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files --cached --others --exclude-standard |
            while IFS= read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done
    else
        find . -path ./build -prune -o -type f -print
    fi | tar -cf - -T -
) | (cd "$tree" && tar -xf -) || die "could not copy the tree"

build() {
    $make -C "$tree" --no-print-directory -j"$jobs" tests \
        build/tests/fuzz_lifecycle >"$1" 2>&1
}

# Runs test $1 (a binary name, or "fuzz") in the copy; output to $2. In a
# subshell whose stderr also goes there: a mutant's crash makes the shell
# say so ("Segmentation fault"), which belongs in the log.
run_test() {
    (
        if [ "$1" = fuzz ]; then
            timeout "$((timeout_s * 3))" "$tree/build/tests/fuzz_lifecycle" \
                -n "$seeds" -j 4 -x -w 10 -K "${fuzz_skip:-0}"
        else
            timeout "$timeout_s" "$tree/build/tests/$1"
        fi
    ) >"$2" 2>&1
}

all_tests() {
    for t in "$tree"/build/tests/test_*; do
        case $t in
        *.d) ;;
        *) basename "$t" ;;
        esac
    done
    echo fuzz
}

# ---- baseline ---------------------------------------------------------------

echo "== mutants: ${#selected[@]} of $total from tests/mutants.txt, copy in $tree"
build "$logs/baseline-build.log" ||
    die "the unmutated copy does not build (see $logs/baseline-build.log)"
tests=()
fuzz_skip=
for t in $(all_tests); do
    if run_test "$t" "$logs/baseline-$t.log"; then
        tests+=("$t")
    elif [ "$t" = fuzz ]; then
        # Rerun without stopping, to learn every failing seed.
        timeout "$((timeout_s * 3))" "$tree/build/tests/fuzz_lifecycle" \
            -n "$seeds" -j 4 -w 10 >"$logs/baseline-fuzz.log" 2>&1
        fuzz_skip=$(sed -n 's/^FAIL seed \([0-9]*\) .*/\1/p' \
            "$logs/baseline-fuzz.log" | paste -sd, -)
        echo "== WARNING: fuzzer seeds $fuzz_skip fail unmutated; skipped"
        tests+=(fuzz)
    else
        echo "== WARNING: $t fails unmutated; left out"
    fi
done

# ---- the mutants ------------------------------------------------------------

killed=0
survived=0
stale=0
broken=0
report=()

for i in "${selected[@]}"; do
    name=${names[i]}
    file=${files[i]}
    log=$logs/$name.log
    t0=$(date +%s)
    printf '%-34s ' "$name"
    count=$(OUT=$work/mutated plant "$tree/$file" "${finds[i]}" "${repls[i]}")
    if [ $? -ne 0 ]; then
        echo "STALE: its find block matches ${count:-?} times in $file"
        report+=("STALE     $name: find block matches ${count:-?} times in $file")
        stale=$((stale + 1))
        continue
    fi
    cp "$work/mutated" "$tree/$file"
    if ! build "$log"; then
        echo "BROKEN: the mutated copy does not build:"
        grep -m3 'error' "$log" | sed 's/^/        /'
        report+=("BROKEN    $name: does not build")
        broken=$((broken + 1))
        cp "$here/$file" "$tree/$file"
        continue
    fi
    # The named tests first, then the rest.
    order=()
    for h in ${hints[i]}; do
        for t in "${tests[@]}"; do
            [ "$t" = "$h" ] && order+=("$t")
        done
    done
    for t in "${tests[@]}"; do
        [[ " ${hints[i]} " == *" $t "* ]] || order+=("$t")
    done
    by=
    for t in "${order[@]}"; do
        if ! run_test "$t" "$log.$t"; then
            by=$t
            break
        fi
        rm -f "$log.$t"
    done
    cp "$here/$file" "$tree/$file" # a new mtime: rebuilt next time
    secs=$(($(date +%s) - t0))
    if [ -n "$by" ]; then
        note=
        if [ -n "${hints[i]}" ] && [[ " ${hints[i]} " != *" $by "* ]]; then
            note=" (not by its named tests: ${hints[i]})"
        fi
        echo "killed by $by, ${secs}s$note"
        report+=("KILLED    $name: by $by$note")
        killed=$((killed + 1))
    else
        echo "SURVIVED (${#order[@]} tests passed, ${secs}s): ${whys[i]}"
        report+=("SURVIVED  $name: ${whys[i]}")
        survived=$((survived + 1))
    fi
done

echo "== mutants: $killed killed, $survived survived, $stale stale, $broken broken"
for r in "${report[@]}"; do
    case $r in
    KILLED*) ;;
    *) echo "   $r" ;;
    esac
done
[ $((survived + stale + broken)) -eq 0 ]
