#!/usr/bin/env bash
# The one-shot GPU check (issue 9): on a lent GPU machine (one H100 or H200,
# x86-64, nvcc 13, cmake, ninja, compute-sanitizer, PyTorch; no apt, no
# network), in one call of at most 8 minutes:
#   1. unpack the .deb files of .deps/ (profiling/gpu_deps.sh fetched them on
#      the development machine) into a prefix, with dpkg-deb -x;
#   2. find cuDNN and cuBLAS: in the CUDA toolkit, else in PyTorch's pip
#      packages (versioned .so.N files only: a folder of unversioned symlinks
#      and their headers stands in for an install);
#   3. configure (Release, CUDA ON for sm_90, MPI/NCCL off, benchmarks off
#      unless Google Benchmark was carried) with the prefix first on
#      CMAKE_PREFIX_PATH, check every dependency resolved inside the prefix,
#      build, and check again in the dependency log and the linked binary;
#   4. run the `gpu` ctest suites under compute-sanitizer memcheck; time
#      `lyre bench --backend cuda`, then `lyre bench --backend cuda --study`;
#      run profiling/pytorch_reference.py --device cuda --folds 5; then the
#      `cpu` suites if time is left (optional);
#   5. write ${OUT:-gpu-check-out}/gpu_check.json (device, driver, CUDA and
#      cuDNN versions, build seconds, test counts, sanitizer errors, lyre's and
#      PyTorch's figures as printed, their ratio, every step's status) and the
#      logs beside it (7 files: the device tool brings back at most 8), then
#      print a summary table.
# Every step runs under `timeout`, boxed so the whole run ends inside the
# budget even when one hangs (later steps keep the time they need); a step
# that fails or times out is recorded and the rest goes on where it can.
# Exit status: 0 when every step passed, 1 otherwise.
#
# On the device (the `run` tool), after `profiling/gpu_deps.sh` here:
#   command: bash profiling/gpu_check.sh      carry: [".deps"]      timeout_s: 540
#
# Dry run, on a machine without a GPU (`--dry-run`, or LYRE_GPU_CHECK_NO_DEVICE=1):
# everything that needs no GPU, for real: unpack .deps/ into a temporary
# prefix, configure and build with it first on CMAKE_PREFIX_PATH and the same
# checks that nothing came from /usr, run the `gpu` suites (they skip without
# a device) and the `cpu` suites against the prefix's libraries; the bench and
# the PyTorch script run on the CPU with a few hundred songs (to check their
# JSON is read), the study not at all. Build with 2 jobs by default.
#   profiling/gpu_check.sh --dry-run
#
# Settings (environment):
#   OUT                          where gpu_check.json and the logs go (default gpu-check-out)
#   LYRE_GPU_CHECK_BUDGET_S      seconds for the whole run (470; dry run 1800)
#   LYRE_GPU_CHECK_JOBS          build jobs (nproc; dry run 2)
#   LYRE_GPU_CHECK_BUILD         build folder (build/gpu-check)
#   LYRE_GPU_CHECK_PREFIX        where the .debs are unpacked (/tmp/lyre-deps; dry run /tmp/lyre-deps-dry-run)
#   LYRE_GPU_CHECK_DEPS          the .deb folder (.deps)
#   LYRE_GPU_CHECK_CUDA_LIBS     auto | toolkit | pip: where cuDNN and cuBLAS come from (auto)
#   LYRE_GPU_CHECK_NVIDIA_DIR    pip's `nvidia` folder (default: asked of python3)
#   LYRE_GPU_CHECK_UNPACK        dpkg | ar: how .debs are unpacked (dpkg when dpkg-deb exists)
# To exercise the pip path on a machine whose toolkit has cuDNN and cuBLAS,
# lay out a fake `nvidia` folder of versioned-only symlinks (nvidia/cudnn/
# {include,lib}, nvidia/cu13/{include,lib}, as the CUDA 13 wheels do) and run
# with LYRE_GPU_CHECK_CUDA_LIBS=pip LYRE_GPU_CHECK_NVIDIA_DIR=that/nvidia.

# The step functions run through `bash -c` (exported), which shellcheck cannot follow.
# shellcheck disable=SC2317
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

dry_run=0
case ${LYRE_GPU_CHECK_NO_DEVICE:-0} in 1 | true | yes) dry_run=1 ;; esac
for arg in "$@"; do
  case $arg in
    --dry-run) dry_run=1 ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$dry_run" = 1 ]; then
  budget=${LYRE_GPU_CHECK_BUDGET_S:-1800}
  jobs=${LYRE_GPU_CHECK_JOBS:-2}
  prefix=${LYRE_GPU_CHECK_PREFIX:-/tmp/lyre-deps-dry-run}
  mode=dry-run
  build_cap=1500      # 2 shared cores build everything in several minutes
  test_cpu_cap=900    # and run the ~390 CPU tests in a few
else
  budget=${LYRE_GPU_CHECK_BUDGET_S:-470}
  jobs=${LYRE_GPU_CHECK_JOBS:-$(nproc)}
  prefix=${LYRE_GPU_CHECK_PREFIX:-/tmp/lyre-deps}
  mode=gpu
  build_cap=420
  test_cpu_cap=120
fi
build=${LYRE_GPU_CHECK_BUILD:-$root/build/gpu-check}
deps_dir=${LYRE_GPU_CHECK_DEPS:-$root/.deps}
cuda_libs=${LYRE_GPU_CHECK_CUDA_LIBS:-auto}
case $cuda_libs in auto | toolkit | pip) ;; *) echo "gpu_check: LYRE_GPU_CHECK_CUDA_LIBS must be auto, toolkit or pip" >&2; exit 2 ;; esac
arch=x86_64-linux-gnu
shim=$prefix/cuda-shim   # fixed path: a rebuild with the same prefix stays incremental

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  out=$(cd "$OUT" && pwd)
else
  mkdir -p gpu-check-out
  out=$root/gpu-check-out
  echo '*' >"$out/.gitignore"   # the default folder sits in the checkout: keep it out of git
fi
work=$(mktemp -d /tmp/lyre-gpu-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
main_log=$out/gpu_check.log
build_log=$out/build.log
: >"$main_log"
: >"$build_log"
for f in test_gpu.log test_cpu.log bench.log pytorch.log gpu_check.json; do rm -f "$out/$f"; done

# The steps run in child shells (so `timeout` can stop them and everything they
# started); what they need from here goes through the environment, and what
# they find comes back through files in $work.
orig_ld_library_path=${LD_LIBRARY_PATH:-}
export root dry_run mode jobs prefix build deps_dir cuda_libs arch shim out work orig_ld_library_path
export LYRE_GPU_CHECK_NVIDIA_DIR=${LYRE_GPU_CHECK_NVIDIA_DIR:-}
export LYRE_GPU_CHECK_UNPACK=${LYRE_GPU_CHECK_UNPACK:-}

say() { echo "gpu_check: $*" | tee -a "$main_log" >&2; }
start_epoch=$(date +%s)
deadline=$((SECONDS + budget))
steps_tsv=$work/steps.tsv
: >"$steps_tsv"
declare -A status_of=()

record() {  # name status seconds time_box log reason
  status_of[$1]=$2
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$steps_tsv"
}

# run_step NAME CAP RESERVE LOG FUNCTION: FUNCTION in a child bash under
# timeout, boxed to CAP seconds and to what is left of the budget once RESERVE
# seconds are kept for the steps after it.
run_step() {
  local name=$1 cap=$2 reserve=$3 log=$4 fn=$5
  local left=$((deadline - SECONDS - reserve)) box=$cap
  ((left < box)) && box=$left
  if ((box < 5)); then
    say "$name: not run, out of time (${reserve}s kept for later steps)"
    record "$name" skipped 0 0 "$(basename "$log")" "out of time"
    return 1
  fi
  say "$name: running (time box ${box}s; log $(basename "$log"))"
  printf '\n===== %s (time box %ss) =====\n' "$name" "$box" >>"$log"
  local start=$EPOCHREALTIME rc=0
  timeout --kill-after=10 "$box" bash -c 'set -euo pipefail; "$@"' _ "$fn" >>"$log" 2>&1 || rc=$?
  local secs
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
  local status=ok reason=""
  case $rc in
    0) ;;
    124 | 137) status=timeout reason="stopped after its ${box}s time box" ;;
    *) status=failed reason="exit $rc" ;;
  esac
  if [ "$status" != ok ]; then
    # The reason a person reads first: the step's last lines (they also reach
    # the device tool's output tail through the summary).
    tail -n 12 "$log" | sed 's/^/    /' >"$work/tail.$name"
  fi
  record "$name" "$status" "$secs" "$box" "$(basename "$log")" "$reason"
  say "$name: $status in ${secs}s${reason:+ ($reason)}"
  [ "$status" = ok ]
}

# not_run NAME LOG REASON: a step that cannot or need not run (recorded as skipped).
not_run() { record "$1" skipped 0 0 "$(basename "$2")" "$3"; say "$1: not run ($3)"; }

needs() {  # needs STEP...: true when every STEP passed
  local s
  for s in "$@"; do [ "${status_of[$s]:-}" = ok ] || return 1; done
}

# ---------------------------------------------------------------------------
# Steps (each runs in its own bash; set -euo pipefail is on)
# ---------------------------------------------------------------------------

# Shared by the steps that run what was built: the prefix's libraries (the
# transitive ones, libgfortran for OpenBLAS, are not on any RUNPATH) and the
# CUDA libraries found by cuda_libs.
lyre_env() {
  local extra=""
  [ -f "$work/ld_paths" ] && extra=$(paste -sd: "$work/ld_paths")
  export LD_LIBRARY_PATH="$prefix/usr/lib/$arch${extra:+:$extra}${orig_ld_library_path:+:$orig_ld_library_path}"
}

pick_python() {  # the python3 with torch (the device's venv), else any python3
  local p
  for p in python3 /usr/bin/python3; do
    command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' 2>/dev/null && { command -v "$p"; return; }
  done
  command -v python3 || command -v /usr/bin/python3 || true
}

kv() { printf '%s=%s\n' "$1" "$2" >>"$work/info.env"; }

step_info() {
  kv os "$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || uname -s)"
  kv kernel "$(uname -r)"
  kv cpus "$(nproc)"
  kv host "$(hostname)"
  kv gxx "$(g++ --version 2>/dev/null | head -1 || echo missing)"
  kv cmake "$(cmake --version 2>/dev/null | head -1 || echo missing)"
  kv ninja "$(ninja --version 2>/dev/null || echo missing)"
  kv nvcc "$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p' || true)"
  local py
  py=$(pick_python)
  kv python "${py:-missing}"
  if [ -n "$py" ]; then
    kv torch "$("$py" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), sep="|")' 2>/dev/null || echo none)"
  fi
  cat "$work/info.env"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi || true
    kv gpu "$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null | head -1)"
    kv driver_cuda "$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)"
  elif [ "$dry_run" = 1 ]; then
    echo "nvidia-smi: not here (dry run)"
  else
    echo "nvidia-smi not found: is this the GPU machine?"
    return 1
  fi
  local missing=""
  for t in g++ cmake ninja nvcc; do command -v "$t" >/dev/null 2>&1 || missing+=" $t"; done
  [ -z "$missing" ] || { echo "missing on PATH:$missing"; return 1; }
}

step_deps() {
  ls "$deps_dir"/*.deb >/dev/null 2>&1 || {
    echo "no .deb files in $deps_dir: run profiling/gpu_deps.sh (make gpu-deps) on the development"
    echo "machine first, and carry the folder: carry: [\".deps\"]"
    return 1
  }
  if [ -f "$deps_dir/MANIFEST.txt" ]; then  # what gpu_deps.sh wrote, checked byte for byte
    awk 'NR > 1 && NF >= 5 {print $4 "  " $5}' "$deps_dir/MANIFEST.txt" | (cd "$deps_dir" && sha256sum -c --quiet -)
  fi
  rm -rf "$prefix"
  mkdir -p "$prefix"
  local how=${LYRE_GPU_CHECK_UNPACK:-}
  if [ -z "$how" ]; then
    how="ar"
    command -v dpkg-deb >/dev/null && how=dpkg
  fi
  local f n=0
  for f in "$deps_dir"/*.deb; do
    if [ "$how" = dpkg ]; then
      dpkg-deb -x "$f" "$prefix"
    else  # no dpkg: a .deb is an ar archive around data.tar.*
      local t
      t=$(mktemp -d "$work/deb.XXXXXX")
      (cd "$t" && ar x "$f" && tar -xf data.tar.* -C "$prefix")
      rm -rf "$t"
    fi
    n=$((n + 1))
  done
  echo "unpacked $n .deb files into $prefix ($how)"
  # dpkg -x runs no maintainer scripts, so OpenBLAS's alternatives (what
  # makes openblas-openmp/ the system's libopenblas, libblas and cblas.h) are
  # missing: make the same links inside the prefix.
  local lib=$prefix/usr/lib/$arch l
  for l in libopenblas.so libopenblas.so.0 libblas.so libblas.so.3 liblapack.so liblapack.so.3; do
    [ -e "$lib/openblas-openmp/$l" ] && ln -sfn "openblas-openmp/$l" "$lib/$l"
  done
  [ -e "$prefix/usr/include/$arch/openblas-openmp/cblas.h" ] &&
    ln -sfn openblas-openmp/cblas.h "$prefix/usr/include/$arch/cblas.h"
  # Every file the build looks for, with the package that holds it.
  local missing=0 want
  while read -r want pkg; do
    [ -e "$prefix/$want" ] || { echo "missing in the prefix: /$want (package $pkg)"; missing=1; }
  done <<EOF
usr/lib/$arch/cmake/yaml-cpp/yaml-cpp-config.cmake libyaml-cpp-dev
usr/lib/$arch/libyaml-cpp.so libyaml-cpp-dev+libyaml-cpp0.7
usr/lib/$arch/cmake/fmt/fmt-config.cmake libfmt-dev
usr/lib/$arch/libfmt.so libfmt-dev+libfmt9
usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake nlohmann-json3-dev
usr/share/cmake/CLI11/CLI11Config.cmake libcli11-dev
usr/lib/$arch/cmake/GTest/GTestConfig.cmake libgtest-dev
usr/lib/$arch/libgmock.a libgmock-dev
usr/include/xxhash.h libxxhash-dev
usr/lib/$arch/libxxhash.so libxxhash-dev+libxxhash0
usr/include/boost/crc.hpp libboost1.74-dev
usr/lib/$arch/libopenblas.so.0 libopenblas0-openmp
usr/include/$arch/cblas.h libopenblas-openmp-dev
usr/lib/$arch/libgfortran.so.5 libgfortran5
usr/lib/$arch/libquadmath.so.0 libquadmath0
EOF
  # A link that leaves the prefix would quietly use (or miss) the host's copy.
  local escaping
  escaping=$(find "$prefix/usr/lib" "$prefix/usr/include" -type l \( -lname '/*' -o -xtype l \) 2>/dev/null || true)
  [ -z "$escaping" ] || { echo "links in the prefix that leave it or dangle:"; echo "$escaping"; missing=1; }
  du -sh "$prefix" | cut -f1 | sed 's/^/prefix size: /'
  return $missing
}

# cuDNN and cuBLAS: the toolkit's, or the pip packages' (through the shim).
# Writes $work/cmake_args (one argument a line), $work/ld_paths and cuda.env.
step_cuda_libs() {
  local nvcc_path tk
  nvcc_path=$(command -v nvcc) || { echo "nvcc not on PATH"; return 1; }
  tk=$(dirname "$(dirname "$(readlink -f "$nvcc_path")")")
  local tk_inc=() tk_lib=() d
  for d in "$tk/include" "$tk/targets/x86_64-linux/include" /usr/include; do [ -d "$d" ] && tk_inc+=("$d"); done
  for d in "$tk/lib64" "$tk/lib" "$tk/targets/x86_64-linux/lib" "/usr/lib/$arch"; do [ -d "$d" ] && tk_lib+=("$d"); done
  echo "toolkit: $tk (nvcc $nvcc_path)"
  first() {  # first existing NAME in the folders that follow
    local name=$1 d
    shift
    for d in "$@"; do [ -e "$d/$name" ] && { echo "$d/$name"; return 0; }; done
    return 1
  }
  local cudnn_from=toolkit cublas_from=toolkit
  if [ "$cuda_libs" = pip ]; then
    cudnn_from=pip cublas_from=pip
  else
    { first cudnn.h "${tk_inc[@]}" && first libcudnn.so "${tk_lib[@]}"; } >/dev/null || cudnn_from=pip
    { first cublas_v2.h "${tk_inc[@]}" && first libcublas.so "${tk_lib[@]}" &&
      first libcublasLt.so "${tk_lib[@]}"; } >/dev/null || cublas_from=pip
    if [ "$cuda_libs" = toolkit ] && [ "$cudnn_from$cublas_from" != toolkittoolkit ]; then
      echo "LYRE_GPU_CHECK_CUDA_LIBS=toolkit, but the toolkit lacks cuDNN ($cudnn_from) or cuBLAS ($cublas_from)"
      return 1
    fi
  fi
  printf 'cudnn_from=%s\ncublas_from=%s\ntoolkit=%s\n' "$cudnn_from" "$cublas_from" "$tk" >"$work/cuda.env"
  : >"$work/cmake_args"
  : >"$work/ld_paths"
  local nvtx_ok=0
  first nvtx3/nvToolsExt.h "${tk_inc[@]}" >/dev/null && nvtx_ok=1
  if [ "$cudnn_from$cublas_from" = toolkittoolkit ] && [ $nvtx_ok = 1 ]; then
    echo "cuDNN, cuBLAS and NVTX 3 from the toolkit: CMake finds them itself"
    return 0
  fi

  local nv=${LYRE_GPU_CHECK_NVIDIA_DIR:-}
  if [ -z "$nv" ]; then
    local py
    py=$(pick_python)
    [ -n "$py" ] || { echo "no python3 to ask where pip's nvidia packages are"; return 1; }
    nv=$("$py" -c 'import nvidia; print("\n".join(list(nvidia.__path__)))' 2>/dev/null | head -1) || true
    [ -n "$nv" ] || { echo "$py has no 'nvidia' package (the pip wheels of cuDNN and cuBLAS): set LYRE_GPU_CHECK_NVIDIA_DIR"; return 1; }
  fi
  echo "pip's nvidia packages: $nv"
  printf 'nvidia_dir=%s\n' "$nv" >>"$work/cuda.env"
  # The wheels' layout differs by CUDA major (nvidia/cudnn/{include,lib};
  # CUDA 13's nvidia/cu13/{include,lib}, earlier nvidia/cublas/...): search.
  pipfind() { find -L "$nv" -name "$1" \( -type f -o -type l \) 2>/dev/null | sort | head -1; }
  rm -rf "$shim"
  mkdir -p "$shim/include" "$shim/lib"
  # shim_lib NAME: libNAME.so.N from pip, linked in the shim under its
  # versioned name (found at run time through the RUNPATH) and unversioned
  # (found by the linker).
  shim_lib() {
    local real
    real=$(pipfind "lib$1.so.[0-9]*")
    [ -n "$real" ] || { echo "lib$1.so.N not found under $nv"; return 1; }
    ln -sfn "$real" "$shim/lib/$(basename "$real")"
    ln -sfn "$real" "$shim/lib/lib$1.so"
    dirname "$real" >>"$work/ld_paths"
    echo "  lib$1.so -> $real"
  }
  shim_headers() {  # shim_headers PATTERN FROM_DIR
    local h
    for h in "$2"/$1; do [ -e "$h" ] && ln -sfn "$h" "$shim/include/$(basename "$h")"; done
  }
  local h
  if [ $cudnn_from = pip ]; then
    h=$(pipfind cudnn.h)
    [ -n "$h" ] || { echo "cudnn.h not found under $nv (pip: nvidia-cudnn-cu13)"; return 1; }
    shim_headers 'cudnn*.h' "$(dirname "$h")"
    shim_lib cudnn
    # cuDNN 9 loads its engines (libcudnn_ops, _adv, ...) by soname at run time.
    local sub
    for sub in "$(dirname "$(pipfind 'libcudnn.so.[0-9]*')")"/libcudnn_*.so.[0-9]*; do
      [ -e "$sub" ] && ln -sfn "$sub" "$shim/lib/$(basename "$sub")"
    done
    printf -- '-DCUDNN_LIBRARY=%s\n' "$shim/lib/libcudnn.so" >>"$work/cmake_args"
  else
    shim_headers 'cudnn*.h' "$(dirname "$(first cudnn.h "${tk_inc[@]}")")"
  fi
  if [ $cublas_from = pip ]; then
    h=$(pipfind cublas_v2.h)
    [ -n "$h" ] || { echo "cublas_v2.h not found under $nv (pip: nvidia-cublas)"; return 1; }
    shim_headers 'cublas*.h' "$(dirname "$h")"
    shim_lib cublas
    shim_lib cublasLt
    # FindCUDAToolkit's CUDA::cublas looks only in the toolkit: name the files.
    printf -- '-DCUDA_cublas_LIBRARY=%s\n-DCUDA_cublasLt_LIBRARY=%s\n' \
      "$shim/lib/libcublas.so" "$shim/lib/libcublasLt.so" >>"$work/cmake_args"
  fi
  # Every target that includes cublas_v2.h or cudnn.h links lyre_cuda_libs,
  # whose include folder is CUDNN_INCLUDE_DIR: the shim's holds both.
  printf -- '-DCUDNN_INCLUDE_DIR=%s\n' "$shim/include" >>"$work/cmake_args"
  if [ $nvtx_ok = 0 ]; then
    h=$(pipfind nvToolsExt.h | grep '/nvtx3/nvToolsExt.h$' || true)
    [ -n "$h" ] || { echo "nvtx3/nvToolsExt.h is neither in the toolkit nor under $nv"; return 1; }
    printf -- '-DNVTX3_INCLUDE_DIR=%s\n' "$(dirname "$(dirname "$h")")" >>"$work/cmake_args"
  fi
  echo "$shim/lib" >>"$work/ld_paths"
  sort -u -o "$work/ld_paths" "$work/ld_paths"
  echo "shim: $shim (also CUDNN_ROOT for the configure step: cmake/LyreCuda.cmake honours it)"
  ls -l "$shim/include" "$shim/lib"
  echo "CMake arguments:"
  cat "$work/cmake_args"
}

step_configure() {
  lyre_env
  local extra=() benchmarks=OFF
  mapfile -t extra <"$work/cmake_args"
  [ -d "$prefix/usr/lib/$arch/cmake/benchmark" ] && benchmarks=ON
  # A stale cache would keep paths found by an earlier configure.
  rm -f "$build/CMakeCache.txt"
  # CMAKE_DISABLE_FIND_PACKAGE_OpenBLAS: Debian's OpenBLASConfig.cmake names
  # /usr outright, so the prefix's OpenBLAS is found through FindBLAS instead.
  [ -d "$shim" ] && export CUDNN_ROOT=$shim
  (set -x
   cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DLYRE_WITH_CUDA=ON -DLYRE_WITH_MPI=OFF -DLYRE_WITH_NCCL=OFF \
    -DLYRE_BUILD_TESTS=ON -DLYRE_BUILD_BENCHMARKS=$benchmarks \
    -DCMAKE_CUDA_ARCHITECTURES=90 \
    "-DCMAKE_PREFIX_PATH=$prefix/usr" \
    -DCMAKE_DISABLE_FIND_PACKAGE_OpenBLAS=ON \
    "${extra[@]}")
}

# Every dependency CMake found must lie in the prefix (the host's /usr has
# them all on the development machine, so a miss would pass there unseen).
step_check_config() {
  local cache=$build/CMakeCache.txt bad=0 var val
  # FindBLAS caches OpenBLAS as BLAS_<name>_LIBRARY (BLAS_openblas_LIBRARY in 3.25).
  local blas_var
  blas_var=$(grep -oE '^BLAS_[A-Za-z0-9_]*openblas[A-Za-z0-9_]*_LIBRARY' "$cache" | head -1 || true)
  for var in yaml-cpp_DIR fmt_DIR nlohmann_json_DIR CLI11_DIR GTest_DIR XXHASH_INCLUDE_DIR XXHASH_LIBRARY \
             BOOST_CRC_INCLUDE_DIR "${blas_var:-BLAS_openblas_LIBRARY}" CBLAS_INCLUDE_DIR; do
    val=$(sed -n "s/^$var:[A-Z]*=//p" "$cache")
    if [[ $val == "$prefix"/* ]]; then
      printf '  ok       %-22s %s\n' "$var" "$val"
    else
      printf '  OUTSIDE  %-22s %s\n' "$var" "${val:-<not set>}"
      bad=1
    fi
  done
  for var in CUDNN_INCLUDE_DIR CUDNN_LIBRARY NVTX3_INCLUDE_DIR CUDA_cublas_LIBRARY CUDA_cublasLt_LIBRARY \
             CUDA_cudart_LIBRARY CMAKE_CUDA_COMPILER CMAKE_CXX_COMPILER; do
    printf '  cuda     %-22s %s\n' "$var" "$(sed -n "s/^$var:[A-Z]*=//p" "$cache")"
  done
  if grep -q '^cudnn_from=pip' "$work/cuda.env"; then
    [[ $(sed -n 's/^CUDNN_LIBRARY:[A-Z]*=//p' "$cache") == "$shim"/* ]] || { echo "CUDNN_LIBRARY is not the shim's"; bad=1; }
  fi
  if grep -q '^cublas_from=pip' "$work/cuda.env"; then
    [[ $(sed -n 's/^CUDA_cublas_LIBRARY:[A-Z]*=//p' "$cache") == "$shim"/* ]] || { echo "CUDA_cublas_LIBRARY is not the shim's"; bad=1; }
  fi
  return $bad
}

step_build() {
  lyre_env
  cmake --build "$build" -j "$jobs"
}

# After the build: which headers the compilers actually read (ninja's
# dependency log), what the link lines name, and what the loader picks.
step_check_build() {
  lyre_env
  local bad=0 sys
  sys=$(ninja -C "$build" -t deps 2>/dev/null |
        grep -E '^[[:space:]]+/usr/(local/)?include/((yaml-cpp|fmt|nlohmann|CLI|boost|gtest|gmock)/|xxhash\.h|'"$arch"'/(cblas|openblas))' |
        sort -u | head -20 || true)
  if [ -n "$sys" ]; then echo "headers read from the host instead of the prefix:"; echo "$sys"; bad=1
  else echo "headers: none of the dependencies' headers came from /usr"; fi
  sys=$(grep -ohE '(^|[[:space:]])(/usr/lib/'"$arch"'/|-l)(lib)?(yaml-cpp|fmt|xxhash|openblas|blas|gtest|gmock)[^[:space:]]*' \
        "$build/build.ninja" | sort -u || true)
  if [ -n "$sys" ]; then echo "link lines naming the host's libraries:"; echo "$sys"; bad=1
  else echo "link lines: no host copy of a dependency"; fi
  # From pip, cudnn.h and cublas_v2.h must be the shim's, not a toolkit copy
  # found first. (GCC records system headers by their real path, so the
  # shim's links show as their targets.)
  local h want got
  for h in cudnn.h cublas_v2.h; do
    [ -e "$shim/include/$h" ] || continue
    want=$(readlink -f "$shim/include/$h")
    got=$(ninja -C "$build" -t deps 2>/dev/null | grep -E "^[[:space:]]+[^[:space:]]*/$h\$" | sed 's/^[[:space:]]*//' | sort -u)
    if [ -n "$got" ] && [ "$got" != "$want" ] && [ "$got" != "$shim/include/$h" ]; then
      echo "$h was read from $(echo "$got" | tr '\n' ' ')instead of the shim's ($want)"; bad=1
    else
      echo "headers: $h is the shim's ($want)"
    fi
  done
  local lib line
  for lib in yaml-cpp fmt xxhash openblas gfortran cudnn cublas cublasLt cudart; do
    line=$(ldd "$build/lyre" | grep -E "lib$lib\.so" | head -1 || true)
    [ -n "$line" ] || continue
    printf '  %-9s %s\n' "$lib" "$(echo "$line" | sed 's/^[[:space:]]*//')"
    case $lib in
      yaml-cpp | fmt | xxhash | openblas | gfortran)
        [[ $line == *"=> $prefix/"* ]] || { echo "    ^ not from the prefix"; bad=1; } ;;
    esac
  done
  if ldd "$build/lyre" | grep -q 'not found'; then ldd "$build/lyre" | grep 'not found'; bad=1; fi
  return $bad
}

# The gpu suites under compute-sanitizer memcheck (as `make test-gpu`); in a
# dry run without it (there is no device to check), where they skip.
step_test_gpu() {
  lyre_env
  local san="" tk
  tk=$(sed -n 's/^toolkit=//p' "$work/cuda.env" 2>/dev/null || true)
  if [ "$dry_run" = 0 ]; then
    san=$(command -v compute-sanitizer || true)
    for c in "$tk/bin/compute-sanitizer" "$tk/compute-sanitizer/compute-sanitizer"; do
      [ -z "$san" ] && [ -x "$c" ] && san=$c
    done
    [ -n "$san" ] || { echo "compute-sanitizer not found (PATH, $tk/bin, $tk/compute-sanitizer)"; echo none >"$work/sanitizer"; return 1; }
  fi
  echo "${san:-none}" >"$work/sanitizer"
  local cmd=(ctest --test-dir "$build" -L gpu --no-tests=error --output-on-failure
             -j 4 --timeout 150 --output-junit "$work/junit_gpu.xml")
  if [ -n "$san" ]; then
    (set -x; "$san" --tool memcheck --target-processes all --error-exitcode 1 "${cmd[@]}")
  else
    (set -x; "${cmd[@]}")
  fi
}

step_test_cpu() {
  lyre_env
  (set -x; ctest --test-dir "$build" -L cpu --output-on-failure -j "$jobs" --timeout 150 \
     --output-junit "$work/junit_cpu.xml")
}

bench_backend_args() {
  if [ "$dry_run" = 1 ]; then echo "--backend cpu --songs 200 --threads $jobs"; else echo "--backend cuda"; fi
}

step_bench() {
  lyre_env
  # shellcheck disable=SC2046
  (set -x; "$build/lyre" bench $(bench_backend_args) --json "$work/bench.json")
}

step_bench_study() {
  lyre_env
  # shellcheck disable=SC2046
  (set -x; "$build/lyre" bench $(bench_backend_args) --study --json "$work/bench_study.json")
}

step_pytorch() {
  # PyTorch with the machine's own library path: the prefix's libgfortran and
  # the shim are for Lyre's binaries only.
  if [ -n "$orig_ld_library_path" ]; then export LD_LIBRARY_PATH=$orig_ld_library_path; else unset LD_LIBRARY_PATH; fi
  local py
  py=$(pick_python)
  [ -n "$py" ] && "$py" -c 'import torch' 2>/dev/null || { echo "no python3 with torch"; return 1; }
  local args=(--device cuda --folds 5)
  # (400 songs: the script times from its third batch on, so it needs more than two.)
  [ "$dry_run" = 1 ] && args=(--device cpu --folds 1 --songs 400 --threads "$jobs")
  (set -x; "$py" "$root/profiling/pytorch_reference.py" "${args[@]}" >"$work/pytorch.json")
  cat "$work/pytorch.json"
}

export -f lyre_env pick_python kv step_info step_deps step_cuda_libs step_configure step_check_config \
  step_build step_check_build step_test_gpu step_test_cpu bench_backend_args step_bench step_bench_study step_pytorch

# ---------------------------------------------------------------------------
# The run. Caps are each step's own limit; reserves keep time for what follows
# (bench 45 s, study 75 s, PyTorch 60 s; tests at least 60 s after a build).
# ---------------------------------------------------------------------------
say "mode $mode, budget ${budget}s, $jobs build jobs, prefix $prefix, build $build, out $out"
run_step info 30 0 "$main_log" step_info || true
run_step deps 120 0 "$main_log" step_deps || true
run_step cuda-libs 30 0 "$main_log" step_cuda_libs || true
if needs deps cuda-libs; then
  run_step configure 120 300 "$build_log" step_configure || true
else
  not_run configure "$build_log" "needs deps and cuda-libs"
fi
if needs configure; then
  run_step check-config 20 300 "$build_log" step_check_config || true
  run_step build "$build_cap" 240 "$build_log" step_build || true
else
  not_run check-config "$build_log" "needs configure"
  not_run build "$build_log" "needs configure"
fi
if needs build; then
  run_step check-build 30 200 "$build_log" step_check_build || true
  run_step test-gpu 240 180 "$out/test_gpu.log" step_test_gpu || true
  run_step bench 90 135 "$out/bench.log" step_bench || true
  if [ "$dry_run" = 1 ]; then
    not_run bench-study "$out/bench.log" "dry run: the study needs a GPU to finish in minutes"
  else
    run_step bench-study 180 60 "$out/bench.log" step_bench_study || true
  fi
else
  for s in check-build test-gpu bench; do not_run "$s" "$build_log" "needs build"; done
  if [ "$dry_run" = 1 ]; then
    not_run bench-study "$out/bench.log" "dry run: the study needs a GPU to finish in minutes"
  else
    not_run bench-study "$out/bench.log" "needs build"
  fi
fi
if [ "$dry_run" = 1 ] && ! { p=$(pick_python); [ -n "$p" ] && "$p" -c 'import torch' 2>/dev/null; }; then
  not_run pytorch "$out/pytorch.log" "dry run: no python3 with torch here"
else
  run_step pytorch 120 0 "$out/pytorch.log" step_pytorch || true
fi
if needs build; then
  run_step test-cpu "$test_cpu_cap" 0 "$out/test_cpu.log" step_test_cpu || true
else
  not_run test-cpu "$out/test_cpu.log" "needs build"
fi

# ---------------------------------------------------------------------------
# gpu_check.json and the summary
# ---------------------------------------------------------------------------
export start_epoch build_log
py=$(command -v python3 || command -v /usr/bin/python3 || true)
if [ -z "$py" ]; then
  say "no python3: cannot write gpu_check.json"
  exit 1
fi
rc=0
timeout 60 "$py" - "$steps_tsv" <<'PY' 2>&1 | tee -a "$main_log" || rc=$?
import json, os, re, sys, time
import xml.etree.ElementTree as ET

env = os.environ
work, out, build, mode = env["work"], env["out"], env["build"], env["mode"]
dry = mode == "dry-run"

def read_kv(path):
    d = {}
    if os.path.exists(path):
        for line in open(path, encoding="utf-8", errors="replace"):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d

def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def cache_value(name):
    path = os.path.join(build, "CMakeCache.txt")
    if by_name.get("configure", {}).get("status") != "ok" or not os.path.exists(path):
        return None  # an earlier run's cache says nothing about this one
    for line in open(path, errors="replace"):
        m = re.match(r"^%s:[A-Z]+=(.*)$" % re.escape(name), line)
        if m:
            return m.group(1)
    return None

def header_version(folder, header, names):
    try:
        text = open(os.path.join(folder, header)).read()
    except (OSError, TypeError):
        return None
    parts = []
    for n in names:
        m = re.search(r"#define\s+%s\s+(\d+)" % n, text)
        if not m:
            return None
        parts.append(m.group(1))
    return ".".join(parts)

def junit_counts(path):
    if not os.path.exists(path):
        return None
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed = []
    for case in ET.parse(path).getroot().iter("testcase"):
        status = case.get("status", "run")
        if status == "run" and case.find("failure") is None:
            counts["passed"] += 1
        elif status in ("notrun", "disabled") or case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
            failed.append(case.get("name"))
    counts["total"] = sum(counts.values())
    counts["failed_tests"] = failed
    return counts

steps = []
for line in open(sys.argv[1]):
    name, status, secs, box, log, reason = line.rstrip("\n").split("\t")
    steps.append({"name": name, "status": status, "seconds": float(secs), "time_box_s": int(box),
                  "log": log, "reason": reason})
by_name = {s["name"]: s for s in steps}
# Steps a dry run leaves out by design, and the optional CPU suites, fail nothing.
optional = {"test-cpu"}
failed = [s["name"] for s in steps
          if s["status"] != "ok" and s["name"] not in optional and not s["reason"].startswith("dry run")]

info = read_kv(os.path.join(work, "info.env"))
cuda = read_kv(os.path.join(work, "cuda.env"))
gpu_fields = [f.strip() for f in info.get("gpu", "").split(",")] if info.get("gpu") else []
torch_fields = info.get("torch", "none").split("|")

cudnn_inc = cache_value("CUDNN_INCLUDE_DIR")
cudnn_ver = header_version(cudnn_inc, "cudnn_version.h", ["CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"])
cublas_ver = None
for folder in filter(None, [cudnn_inc, os.path.join(cuda.get("toolkit", "/nonexistent"), "include")]):
    cublas_ver = header_version(folder, "cublas_api.h", ["CUBLAS_VER_MAJOR", "CUBLAS_VER_MINOR", "CUBLAS_VER_PATCH"])
    if cublas_ver:
        break

tests_gpu = junit_counts(os.path.join(work, "junit_gpu.xml"))
sanitizer = open(os.path.join(work, "sanitizer")).read().strip() if os.path.exists(os.path.join(work, "sanitizer")) else None
if tests_gpu is not None:
    log = os.path.join(out, "test_gpu.log")
    summaries = re.findall(r"ERROR SUMMARY: (\d+) error", open(log, errors="replace").read()) if os.path.exists(log) else []
    tests_gpu["sanitizer"] = "memcheck" if sanitizer and sanitizer != "none" else "none"
    tests_gpu["sanitizer_processes"] = len(summaries)
    tests_gpu["sanitizer_errors"] = sum(int(n) for n in summaries) if summaries else None
tests_cpu = junit_counts(os.path.join(work, "junit_cpu.xml"))

bench = read_json(os.path.join(work, "bench.json"))
study = read_json(os.path.join(work, "bench_study.json"))
torch_fig = read_json(os.path.join(work, "pytorch.json"))

def sps(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d

ratios = {}
pt = sps(torch_fig, "songs_per_second")
if pt:
    for label, src in (("lyre_folds_concurrent_over_pytorch", sps(bench, "folds_concurrent", "songs_per_second")),
                       ("lyre_one_fold_over_pytorch", sps(bench, "one_fold", "songs_per_second"))):
        if src:
            ratios[label] = round(src / pt, 3)
study_wall = sps(study, "study", "wall_seconds")
targets = {
    "study_under_20_s": (study_wall < 20) if study_wall is not None else None,
    "at_least_10x_pytorch": (ratios["lyre_folds_concurrent_over_pytorch"] >= 10)
                             if "lyre_folds_concurrent_over_pytorch" in ratios else None,
}

def secs(name):
    s = by_name.get(name)
    return s["seconds"] if s and s["status"] == "ok" else None

result = {
    "schema": "lyre-gpu-check/1",
    "mode": mode,
    "ok": not failed,
    "failed_steps": failed,
    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(env["start_epoch"]))),
    "wall_seconds": round(time.time() - int(env["start_epoch"]), 1),
    "host": info.get("host"),
    "device": {
        "name": gpu_fields[0] if len(gpu_fields) > 0 else None,
        "driver": gpu_fields[1] if len(gpu_fields) > 1 else None,
        "memory_total": gpu_fields[2] if len(gpu_fields) > 2 else None,
        "compute_capability": gpu_fields[3] if len(gpu_fields) > 3 else None,
        "driver_cuda": info.get("driver_cuda") or None,
    },
    "toolchain": {k: info.get(k) for k in ("os", "kernel", "cpus", "gxx", "cmake", "ninja", "nvcc", "python")},
    "cuda_libraries": {
        "toolkit": cuda.get("toolkit"),
        "cudnn_from": cuda.get("cudnn_from"), "cudnn_version": cudnn_ver,
        "cudnn_include": cudnn_inc, "cudnn_library": cache_value("CUDNN_LIBRARY"),
        "cublas_from": cuda.get("cublas_from"), "cublas_version": cublas_ver,
        "cublas_library": cache_value("CUDA_cublas_LIBRARY"),
        "pip_nvidia_dir": cuda.get("nvidia_dir"),
    },
    "torch": {"version": torch_fields[0] if torch_fields[0] != "none" else None,
              "cuda": torch_fields[1] if len(torch_fields) > 1 else None,
              "cudnn": torch_fields[2] if len(torch_fields) > 2 else None},
    "build": {"configure_seconds": secs("configure"), "build_seconds": secs("build"),
              "jobs": int(env["jobs"]), "dir": build, "prefix": env["prefix"],
              "cuda_architectures": cache_value("CMAKE_CUDA_ARCHITECTURES")},
    "tests_gpu": tests_gpu,
    "tests_cpu": tests_cpu,
    "lyre_bench": bench,
    "lyre_bench_study": study,
    "pytorch": torch_fig,
    "ratios": ratios,
    "targets": targets,
    "steps": steps,
}
if dry:
    result["note"] = ("dry run without a GPU: the bench and PyTorch figures are CPU stand-ins "
                      "(a few hundred songs) that check the plumbing, not measurements")
with open(os.path.join(out, "gpu_check.json"), "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")

print()
print(f"{'step':<13} {'status':<8} {'seconds':>8}  note")
for s in steps:
    print(f"{s['name']:<13} {s['status']:<8} {s['seconds']:>8.1f}  {s['reason']}")
def fmt(v, spec=",.0f"):
    return format(v, spec) if isinstance(v, (int, float)) else "-"
print()
print(f"device        {result['device']['name'] or '-'} (driver {result['device']['driver'] or '-'}, "
      f"CUDA {info.get('nvcc') or '-'}, cuDNN {cudnn_ver or '-'} from {cuda.get('cudnn_from') or '-'}, "
      f"cuBLAS {cublas_ver or '-'} from {cuda.get('cublas_from') or '-'})")
print(f"build         configure {fmt(secs('configure'), '.1f')} s, build {fmt(secs('build'), '.1f')} s, {env['jobs']} jobs")
if tests_gpu:
    print(f"gpu tests     {tests_gpu['passed']} passed, {tests_gpu['failed']} failed, {tests_gpu['skipped']} skipped; "
          f"sanitizer {tests_gpu['sanitizer']}: {tests_gpu['sanitizer_errors'] if tests_gpu['sanitizer_errors'] is not None else '-'} errors")
if tests_cpu:
    print(f"cpu tests     {tests_cpu['passed']} passed, {tests_cpu['failed']} failed, {tests_cpu['skipped']} skipped")
print(f"lyre          one fold {fmt(sps(bench, 'one_fold', 'songs_per_second'))} songs/s, "
      f"{fmt(sps(bench, 'folds_concurrent', 'folds'), 'd')} folds concurrently "
      f"{fmt(sps(bench, 'folds_concurrent', 'songs_per_second'))} songs/s "
      f"({fmt(sps(bench, 'folds_concurrent', 'tokens_per_second'))} tokens/s)")
print(f"study         {fmt(study_wall, '.1f')} s wall (target < 20 s), test accuracy "
      f"{fmt(sps(study, 'study', 'test_accuracy'), '.3f')}")
print(f"pytorch       {fmt(pt)} songs/s ({fmt(sps(torch_fig, 'folds'), 'd')} folds one after another)")
print(f"ratio         {ratios.get('lyre_folds_concurrent_over_pytorch', '-')}x concurrent folds / PyTorch (target >= 10), "
      f"{ratios.get('lyre_one_fold_over_pytorch', '-')}x one fold / PyTorch")
if dry:
    print("(dry run: CPU stand-in figures, not measurements)")
print(f"result        {'OK' if not failed else 'FAILED: ' + ', '.join(failed)}  ->  {os.path.join(out, 'gpu_check.json')}")
sys.exit(0 if not failed else 1)
PY
for f in "$work"/tail.*; do
  [ -e "$f" ] || continue
  echo "--- last lines of ${f##*/tail.} ---"
  cat "$f"
done | tee -a "$main_log" >&2
exit $((rc == 0 ? 0 : 1))
