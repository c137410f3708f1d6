#!/usr/bin/env bash
# Interrupted runs lose nothing: a run killed in the middle of a fold (SIGKILL, SIGINT), in one process
# or with fold workers, leaves no half-written file and no report, and resuming it gives predictions
# identical to an uninterrupted run. A second process on a run folder in use is refused, and a loss that
# becomes NaN stops the run naming the fold and the epoch.
# Usage: interrupt_test.sh <mer binary> <source dir>
set -uo pipefail
# Job control: without it bash starts background jobs with SIGINT ignored, and the SIGINT case would test nothing.
set -m
mer=$1
src=$2
# shellcheck source=common.sh
source "$src/tests/cli/common.sh"
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT  # background runs too

data=$tmp/CASME2
cfg=$tmp/exp.yaml
# Long folds on tiny data (a few seconds each), so that a kill lands inside one.
cat >"$cfg" <<YAML
base: $src/configs/demo.yaml
name: interrupt
dataset: {root: $data}
train: {epochs: 1500, batch_size: 4}
runtime: {runs_dir: $tmp/runs, cache_dir: $tmp/cache, threads: 1, workers: 1, progress: none}
YAML
"$mer" synth --out "$data" --media "${MER_MEDIA_DIR:-$HOME/.cache/mer/media}" --subjects 4 --clips-per-subject 3 \
  --seed 3 >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
"$mer" train --config "$cfg" --run-dir "$tmp/runs/whole" >"$tmp/whole.log" 2>&1 || { echo "FAIL: reference run: $(tail -1 "$tmp/whole.log")"; exit 1; }

folds_done() { find "$1/folds" -name '*.csv' 2>/dev/null | wc -l; }

# interrupt <name> <signal> <extra args...>: start, wait for the first finished fold, signal in the next one.
interrupt() {
  local name=$1 sig=$2
  shift 2
  local dir=$tmp/runs/$name
  "$mer" train --config "$cfg" --run-dir "$dir" "$@" >"$tmp/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do
    [ "$(folds_done "$dir")" -ge 1 ] && break
    sleep 0.1
  done
  sleep 0.5
  kill -"$sig" "$pid"
  wait "$pid" 2>/dev/null
  sleep 0.5  # fold workers end with their parent
  local done_now
  done_now=$(folds_done "$dir")
  if [ "$done_now" -ge 1 ] && [ "$done_now" -lt 4 ]; then pass "$name: stopped after $done_now of 4 folds"; else fail "$name: $done_now folds done when killed"; fi
  if find "$dir" -name '.tmp-*' | grep -q .; then fail "$name: temporary files left"; else pass "$name: no half-written file"; fi
  [ -e "$dir/metrics.json" ] && fail "$name: a report of an unfinished run" || pass "$name: no report yet"
  if pgrep -f -- "--run-dir $dir" >/dev/null; then fail "$name: processes outlived the run"; else pass "$name: no process left"; fi
  if "$mer" train --config "$cfg" --run-dir "$dir" "$@" >"$tmp/$name.resume.log" 2>&1; then
    cmp -s "$tmp/runs/whole/predictions.csv" "$dir/predictions.csv" && pass "$name: resumed run identical to the uninterrupted one" \
      || fail "$name: resumed predictions differ"
  else
    fail "$name: resume failed: $(tail -1 "$tmp/$name.resume.log")"
  fi
}
interrupt sigkill KILL
interrupt sigint INT
interrupt workers_sigkill KILL --set runtime.workers=2 --set runtime.threads=2

# A second process on a run folder in use.
"$mer" train --config "$cfg" --run-dir "$tmp/runs/busy" >/dev/null 2>&1 &
busy=$!
for _ in $(seq 1 100); do [ -e "$tmp/runs/busy/run.lock" ] && break; sleep 0.1; done
sleep 0.3
"$mer" train --config "$cfg" --run-dir "$tmp/runs/busy" >"$tmp/out" 2>"$tmp/err"
rc=$?
kill -9 $busy 2>/dev/null; wait $busy 2>/dev/null
if [ $rc -eq 4 ] && grep -q "in use by another process" "$tmp/err" && [ "$(grep -c '^mer: ' "$tmp/err")" -eq 1 ]; then
  pass "a second process is refused (exit 4, one line)"
else
  fail "second process: exit $rc: $(cat "$tmp/err")"
fi

# A loss that becomes NaN: a learning rate that blows the weights up.
"$mer" train --config "$cfg" --set train.epochs=50 --set train.lr=1e30 --run-dir "$tmp/runs/nan" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 3 ] && grep -q "training fold casme2/sub01" "$tmp/err" && grep -q "in epoch" "$tmp/err"; then
  pass "NaN loss names the fold and the epoch (exit 3)"
else
  fail "NaN loss: exit $rc: $(cat "$tmp/err")"
fi
[ -e "$tmp/runs/nan/metrics.json" ] && fail "NaN run wrote a report" || pass "NaN run wrote no report"

echo "$failures failure(s)"
exit $((failures > 0))
