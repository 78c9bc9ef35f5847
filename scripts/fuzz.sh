#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang-14, ASan + UBSan) and runs them.
#
#   scripts/fuzz.sh short [SECONDS]    every target SECONDS (default 60) on its corpus, two at a time
#                                      (what scripts/test.sh runs); fails on any crash or broken
#                                      invariant and prints the input's path
#   scripts/fuzz.sh campaign [RUNS [SECONDS]]
#                                      every target until RUNS executions (default 10,000,000) or
#                                      SECONDS (default: no limit), two at a time; writes
#                                      build/fuzz/campaign.md (executions, time, coverage at the start
#                                      and the end, crashes) and appends each run to
#                                      docs/performance/fuzz-ledger.tsv (committed: campaigns of
#                                      several sittings and checkouts add up; the corpus in
#                                      build/fuzz/corpus carries over within a checkout only)
#
# NUBEFACT_FUZZ_TARGETS="input codec" limits either mode to those targets; NUBEFACT_FUZZ_JOBS=N
# runs N at a time (default: the number of cores), e.g. 1 to leave a core for other work.
#
# Corpora grow in build/fuzz/corpus/<target>, seeded from tests/fuzz/corpus/<target> (and the
# official examples for codec and input). A crash's input is left in build/fuzz/artifacts/<target>/:
# copy it to tests/data/fuzz/<target>/ and the unit suite replays it (tests/unit/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
all_targets=(input codec response config emulator gateway)
read -r -a targets <<<"${NUBEFACT_FUZZ_TARGETS:-${all_targets[*]}}"
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target '$t' (targets: ${all_targets[*]})" >&2; exit 2; }
done
jobs=${NUBEFACT_FUZZ_JOBS:-$(nproc)}
declare -A max_len=([input]=16384 [codec]=8192 [response]=8192 [config]=4096 [emulator]=8192 [gateway]=8192)
# Dictionaries (tests/fuzz/dict/NAME.dict), joined into build/fuzz/dict/<target>.dict.
# The server targets cover 16,000+ edges, where libFuzzer's entropic scheduling spends half the
# time updating feature frequencies (perf): the classic scheduling runs 1.7x more inputs there.
declare -A scheduling=([emulator]=-entropic=0 [gateway]=-entropic=0)
declare -A dict=([input]=json [codec]=json [response]=http [config]=config [emulator]=http [gateway]="http gateway")
# The emulator's OpenSSL context is freed at exit, not per run: not a leak of ours (tests/fuzz/lsan.supp).
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target fuzz_targets
bin=build/fuzz/tests/fuzz

prepare() {  # $1 target: the working corpus, seeded
    local t=$1 dir=build/fuzz/corpus/$1
    mkdir -p "$dir" "build/fuzz/artifacts/$t"
    cp -n tests/fuzz/corpus/"$t"/* "$dir"/ 2>/dev/null || true
    if [[ $t == codec || $t == input ]]; then cp -n tests/data/official/*.json "$dir"/ 2>/dev/null || true; fi
    if [[ -d tests/data/fuzz/$t ]]; then cp -n tests/data/fuzz/"$t"/* "$dir"/ 2>/dev/null || true; fi
    mkdir -p build/fuzz/dict
    local d
    : >"build/fuzz/dict/$t.dict"
    for d in ${dict[$t]}; do cat "tests/fuzz/dict/$d.dict" >>"build/fuzz/dict/$t.dict"; done
}

flags() {  # $1 target: the libFuzzer options every run shares
    local t=$1
    echo "${scheduling[$t]:-} -max_len=${max_len[$t]} -dict=build/fuzz/dict/$t.dict -timeout=20 -rss_limit_mb=2048" \
         "-malloc_limit_mb=512 -artifact_prefix=build/fuzz/artifacts/$t/ -print_final_stats=1"
}

run_one() {  # $1 target, $2 extra options, $3 log
    local t=$1
    # shellcheck disable=SC2046
    "$bin/fuzz_$t" $(flags "$t") $2 "build/fuzz/corpus/$t" >"$3" 2>&1
}

case $mode in
short)
    seconds=${2:-60}
    pids=() logs=() names=()
    status=0
    for t in "${targets[@]}"; do
        prepare "$t"
        log=build/fuzz/short-$t.log
        # A fixed seed (NUBEFACT_FUZZ_SEED, default 1): the same mutations on every run of the
        # same code, so a CI failure is the code's, reproducible, not the dice's.
        run_one "$t" "-max_total_time=$seconds -seed=${NUBEFACT_FUZZ_SEED:-1}" "$log" &
        pids+=($!) logs+=("$log") names+=("$t")
        if (( ${#pids[@]} >= jobs )); then
            wait "${pids[0]}" || { status=1; echo "fuzz.sh: ${names[0]} broke, see ${logs[0]}"; }
            pids=("${pids[@]:1}") logs=("${logs[@]:1}") names=("${names[@]:1}")
        fi
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { status=1; echo "fuzz.sh: ${names[$i]} broke, see ${logs[$i]}"; }
    done
    for t in "${targets[@]}"; do
        log=build/fuzz/short-$t.log
        runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo '?')
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
        echo "fuzz.sh: $t: $runs executions in ${seconds} s, coverage $cov"
        if grep -q 'invariant broken\|ERROR: AddressSanitizer\|runtime error\|ERROR: libFuzzer' "$log"; then
            status=1
            grep -m3 'invariant broken\|ERROR:\|runtime error\|Test unit written' "$log" | sed 's/^/  /'
        fi
    done
    exit $status
    ;;
campaign)
    runs=${2:-10000000}
    limit=${3:-0}
    out=build/fuzz/campaign.md ledger=docs/performance/fuzz-ledger.tsv
    [[ -f $ledger ]] || printf 'date\ttarget\texecutions\tseconds\tcov_start\tcov_end\tcrashes\n' >"$ledger"
    extra="-runs=$runs"
    (( limit > 0 )) && extra+=" -max_total_time=$limit"
    pids=()
    for t in "${targets[@]}"; do
        prepare "$t"
        ( start=$SECONDS
          log=build/fuzz/campaign-$t.log
          run_one "$t" "$extra" "$log" || true
          took=$((SECONDS - start))
          n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
          cov0=$(grep -m1 -o 'INITED cov: [0-9]*' "$log" | grep -o '[0-9]*' || echo '?')
          cov1=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
          crashes=$(find "build/fuzz/artifacts/$t" -type f | wc -l)
          printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$n" "$took" "$cov0" "$cov1" \
              "$crashes" >>"$ledger"
          echo "fuzz.sh: $t: $n executions in $took s, coverage $cov0 → $cov1, $crashes crash files" ) &
        pids+=($!)
        if (( ${#pids[@]} >= jobs )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
    done
    wait
    {
        echo "| target | executions (all campaigns) | seconds | exec/s | coverage first → last | crash files |"
        echo "|---|---:|---:|---:|---|---:|"
        awk -F'\t' 'NR > 1 { n[$2] += $3; s[$2] += $4; if (!($2 in c0)) c0[$2] = $5; c1[$2] = $6; k[$2] = $7 }
            END { for (t in n) printf "| %s | %d | %d | %d | %s → %s | %s |\n", t, n[t], s[t],
                  s[t] ? n[t] / s[t] : 0, c0[t], c1[t], k[t] }' "$ledger" | sort
    } >"$out"
    cat "$out"
    ;;
*)
    echo "usage: scripts/fuzz.sh short [SECONDS] | campaign [RUNS [SECONDS]]" >&2
    exit 2
    ;;
esac
