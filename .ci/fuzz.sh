#!/usr/bin/env bash
# Builds the libFuzzer harnesses (in the `sanitize` preset's build: clang,
# ASan + UBSan, the same build `make sanitize` tests) and runs each for a
# bounded time; `make fuzz` and .ci/run call this. Fails when
# any harness finds anything: a crash, a sanitizer report, a leak, an
# exception other than InputError, a broken reader promise, an input slower
# than FUZZ_TIMEOUT seconds or one needing more than FUZZ_RSS_MB of memory.
#
#   FUZZ_SECONDS    seconds per harness (default 60)
#   FUZZ_JOBS       harnesses run side by side (default: the number of cores)
#   FUZZ_HARNESSES  which ones (default: every tests/fuzz/fuzz_*.cpp but support)
#   FUZZ_TIMEOUT    seconds one input may take (default 10)
#   FUZZ_RSS_MB     memory limit of one harness process (default 2048)
#
# The harnesses are build/sanitize/fuzzers/fuzz_<harness>. Under build/fuzz/:
# seeds/ (regenerated each run by lyre_fuzz_seeds),
# corpus/<harness>/ (what the fuzzer found interesting; kept between runs so
# local runs build on each other), artifacts/<harness>/ (crashing, leaking,
# slow inputs: reproduce one with `build/sanitize/fuzzers/fuzz_<harness> FILE`,
# LYRE_FUZZ_VERBOSE=1 prints what the reader said), logs/<harness>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-$(nproc)}
timeout=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
root=build/fuzz
fuzzers=build/sanitize/fuzzers
# libFuzzer reads -max_total_time=0 as "no limit": never what a bounded run wants.
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz: FUZZ_SECONDS must be a whole number of seconds >= 1, got '$seconds'" >&2
  exit 2
fi

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found (Debian: apt-get install clang libclang-rt-dev)" >&2
  exit 2
fi

build_start=$SECONDS
cmake --preset sanitize >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
rm -rf "$root/seeds"
"$fuzzers/lyre_fuzz_seeds" "$root/seeds"
echo "fuzz: build and seeds took $((SECONDS - build_start)) s"

if [ -n "${FUZZ_HARNESSES:-}" ]; then
  read -r -a harnesses <<<"$FUZZ_HARNESSES"
else
  harnesses=()
  for f in tests/fuzz/fuzz_*.cpp; do
    name=$(basename "$f" .cpp)
    name=${name#fuzz_}
    [ "$name" = support ] || harnesses+=("$name")
  done
fi

run_one() {
  local name=$1
  local corpus="$root/corpus/$name" artifacts="$root/artifacts/$name" log="$root/logs/$name.log"
  mkdir -p "$corpus" "$artifacts" "$root/logs"
  local dict=()
  if [ -f "tests/fuzz/dicts/$name.dict" ]; then
    dict=(-dict="tests/fuzz/dicts/$name.dict")
  elif [ -f "$root/seeds/dicts/$name.dict" ]; then
    dict=(-dict="$root/seeds/dicts/$name.dict")
  fi
  # New inputs go to the first folder (corpus); the seeds are only read.
  local status=0
  "$fuzzers/fuzz_$name" -max_total_time="$seconds" -timeout="$timeout" \
    -rss_limit_mb="$rss_mb" -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" "$root/seeds/$name" \
    >"$log" 2>&1 || status=$?
  echo "$status" >"$root/logs/$name.status"
}

rm -f "$root"/logs/*.status "$root"/logs/*.log
fuzz_start=$SECONDS
running=0
for name in "${harnesses[@]}"; do
  if [ ! -x "$fuzzers/fuzz_$name" ]; then
    echo "fuzz: no harness fuzz_$name (tests/fuzz/fuzz_$name.cpp)" >&2
    exit 2
  fi
  echo "fuzz: $name for $seconds s"
  run_one "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

failed=0
printf '%-12s %-8s %12s %8s %8s %10s\n' harness result executions exec/s cov corpus
for name in "${harnesses[@]}"; do
  log="$root/logs/$name.log"
  status=$(cat "$root/logs/$name.status" 2>/dev/null || echo "?")
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  corpus=$(find "$root/corpus/$name" -type f | wc -l)
  result=ok
  if [ "$status" != 0 ]; then
    result=FOUND
    failed=1
  fi
  printf '%-12s %-8s %12s %8s %8s %10s\n' "$name" "$result" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "$corpus"
done
echo "fuzz: ${#harnesses[@]} harnesses, $seconds s each, $jobs at a time, took $((SECONDS - fuzz_start)) s"

if [ "$failed" -ne 0 ]; then
  for name in "${harnesses[@]}"; do
    [ "$(cat "$root/logs/$name.status")" = 0 ] && continue
    echo
    echo "==== fuzz_$name found something (exit $(cat "$root/logs/$name.status")); end of $root/logs/$name.log:"
    tail -n 60 "$root/logs/$name.log"
    echo "artifacts:"
    ls -l "$root/artifacts/$name"
  done
  exit 1
fi
