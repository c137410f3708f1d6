#!/usr/bin/env bash
# Queues a sharded LOSO run on Slurm: an N-task array (loso_array.sbatch) that trains the folds into
# RUN_DIR, then a merge job that writes the pooled report once every shard has succeeded.
# Prints the array job id, then the merge job id, one per line (for scancel, squeue or a test's wait).
# Usage: scripts/slurm/submit.sh CONFIG RUN_DIR N [extra sbatch args...]
#   extra sbatch args (--partition, --time, --account, --chdir, ...) apply to both jobs; not --export,
#   which would hide the variables the jobs need.
#   MER: the mer binary (default: `mer` on PATH), resolved to an absolute path here.
set -euo pipefail

usage() {
  [ -z "${1:-}" ] || echo "submit.sh: $1" >&2
  echo "usage: submit.sh CONFIG RUN_DIR N [extra sbatch args...]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
[ -f "$1" ] || usage "no config file $1"
[[ $3 =~ ^[1-9][0-9]*$ ]] || usage "N must be a positive number of shards, got '$3'"
# Absolute paths: the jobs may start in another folder (--chdir) than the one we submit from.
config=$(realpath -- "$1")
run=$(realpath -m -- "$2")
shards=$3
shift 3
# The jobs run exactly the binary found now, even if their PATH differs.
mer=$(command -v -- "${MER:-mer}") || usage "mer binary '${MER:-mer}' not found (set MER)"
here=$(dirname -- "$(realpath -- "$0")")

# The paths reach the jobs through the environment (sbatch exports it by default) rather than
# --export=VAR=value, which would split values at commas, or text pasted into a script, which would
# need quoting.
export MER=$mer CONFIG=$config RUN=$run

# --parsable prints "id" or "id;cluster".
array_id=$(sbatch --parsable --array="1-$shards" "$@" "$here/loso_array.sbatch")
array_id=${array_id%%;*}
# afterok: merge only if every shard exited 0; --kill-on-invalid-dep: if one failed, cancel the merge
# instead of leaving it pending forever. The wrapped command reads the exported variables at run time.
# shellcheck disable=SC2016
if ! merge_id=$(sbatch --parsable --job-name=mer-merge --dependency="afterok:$array_id" \
    --kill-on-invalid-dep=yes "$@" --wrap 'exec "$MER" report merge "$RUN"'); then
  scancel "$array_id" || true  # shards without their merge would only waste the queue
  echo "submit.sh: merge job not submitted; cancelled array $array_id" >&2
  exit 1
fi
merge_id=${merge_id%%;*}
echo "$array_id"
echo "$merge_id"
