#!/usr/bin/env bash
# Profiles Lyre's own kernels (embedding, attention, pooling, dropout, loss,
# Adam, gather) with Nsight Compute over a few training steps of one fold.
#   profiling/ncu.sh [BUILD_DIR] [OUT_PREFIX]
set -euo pipefail
build=${1:-build/release}
out=${2:-lyre-kernels}
ncu --set full --target-processes all --force-overwrite \
  --kernel-name-base demangled --kernel-name 'regex:lyre::kernels::' \
  --launch-skip 20 --launch-count 40 -o "$out" \
  "$build/lyre" bench --backend cuda --folds 1 --songs 400
ncu --import "$out.ncu-rep" --page details --print-summary per-kernel | head -80
