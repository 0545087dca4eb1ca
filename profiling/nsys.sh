#!/usr/bin/env bash
# Records an Nsight Systems timeline of a short CUDA run of the primary model:
# 5 folds concurrently, 2 epochs, on the synthetic corpus.
#   profiling/nsys.sh [BUILD_DIR] [OUT_PREFIX]
# Open the result with `nsys-ui lyre-timeline.nsys-rep`; see profiling/NVTX.md.
set -euo pipefail
build=${1:-build/release}
out=${2:-lyre-timeline}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/lyre" prepare --config configs/demo.yaml --out "$work/prepared" \
  --set data.synthetic.songs=48000 --set data.per_genre=2000 >/dev/null
nsys profile --trace=cuda,nvtx,cublas,cudnn,osrt --cuda-memory-usage=true \
  --force-overwrite=true -o "$out" \
  "$build/lyre" train --config configs/demo.yaml --out "$work/run" --no-report \
  --set data.prepared="$work/prepared" --set train.backend=cuda --set train.epochs=2
nsys stats --report nvtx_sum,cuda_gpu_kern_sum "$out.nsys-rep" | head -60
