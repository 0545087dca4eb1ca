#!/usr/bin/env bash
# Fetches, on this (Debian, amd64) machine, the .deb files that
# profiling/gpu_check.sh unpacks on a lent GPU machine, into the git-ignored
# folder .deps/ that the device tool carries there (`carry: [".deps"]`).
#
#   profiling/gpu_deps.sh [EXTRA_PACKAGE...]   # or: make gpu-deps
#
# EXTRA packages are added to the list (libbenchmark-dev, say: gpu_check.sh
# then builds profiling/'s benchmarks too).
#
# Why: the GPU machine has nvcc, cmake, ninja, g++ and PyTorch but none of the
# libraries of .ci/deps.sh, and no package registry to fetch them from. So the
# -dev packages the engine, the tests and `lyre` build with travel as .deb
# files, with the shared libraries they link at run time (followed through
# their Depends), and are unpacked with `dpkg -x` into a prefix there.
#
# Left out on purpose: the toolchain's own runtime, which any machine with g++
# has (libc6, libgcc-s1, libstdc++6, libgomp1, gcc-N-base, libstdc++-N-dev);
# googletest (the sources; libgtest-dev ships prebuilt static libraries);
# Google Benchmark and MPI (gpu_check.sh builds with both off).
#
# Everything carried must fit the device tool's 64 MiB (working tree included),
# so more than LYRE_GPU_DEPS_LIMIT_MIB (default 56) is refused and .deps/ is
# left as it was.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.deps
limit_mib=${LYRE_GPU_DEPS_LIMIT_MIB:-56}

# What the build needs, as in .ci/deps.sh (the lines the engine, the tests and
# `lyre` use); libboost1.74-dev is the real package behind libboost-dev, the
# only one in bookworm that holds boost/crc.hpp.
dev_packages=(
  libyaml-cpp-dev
  libgtest-dev libgmock-dev   # GTestTargets.cmake names libgmock.a too: both or neither
  libopenblas-openmp-dev
  nlohmann-json3-dev
  libxxhash-dev
  libcli11-dev
  libfmt-dev
  libboost1.74-dev
  "$@"
)
# Dependencies the GPU machine has already (see the header); a regex on names.
present_re='^(libc6|libgcc-s1|libstdc\+\+6|libgomp1|gcc-[0-9]+-base|libstdc\+\+-[0-9]+-dev|googletest)$'

die() { echo "gpu_deps: $*" >&2; exit 1; }

command -v apt-get >/dev/null && command -v apt-cache >/dev/null && command -v dpkg-deb >/dev/null ||
  die "needs apt-get, apt-cache and dpkg-deb (a Debian machine)"
[ "$(dpkg --print-architecture)" = amd64 ] ||
  die "this machine is $(dpkg --print-architecture); the GPU machine is amd64 (x86-64): run this on an amd64 Debian"

# apt-cache knows nothing before the first `apt-get update`: update only then
# (or when a package has no candidate), as root.
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
if [ -z "$(candidate "${dev_packages[0]}")" ] || [ "$(candidate "${dev_packages[0]}")" = "(none)" ]; then
  [ "$(id -u)" -eq 0 ] || die "apt's package lists are empty; run as root (for apt-get update)"
  echo "gpu_deps: apt-get update" >&2
  apt-get update -qq
fi

# Follow Depends (first of each alternative, version constraints dropped) from
# the -dev packages, stopping at what the GPU machine has.
declare -A seen=()
queue=("${dev_packages[@]}")
packages=()
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  [[ $p =~ $present_re ]] && continue
  c=$(candidate "$p")
  [ -n "$c" ] && [ "$c" != "(none)" ] || die "no installable candidate for '$p' (apt-cache policy $p)"
  packages+=("$p")
  deps=$(apt-cache show --no-all-versions "$p" | sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' | tr ',' '\n' |
         sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' | grep -v '^$' || true)
  for d in $deps; do queue+=("$d"); done
done

# Downloaded elsewhere, then swapped in: a refused or failed fetch leaves .deps/ as it was.
tmp=$(mktemp -d /tmp/lyre-gpu-deps.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "gpu_deps: downloading ${#packages[@]} packages: ${packages[*]}" >&2
# As root, apt's download sandbox user cannot write here: download as root.
sandbox=()
[ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
(cd "$tmp" && apt-get download -q "${sandbox[@]}" "${packages[@]}" >/dev/null) ||
  die "apt-get download failed (package lists stale? try: apt-get update)"

total=0
manifest=$tmp/MANIFEST.txt
printf '# package version bytes sha256 file (written by profiling/gpu_deps.sh)\n' >"$manifest"
for f in "$tmp"/*.deb; do
  bytes=$(stat -c %s "$f")
  total=$((total + bytes))
  printf '%s %s %s %s %s\n' "$(dpkg-deb -f "$f" Package)" "$(dpkg-deb -f "$f" Version)" "$bytes" \
    "$(sha256sum "$f" | cut -d' ' -f1)" "$(basename "$f")" >>"$manifest"
done
n=$(ls "$tmp"/*.deb | wc -l)
[ "$n" -eq ${#packages[@]} ] || die "asked for ${#packages[@]} packages, got $n .deb files"
awk 'NR > 1 {printf "  %-26s %-22s %8.1f KiB\n", $1, $2, $3 / 1024}' "$manifest" >&2
total_mib=$(awk -v b="$total" 'BEGIN {printf "%.1f", b / 1048576}')
echo "gpu_deps: total ${total_mib} MiB in $n .deb files (limit ${limit_mib} MiB)" >&2
if [ "$total" -gt $((limit_mib * 1048576)) ]; then
  die "refusing: ${total_mib} MiB is over ${limit_mib} MiB; the device tool carries 64 MiB in all, working tree included"
fi

# What travels besides .deps: tracked and untracked-but-not-ignored files.
tree=$(cd "$root" && git ls-files -z --cached --others --exclude-standard 2>/dev/null |
       du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1 || echo 0)
tree=${tree:-0}
if [ $((tree + total)) -gt $((64 * 1048576)) ]; then
  echo "gpu_deps: warning: working tree ($((tree / 1048576)) MiB) + .deps is over the device tool's 64 MiB" >&2
fi

# Replace .deps/ whole, so nothing stale travels.
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "gpu_deps: wrote $dest ($(basename "$manifest") lists every file)" >&2
