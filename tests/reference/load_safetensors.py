#!/usr/bin/python3
"""Loads the weights `lyre export` wrote into the equivalent torch.nn model and
computes logits for token ids: Lyre's trained models in PyTorch.

The model is tests/reference/lyre_torch.py (beside this script), built from the
file's __metadata__ (embedding, hidden, layers, bidirectional, attention,
pool, classes, vocabulary size); the file's tensor names are its state_dict
keys. The tensors are read with safetensors.torch.load_file when the
`safetensors` package is importable, else by the small reader below (Debian's
python3-torch has no safetensors package). Token ids are vocabulary ids of the
run (vocab.txt: line N holds id N-1); rather than cleaning lyrics again in
Python, take them from `lyre predict --json`, which prints each song's
token_ids and each fold's logits:

    lyre export RUN --fold 0                        # -> RUN/export/fold-0.safetensors
    lyre predict --run RUN --fold 0 --json --text "..." --text "..." > predictions.json
    /usr/bin/python3 tests/reference/load_safetensors.py RUN/export/fold-0.safetensors \\
        --lyre-json predictions.json
    /usr/bin/python3 tests/reference/load_safetensors.py MODEL.safetensors --ids 12,7,7,301

Prints JSON, one entry per song: token_ids, logits and probabilities (and,
with --lyre-json, lyre's logits of the exported fold and max_relative_difference =
max |torch - lyre| / max |lyre|). Inference only: no dropout, as `lyre predict`.
Needs PyTorch and NumPy (Debian: apt-get install python3-torch python3-numpy,
then use /usr/bin/python3). --double computes in float64 (the weights are
float32 either way).
"""

import argparse
import json
import pathlib
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from lyre_torch import LyreModel  # noqa: E402  (the one PyTorch definition of the model)


def read_header(path):
    """(tensor entries, __metadata__, first data byte) of a safetensors file."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    metadata = header.pop("__metadata__", {})
    return header, metadata, 8 + size


def read_tensors(path):
    """The format's reader in plain Python, for where `safetensors` is missing."""
    header, _, start = read_header(path)
    data = pathlib.Path(path).read_bytes()[start:]
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {entry['dtype']}, this reader takes F32 only")
        begin, end = entry["data_offsets"]
        values = np.frombuffer(data[begin:end], dtype="<f4").astype(np.float32)
        tensors[name] = torch.from_numpy(values.reshape(entry["shape"]))
    return tensors


def load(path):
    """(model in eval mode, metadata) from a `lyre export` file."""
    _, metadata, _ = read_header(path)
    try:
        from safetensors.torch import load_file
        tensors = load_file(path)
    except ImportError:
        tensors = read_tensors(path)
    cfg = {
        "vocab_size": int(metadata["vocab_size"]),
        "embed_dim": int(metadata["embed_dim"]),
        "hidden": int(metadata["hidden"]),
        "layers": int(metadata["layers"]),
        "bidirectional": metadata["bidirectional"] == "true",
        "attention": metadata["attention"],
        "attention_dim": int(metadata["attention_dim"]),
        "pool": metadata["pool"],
        "dropout": float(metadata["dropout"]),
        "num_classes": int(metadata["num_classes"]),
    }
    model = LyreModel(cfg)
    model.load_state_dict(tensors, strict=True)  # every name and shape must match
    return model.eval(), metadata


def logits_for(model, songs, dtype):
    """Logits [songs, C] for lists of token ids, scored in one batch: longest
    first (pack_padded_sequence's order), as lyre batches songs."""
    order = sorted(range(len(songs)), key=lambda i: -len(songs[i]))
    steps = len(songs[order[0]])
    tokens = torch.zeros(steps, len(songs), dtype=torch.int64)
    for b, i in enumerate(order):
        tokens[:len(songs[i]), b] = torch.tensor(songs[i], dtype=torch.int64)
    lengths = torch.tensor([len(songs[i]) for i in order], dtype=torch.int64)
    with torch.no_grad():
        sorted_logits = model.to(dtype)(tokens, lengths)
    out = torch.empty_like(sorted_logits)
    out[order] = sorted_logits
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a .safetensors file written by `lyre export`")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ids", action="append", help="one song's token ids, comma-separated (repeatable)")
    source.add_argument("--lyre-json", help="output of `lyre predict --json` (- for stdin)")
    parser.add_argument("--double", action="store_true", help="compute in float64")
    args = parser.parse_args()

    torch.set_num_threads(1)
    model, metadata = load(args.model)
    fold = int(metadata["fold"])
    genres = json.loads(metadata["genres"])
    lyre = None
    if args.lyre_json:
        text = sys.stdin.read() if args.lyre_json == "-" else pathlib.Path(args.lyre_json).read_text()
        lyre = [p for p in json.loads(text) if not p["empty"]]
        songs = [p["token_ids"] for p in lyre]
    else:
        songs = [[int(i) for i in ids.split(",")] for ids in args.ids]
    if not songs or any(not s for s in songs):
        sys.exit("no song with tokens to score")
    for song in songs:
        bad = [i for i in song if not 0 < i < model.cfg["vocab_size"]]
        if bad:
            sys.exit(f"token ids {bad} are outside 1..{model.cfg['vocab_size'] - 1}")

    logits = logits_for(model, songs, torch.float64 if args.double else torch.float32)
    results = []
    for i, song in enumerate(songs):
        row = logits[i].double()
        entry = {"token_ids": song, "logits": row.tolist(),
                 "probabilities": dict(zip(genres, torch.softmax(row, 0).tolist()))}
        if lyre is not None:
            theirs = [m["values"] for m in lyre[i]["logits"] if m["fold"] == fold]
            if not theirs:
                sys.exit(f"{args.lyre_json} holds no logits of fold {fold}: "
                         f"run lyre predict with --fold {fold} or without --fold")
            reference = torch.tensor(theirs[0], dtype=torch.float64)
            entry["lyre_logits"] = theirs[0]
            entry["max_relative_difference"] = float(
                (row - reference).abs().max() / reference.abs().max().clamp_min(1e-30))
        results.append(entry)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
