#!/usr/bin/python3
"""Golden values for tests/test_reference_parity.cpp, from an independent
PyTorch implementation of the Lyre model (engine/model/model_spec.hpp).

The model (tests/reference/lyre_torch.py, shared with load_safetensors.py) is
built from PyTorch's own layers, here in float64: nn.Embedding with
padding_idx=0, nn.LSTM over pack_padded_sequence (so padding never reaches it),
additive attention with a masked softmax, the pooling variants, inverted
dropout whose mask is Lyre's Philox4x32-10 ported there (so both sides drop the
same elements), nn.Linear and F.cross_entropy. For each variant it writes
tests/data/golden/<variant>.json with the inputs, every parameter and every
parameter gradient under the canonical names of engine/model/param_layout.hpp
(row-major, flattened), the logits and the mean loss, and the parameters after
a few Adam steps (torch.optim.Adam, preceded by clip_grad_norm_ where the
variant clips) taken with the same gradients.

Regenerate (needs PyTorch and NumPy; Debian: python3-torch python3-numpy):
    /usr/bin/python3 tests/reference/make_golden.py
from the repository root. The output is deterministic; CI only reads the JSON.
"""

import json
import math
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

from lyre_torch import LyreModel  # beside this script: the one PyTorch definition of the model

OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "data" / "golden"
DIGITS = 15  # significant digits kept in the JSON (float64 carries ~16)


def rounded(values):
    return [float(f"{v:.{DIGITS}g}") for v in values]


def flat(tensor):
    return rounded(tensor.detach().reshape(-1).tolist())


def make_variant(name, cfg, lengths, labels, adam, seed):
    torch.manual_seed(seed)
    model = LyreModel(cfg, golden_init=True)
    with torch.no_grad():  # inputs exactly as the JSON stores them
        for _, param in model.named_canonical():
            param.copy_(torch.tensor(flat(param)).reshape(param.shape))
        model.embedding.weight[0].zero_()

    steps, batch = max(lengths), len(lengths)
    generator = np.random.default_rng(seed)
    tokens = np.zeros((steps, batch), dtype=np.int64)
    for b, length in enumerate(lengths):
        tokens[:length, b] = generator.integers(1, cfg["vocab_size"], size=length)
    tokens_t = torch.tensor(tokens)
    lengths_t = torch.tensor(lengths, dtype=torch.int64)
    labels_t = torch.tensor(labels, dtype=torch.int64)
    dropout_seed, dropout_offset = 0x5EED0000 + seed, 1000 * seed

    params = {n: flat(p) for n, p in model.named_canonical()}
    logits = model(tokens_t, lengths_t, dropout_seed, dropout_offset)
    loss = F.cross_entropy(logits, labels_t)
    loss.backward()
    grads = {n: flat(p.grad) for n, p in model.named_canonical()}

    ordered = [p for _, p in model.named_canonical()]
    grad_norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in ordered))
    if adam["clip_norm"] == "half":  # make sure clipping takes effect
        adam = dict(adam, clip_norm=float(f"{grad_norm / 2:.6g}"))
    optimizer = torch.optim.Adam(ordered, lr=adam["lr"], betas=(adam["beta1"], adam["beta2"]),
                                 eps=adam["eps"], weight_decay=adam["weight_decay"])
    for _ in range(adam["steps"]):
        if adam["clip_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(ordered, adam["clip_norm"])
        optimizer.step()

    golden = {
        "variant": name,
        "config": cfg,
        "steps": steps,
        "tokens": tokens.tolist(),
        "lengths": lengths,
        "labels": labels,
        "dropout_seed": dropout_seed,
        "dropout_offset": dropout_offset,
        "params": params,
        "logits": flat(logits),
        "loss": rounded([loss.item()])[0],
        "grads": grads,
        "grad_norm": rounded([grad_norm])[0],
        "adam": adam,
        "adam_params": {n: flat(p) for n, p in model.named_canonical()},
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"{path}: loss {loss.item():.6f}, |grad| {grad_norm:.4f}")


def main():
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    base = {
        "vocab_size": 23, "embed_dim": 6, "hidden": 5, "layers": 1, "bidirectional": False,
        "attention": "additive", "attention_dim": 4, "pool": "mean",
        # float32(0.2) as a double: the value the engine's float config carries.
        "dropout": float(np.float32(0.2)), "num_classes": 3,
    }
    plain_adam = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
                  "clip_norm": 0.0, "steps": 3}
    decay_clip_adam = dict(plain_adam, lr=1e-2, weight_decay=0.01, clip_norm="half")
    lengths, labels = [7, 5, 3, 1], [0, 2, 1, 2]
    variants = [
        ("primary", {}, plain_adam),
        ("pool_none", {"pool": "none"}, decay_clip_adam),
        ("no_attention_mean", {"attention": "none"}, plain_adam),
        ("no_attention_none", {"attention": "none", "pool": "none", "bidirectional": True,
                               "dropout": 0.0}, plain_adam),
        ("bidirectional_2layers", {"bidirectional": True, "layers": 2}, decay_clip_adam),
    ]
    for seed, (name, changes, adam) in enumerate(variants, start=1):
        make_variant(name, dict(base, **changes), lengths, labels, adam, seed)


if __name__ == "__main__":
    main()
