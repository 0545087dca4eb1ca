#!/usr/bin/env bash
# Queues a cross-validation run on Slurm: one array task per fold, then a
# merge that depends on all of them. Prints the two job ids.
#
#   cluster/submit.sh CONFIG RUN_DIR [sbatch options for the fold tasks...]
#   e.g. cluster/submit.sh configs/primary.yaml /scratch/$USER/primary --partition=gpu --gres=gpu:1
#
# LYRE (default: lyre on PATH) names the binary; LYRE_ARGS adds options to
# every fold task (e.g. "--set train.epochs=30"). The fold count is the
# config's cv.folds as `lyre config` resolves it.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
config=$1
run=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
lyre=${LYRE:-lyre}

# shellcheck disable=SC2086
folds=$("$lyre" config --config "$config" ${LYRE_ARGS:-} | awk '
  /^[^ ]/ { section = $1 }
  section == "cv:" && $1 == "folds:" { print $2; exit }')
if ! [[ "$folds" =~ ^[0-9]+$ ]]; then
  echo "submit.sh: cannot read cv.folds of $config" >&2
  exit 2
fi
[ "$folds" -lt 2 ] && folds=1  # one train/validation/test split: a single task

export LYRE="$lyre" LYRE_CONFIG="$config" LYRE_RUN="$run" LYRE_ARGS="${LYRE_ARGS:-}"
array=$(sbatch --parsable --export=ALL --array="0-$((folds - 1))" "$@" "$here/train_fold.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" "$here/merge.sbatch")
echo "fold array job $array ($folds tasks), merge job $merge: run folder $run"
