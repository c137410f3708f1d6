#!/usr/bin/env bash
# A sharded LOSO run on a real one-node Slurm cluster (slurmctld + slurmd + munge, configured here under a
# temporary folder): scripts/slurm/submit.sh queues a 2-task array and its dependent merge job; the merged
# metrics must equal those of an unsharded run of the same config. Skips (exit 77) with the reason where
# Slurm is not installed or the test cannot run as root.
# Usage: slurm_test.sh <mer binary> <source dir>
set -uo pipefail
mer=$(realpath "$1")
src=$2
# Short: the munge socket lives under it (unix socket paths are limited to ~100 characters).
tmp=$(mktemp -d /tmp/mer-slurm.XXXXXX)
# shellcheck source=../support/slurm_local.sh
source "$src/tests/support/slurm_local.sh"
cleanup() {
  slurm_local_stop "$tmp/slurm" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! why=$(slurm_local_available); then
  echo "skipped: $why"
  exit 77
fi

data=$tmp/CASME2
cfg=$tmp/exp.yaml
cat >"$cfg" <<YAML
base: $src/configs/demo.yaml
name: slurmtest
dataset: {root: $data}
train: {epochs: 2}
runtime: {runs_dir: $tmp/runs, cache_dir: $tmp/cache, threads: 1, progress: none}
YAML
"$mer" synth --out "$data" --media "${MER_MEDIA_DIR:-$HOME/.cache/mer/media}" --subjects 4 --clips-per-subject 3 \
  --seed 11 >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
"$mer" train --config "$cfg" --run-dir "$tmp/runs/whole" >"$tmp/whole.log" 2>&1 || { echo "FAIL: unsharded run: $(tail -2 "$tmp/whole.log")"; exit 1; }

slurm_local_start "$tmp/slurm" || { echo "FAIL: the local Slurm cluster did not start"; exit 1; }
mkdir -p "$tmp/jobs"
if ! ids=$(cd "$tmp/jobs" && MER=$mer bash "$src/scripts/slurm/submit.sh" "$cfg" "$tmp/runs/sharded" 2 --cpus-per-task=1); then
  echo "FAIL: submit.sh"
  exit 1
fi
# shellcheck disable=SC2086
if ! slurm_local_wait_jobs -t 300 $ids; then
  echo "FAIL: jobs did not all complete; job logs:"
  tail -n 5 "$tmp"/jobs/*.out
  exit 1
fi
echo "ok: array and merge jobs completed ($(echo $ids | tr '\n' ' '))"
ls "$tmp/runs/sharded"/env.shard-*-of-2.json >/dev/null 2>&1 && echo "ok: both shards wrote their env" || { echo "FAIL: shard env files missing"; exit 1; }
if cmp -s "$tmp/runs/whole/metrics.json" "$tmp/runs/sharded/metrics.json"; then
  echo "ok: merged metrics identical to the unsharded run"
else
  echo "FAIL: merged metrics differ from the unsharded run"
  diff "$tmp/runs/whole/metrics.json" "$tmp/runs/sharded/metrics.json" | head -20
  exit 1
fi
