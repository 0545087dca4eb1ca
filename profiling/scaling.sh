#!/usr/bin/env bash
# Data-parallel scaling on this machine: the same training run (the demo
# corpus and model) as one process and as 2 MPI ranks, printing training
# songs per second of wall time and the scaling efficiency.
#
#   profiling/scaling.sh [LYRE_BINARY] [extra --set options...]
#
# Rows: 1 rank x 1 thread (the base), 1 rank x 2 threads (the same cores used
# by OpenMP instead), 2 ranks x 1 thread. efficiency = speed-up / ranks over
# the 1 x 1 base. Evaluation runs whole on every rank (no gradient to share),
# so it does not speed up; the `train` column counts training epochs only.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lyre=$(realpath "${1:-$here/build/release/lyre}")
shift || true
work=$(mktemp -d /tmp/lyre-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sets=(--set "data.prepared=$work/prepared" --set cv.folds=2 --set train.epochs=2
      --set train.backend=cpu "$@")
"$lyre" -q prepare --config "$here/configs/demo.yaml" "${sets[@]}" >/dev/null

run() {  # label, launcher..., -- threads
  local label=$1 threads=$2
  shift 2
  "$@" "$lyre" -q train --config "$here/configs/demo.yaml" "${sets[@]}" \
    --set "train.threads=$threads" --out "$work/$label" --no-report >/dev/null
  python3 - "$work/$label" <<'PY'
import json, sys, pathlib
run = pathlib.Path(sys.argv[1])
s = json.loads((run / "summary.json").read_text())
lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
print(s["train_songs_per_second_wall"], sum(l["train"]["songs"] for l in lines) / s["wall_seconds"],
      s["mean"]["test_accuracy"]["mean"])
PY
}
printf '%-18s %12s %10s %11s %14s\n' "layout" "songs/s" "speed-up" "efficiency" "test accuracy"
read -r base _ acc1 < <(run r1t1 1)
printf '%-18s %12.0f %10s %11s %14.4f\n' "1 rank x 1 thread" "$base" "1.00" "-" "$acc1"
read -r t2 _ acc2 < <(run r1t2 2)
printf '%-18s %12.0f %10.2f %11s %14.4f\n' "1 rank x 2 threads" "$t2" "$(echo "$t2 / $base" | bc -l)" "-" "$acc2"
read -r r2 _ acc3 < <(run r2t1 1 mpirun -np 2 --oversubscribe --bind-to none)
printf '%-18s %12.0f %10.2f %10.0f%% %14.4f\n' "2 ranks x 1 thread" "$r2" "$(echo "$r2 / $base" | bc -l)" \
  "$(echo "100 * $r2 / $base / 2" | bc -l)" "$acc3"
echo "(songs/s: training songs of all epochs and folds / wall time of the run; $(nproc) cores here)"
