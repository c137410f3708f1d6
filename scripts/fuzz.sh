#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, Debian's clang) of every parser of user input, under ASan + UBSan:
# CSV tables, .xlsx workbooks and the XML inside them, YAML configs with base: composition, .npy arrays,
# MEGC2019 logs and prediction CSVs (tests/fuzz/). Seeds are in tests/fuzz/corpus/<target>/ (the .npy
# ones are written below); what the
# fuzzer learns goes to build-fuzz/corpus/<target>/ and any crash, leak or timeout to build-fuzz/findings/.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]   (default 60 s, every target)
#   e.g. scripts/fuzz.sh 600 csv_table npy
# Runs the targets one after another with -jobs equal to the cores; prints executions per target and in
# total, and exits 1 if any target found something (the input is named; reproduce with
# build-fuzz/tests/fuzz/<target>_fuzzer <input>). Not part of the test suite: fuzzing is open-ended.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
all=(csv_table xlsx xlsx_parts yaml_config npy megc_log predictions)
targets=("${@:-${all[@]}}")
[[ ${#targets[@]} -gt 0 && -n ${targets[0]} ]] || targets=("${all[@]}")

# The .npy seeds are written here rather than committed (the repository holds no binary data files):
# float32 arrays of shapes (2,3), (1,), (2,2,2) and (0,4), headers byte for byte as npy_encode writes them.
npy_seed() {  # <file> <shape tuple> <element count> <one float32, as printf escapes>
  local header="{'descr': '<f4', 'fortran_order': False, 'shape': $2, }"
  local pad=$(( 63 - (10 + ${#header}) % 64 )) i
  local len=$(( ${#header} + pad + 1 ))
  {
    printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x $((len & 255)))\\x$(printf %02x $((len >> 8)))"
    printf '%s%*s\n' "$header" "$pad" ''
    for ((i = 0; i < $3; i++)); do printf "$4"; done
  } >"$1"
}
mkdir -p build-fuzz/seeds/npy
npy_seed build-fuzz/seeds/npy/f32_2x3.npy "(2, 3)" 6 '\x00\x00\x80\x3f'
npy_seed build-fuzz/seeds/npy/f32_1.npy "(1,)" 1 '\x00\x00\x00\x3f'
npy_seed build-fuzz/seeds/npy/f32_2x2x2.npy "(2, 2, 2)" 8 '\x00\x00\x80\xbf'
npy_seed build-fuzz/seeds/npy/f32_empty.npy "(0, 4)" 0 ''

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
jobs=$(nproc)
total=0
failed=()
for t in "${targets[@]}"; do
  bin=build-fuzz/tests/fuzz/${t}_fuzzer
  [[ -x $bin ]] || { echo "fuzz.sh: no target '$t' (one of: ${all[*]})" >&2; exit 2; }
  work=build-fuzz/corpus/$t findings=build-fuzz/findings/$t logs=build-fuzz/logs/$t seeds=tests/fuzz/corpus/$t
  [[ $t == npy ]] && seeds=build-fuzz/seeds/npy
  mkdir -p "$work" "$findings" "$logs"
  rm -f "$logs"/*.log
  echo "== $t: ${seconds} s on $jobs cores"
  # -jobs=N workers share the corpus folder; each writes fuzz-<k>.log. Leaks are reported (ASan's leak
  # checker), a single input running over 10 s is a timeout, over 2 GB of memory is an out-of-memory.
  status=0
  (cd "$logs" && "../../../$bin" "../../../$work" "../../../$seeds" -jobs="$jobs" -workers="$jobs" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="../../../$findings/" >/dev/null 2>&1) || status=$?
  runs=0
  for log in "$logs"/fuzz-*.log; do
    n=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
    runs=$((runs + ${n:-0}))
  done
  total=$((total + runs))
  found=$(find "$findings" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf '   %s: %d executions, corpus %d inputs, findings %d\n' "$t" "$runs" "$(ls "$work" | wc -l)" "$found"
  if ((status != 0 || found > 0)); then
    failed+=("$t")
    grep -h -A3 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error|SUMMARY' "$logs"/fuzz-*.log | head -20 >&2 || true
  fi
done
echo "fuzz.sh: $total executions in total over ${#targets[@]} targets"
if ((${#failed[@]})); then
  echo "fuzz.sh: findings in ${failed[*]} (inputs under build-fuzz/findings/)" >&2
  exit 1
fi
