#!/usr/bin/env python3
"""Dumps the scalars of every TensorBoard run below a folder as JSON.

An independent reader for Lyre's event files (tests/test_tensorboard.cpp):
it finds runs and event files the way TensorBoard does (every folder holding
a file whose name contains "tfevents"; its files in name order) and reads them
with the `tensorboard` package's own EventFileLoader. Without TensorFlow that
loader verifies both masked CRC-32Cs of every record and stops at the first
record that fails, as TensorBoard does.

    python3 read_tensorboard.py LOGDIR [OUT.json]   (stdout without OUT.json)

Output: {"tensorflow": "stub" | version,
         "runs": {"<folder relative to LOGDIR>": {
             "files": [names], "file_version": "brain.Event:2" | null,
             "events": [{"step": N, "wall_time": T, "scalars": {tag: value}}]}}}

Exit status 3 when the `tensorboard` package cannot be imported (the C++ test
then skips), 0 otherwise.
"""

import json
import os
import sys


def scalar_of(value):
    """A Summary.Value's number: old-style simple_value, or the rank-0 tensor
    EventFileLoader migrates it to."""
    if value.HasField("simple_value"):
        return value.simple_value
    from tensorboard.util import tensor_util

    return float(tensor_util.make_ndarray(value.tensor).item())


def read_run(folder, files):
    from tensorboard.backend.event_processing import event_file_loader

    run = {"files": files, "file_version": None, "events": []}
    for name in files:
        loader = event_file_loader.EventFileLoader(os.path.join(folder, name))
        for event in loader.Load():
            if event.HasField("file_version"):
                run["file_version"] = event.file_version
                continue
            if not event.HasField("summary"):
                continue
            run["events"].append(
                {
                    "step": event.step,
                    "wall_time": event.wall_time,
                    "scalars": {v.tag: scalar_of(v) for v in event.summary.value},
                }
            )
    return run


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: read_tensorboard.py LOGDIR [OUT.json]")
    try:
        from tensorboard.compat import tf
    except ImportError as e:
        print(f"cannot import tensorboard: {e}", file=sys.stderr)
        sys.exit(3)
    logdir = sys.argv[1]
    runs = {}
    for folder, _, names in sorted(os.walk(logdir)):
        files = sorted(n for n in names if "tfevents" in n)
        if files:
            runs[os.path.relpath(folder, logdir)] = read_run(folder, files)
    dump = {"tensorflow": tf.__version__, "runs": runs}
    if len(sys.argv) == 3:
        with open(sys.argv[2], "w") as out:
            json.dump(dump, out, indent=1)
    else:
        json.dump(dump, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
