#!/usr/bin/env bash
# Installs the Debian packages Lyre builds with, when they are missing and we
# may (root with apt-get). Never insists: where a library was provided another
# way (a prefix on CMAKE_PREFIX_PATH, a module system), CMake finds it and
# reports clearly if it does not. Extra packages to install may follow as
# arguments (.ci/run adds the Slurm daemons its cluster test starts).
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libyaml-cpp-dev            # experiment configs
  libgtest-dev libgmock-dev  # tests
  libbenchmark-dev           # profiling/ benchmarks
  libopenblas-openmp-dev     # CPU matrix products (OpenMP flavour, shares our thread pool)
  nlohmann-json3-dev         # reports, metrics, manifests
  libxxhash-dev              # checksums
  libcli11-dev               # command line
  libfmt-dev                 # formatting
  libboost-dev               # Boost.CRC (header-only): CRC-32C of TensorBoard event files
  libopenmpi-dev openmpi-bin # data-parallel training over MPI (mpirun for the `mpi` tests)
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "lyre: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "lyre: apt-get could not install ${missing[*]}; continuing, CMake will say what is missing" >&2
else
  echo "lyre: packages not installed through dpkg: ${missing[*]}" >&2
  echo "lyre: (install them with apt-get as root, or put their prefix on CMAKE_PREFIX_PATH)" >&2
fi
