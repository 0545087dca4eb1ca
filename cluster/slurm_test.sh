#!/usr/bin/env bash
# The fold array job through a real Slurm: starts munged, slurmctld and slurmd
# on loopback (one node, this machine), submits cluster/submit.sh on a small
# synthetic corpus, requeues one fold task while it trains (what preemption
# does: SIGTERM, then the task runs again from its checkpoint), waits for the
# merge job and checks that the merged summary and every fold's weights equal
# a single-process run of the same config bit for bit (timing fields aside).
#
#   cluster/slurm_test.sh LYRE_BINARY       (ctest runs it: label `slurm`)
#
# Exit 77 (ctest: skipped) with the reason when Slurm is not installed, we are
# not root, or the daemons do not come up; 0 on success, 1 on a failure.
set -uo pipefail
lyre=$(realpath "${1:?usage: slurm_test.sh LYRE_BINARY}")
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

for tool in slurmctld slurmd munged sbatch squeue scontrol sinfo python3; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed (Debian: slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "starting slurmd needs root"

work=$(mktemp -d /tmp/lyre-slurm.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${LYRE_SLURM_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# --- the corpus and the single-process reference -----------------------------
cat >"$work/c.yaml" <<YAML
name: slurm
seed: 17
data:
  source: synthetic
  synthetic: {songs: 2000, seed: 9}
  top_genres: 4
  per_genre: 50
  prepared: $work/prepared
model:
  embedding: {dim: 16, init: random}
  hidden: 16
  max_len: 40
train:
  backend: cpu
  batch_size: 15
  epochs: 40
  threads: 1
  optimizer: {lr: 0.03}
cv:
  folds: 3
YAML
"$lyre" -q prepare --config "$work/c.yaml" >/dev/null || fail "lyre prepare"
"$lyre" -q train --config "$work/c.yaml" --out "$work/single" --no-report >/dev/null ||
  fail "single-process run"

# --- a one-node Slurm on loopback --------------------------------------------
mkdir -p "$work/slurm/state" "$work/slurm/spool" /run/munge
if ! pgrep -x munged >/dev/null; then
  [ -f /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 || skip "cannot create a munge key"
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null
  /usr/sbin/munged --force >/dev/null 2>&1 || skip "munged did not start"
fi
host=$(hostname -s)
cpus=$(nproc)
export SLURM_CONF="$work/slurm/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=lyre-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$work/slurm/state
SlurmdSpoolDir=$work/slurm/spool
SlurmctldPidFile=$work/slurm/slurmctld.pid
SlurmdPidFile=$work/slurm/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=600
KillWait=30
SlurmctldLogFile=$work/slurm/slurmctld.log
SlurmdLogFile=$work/slurm/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=2000 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -f "$SLURM_CONF" >"$work/slurm/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$work/slurm/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  state=$(sinfo -h -o %T 2>/dev/null | head -1)
  [ "$state" = "idle" ] && break
  sleep 0.5
done
if [ "${state:-}" != "idle" ]; then
  tail -5 "$work/slurm/slurmctld.log" "$work/slurm/slurmd.log" 2>/dev/null
  skip "the Slurm daemons did not come up (node state '${state:-none}')"
fi
echo "slurm: one node '$host' with $cpus CPUs is idle"

# --- the array job, a preempted task, the merge -------------------------------
cd "$work" || fail "cd $work"
out=$(LYRE="$lyre" "$here/submit.sh" "$work/c.yaml" "$work/shared" --cpus-per-task=1) ||
  fail "submit.sh: $out"
echo "$out"
array=$(echo "$out" | sed -n 's/^fold array job \([0-9]*\) .*/\1/p')
merge=$(echo "$out" | sed -n 's/.*merge job \([0-9]*\):.*/\1/p')
[ -n "$array" ] && [ -n "$merge" ] || fail "could not read the job ids"

# Preempt fold 1 once its first epoch is checkpointed: requeue sends SIGTERM,
# lyre checkpoints and exits, the task is queued again and resumes.
checkpoint="$work/shared/folds/fold-1/checkpoint.bin"
for _ in $(seq 600); do [ -f "$checkpoint" ] && break; sleep 0.1; done
[ -f "$checkpoint" ] || fail "fold 1 never wrote a checkpoint"
scontrol requeue "${array}_1" || fail "scontrol requeue ${array}_1"
echo "requeued task ${array}_1 mid-run"

job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
# Slurm holds a requeued job back for its credential lifetime (~2 min); a
# preempted task on a cluster waits like that too, but the test need not.
for _ in $(seq 100); do
  [ "$(job_state "${array}_1")" = "PENDING" ] && scontrol update JobId="${array}_1" StartTime=now 2>/dev/null && break
  sleep 0.2
done
for _ in $(seq 900); do
  state=$(job_state "$merge")
  case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) break ;; esac
  sleep 1
done
cat "$work"/lyre-fold-*.log "$work"/lyre-merge-*.log 2>/dev/null | grep -E "stopped|resum|error|summary" | head -20
[ "$state" = "COMPLETED" ] || fail "merge job ended $state (expected COMPLETED)"
grep -q "stopped in epoch" "$work"/lyre-fold-"${array}"_1.log ||
  fail "the requeued task did not checkpoint on SIGTERM"

# --- the merged run equals the single-process run -----------------------------
python3 - "$work/single" "$work/shared" <<'PY' || fail "merged run differs from the single-process run"
import json, sys, pathlib
def strip(j):
    if isinstance(j, dict):
        return {k: strip(v) for k, v in j.items() if "second" not in k and k != "backend"}
    if isinstance(j, list):
        return [strip(v) for v in j]
    return j
single, shared = (pathlib.Path(p) for p in sys.argv[1:])
a = strip(json.loads((single / "summary.json").read_text()))
b = strip(json.loads((shared / "summary.json").read_text()))
if a != b:
    print("summary.json differs"); sys.exit(1)
ma = [strip(json.loads(l)) for l in (single / "metrics.jsonl").read_text().splitlines()]
mb = [strip(json.loads(l)) for l in (shared / "metrics.jsonl").read_text().splitlines()]
if ma != mb:
    print("metrics.jsonl differs"); sys.exit(1)
print(f"summary and {len(ma)} metric lines equal; test accuracy {a['mean']['test_accuracy']['mean']:.4f}")
PY
# Every fold's model: the same predictions.
lyrics="we ride the night with engines roaring, my heart is burning, hallelujah"
for f in 0 1 2; do
  a=$("$lyre" -q predict --run "$work/single" --fold "$f" --top-k 4 --text "$lyrics") || fail "predict single fold $f"
  b=$("$lyre" -q predict --run "$work/shared" --fold "$f" --top-k 4 --text "$lyrics") || fail "predict shared fold $f"
  [ "$a" = "$b" ] || fail "fold $f predicts differently: $a vs $b"
done
echo "PASS: Slurm array job (with a requeued task) merged to the single-process run"
