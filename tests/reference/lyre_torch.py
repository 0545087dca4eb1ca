"""The Lyre model (engine/model/model_spec.hpp) built from PyTorch's own layers.

One definition for everything that needs the model in PyTorch:
tests/reference/make_golden.py (golden values for the parity tests, in float64,
with Lyre's Philox dropout) and tests/reference/load_safetensors.py (the
weights `lyre export` writes, for inference). Module names are the ones the
export uses, so `model.load_state_dict(tensors)` takes a `lyre export` file as
it is:

    embedding.weight                       nn.Embedding(V, D, padding_idx=0)
    lstm.weight_ih_l0, ... (_reverse, l1)  nn.LSTM(D, H, layers, bidirectional)
    attention.weight, attention.bias       nn.Linear(Hout, A)   (attention: additive)
    attention_v                            [A], the score vector s_t = v . u_t
    output.weight, output.bias             nn.Linear(Hout, C)

cfg keys: vocab_size, embed_dim, hidden, layers, bidirectional, attention
("additive" | "none"), attention_dim, pool ("mean" | "none"), dropout,
num_classes.
"""

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

MASK32 = 0xFFFFFFFF


# ---- Philox4x32-10, as engine/core/philox.hpp --------------------------------------
def philox4x32_10(counter, key):
    c0, c1, c2, c3 = counter & MASK32, (counter >> 32) & MASK32, 0, 0
    k0, k1 = key & MASK32, (key >> 32) & MASK32
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & MASK32, p1 & MASK32, \
            ((p0 >> 32) ^ c3 ^ k1) & MASK32, p0 & MASK32
        k0 = (k0 + 0x9E3779B9) & MASK32
        k1 = (k1 + 0xBB67AE85) & MASK32
    return c0, c1, c2, c3


def dropout_keep(seed, index, p):
    word = philox4x32_10(index >> 2, seed)[index & 3]
    return (word >> 8) / 16777216.0 >= p


# ---- the model ------------------------------------------------------------------
class LyreModel(nn.Module):
    def __init__(self, cfg, golden_init=False):
        """golden_init: make_golden.py's wider initialization (the random draws,
        in this order, are what its checked-in golden values came from)."""
        super().__init__()
        self.cfg = cfg
        hout = cfg["hidden"] * (2 if cfg["bidirectional"] else 1)
        self.embedding = nn.Embedding(cfg["vocab_size"], cfg["embed_dim"], padding_idx=0)
        self.lstm = nn.LSTM(cfg["embed_dim"], cfg["hidden"], num_layers=cfg["layers"],
                            bidirectional=cfg["bidirectional"])
        if golden_init:
            for weight in self.lstm.parameters():
                nn.init.uniform_(weight, -0.8, 0.8)
        if cfg["attention"] == "additive":
            self.attention = nn.Linear(hout, cfg["attention_dim"])
            if golden_init:
                # Wider than PyTorch's default inits (here and for the LSTM): with
                # small, uniform scores the attention gradients (sums that cancel
                # across the softmax) would be too small to compare in float.
                nn.init.uniform_(self.attention.weight, -2.0, 2.0)
                bound = 2.0
            else:  # as engine/model/init.cpp
                bound = 1.0 / math.sqrt(cfg["attention_dim"])
            self.attention_v = nn.Parameter(
                torch.empty(cfg["attention_dim"]).uniform_(-bound, bound))
        self.output = nn.Linear(hout, cfg["num_classes"])

    def named_canonical(self):
        """(canonical name, parameter) in the order of param_layout.hpp."""
        cfg = self.cfg
        yield "embedding", self.embedding.weight
        for layer in range(cfg["layers"]):
            for suffix in ([""] + (["_reverse"] if cfg["bidirectional"] else [])):
                torch_suffix = f"_l{layer}{suffix}"
                name = f"lstm.l{layer}{suffix}"
                yield name + ".w_ih", getattr(self.lstm, "weight_ih" + torch_suffix)
                yield name + ".w_hh", getattr(self.lstm, "weight_hh" + torch_suffix)
                yield name + ".b_ih", getattr(self.lstm, "bias_ih" + torch_suffix)
                yield name + ".b_hh", getattr(self.lstm, "bias_hh" + torch_suffix)
        if cfg["attention"] == "additive":
            yield "attention.w", self.attention.weight
            yield "attention.b", self.attention.bias
            yield "attention.v", self.attention_v
        yield "output.w", self.output.weight
        yield "output.b", self.output.bias

    def forward(self, tokens, lengths, dropout_seed=None, dropout_offset=0):
        """tokens [T, B] (0-padded), lengths [B] (int64, on the CPU, longest
        first) -> logits [B, C]. Dropout (Lyre's Philox mask) only when
        dropout_seed is given: inference leaves it out, as `lyre predict` does."""
        cfg = self.cfg
        steps, batch = tokens.shape
        hidden = cfg["hidden"]
        x = self.embedding(tokens)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=True)
        y, _ = pad_packed_sequence(self.lstm(packed)[0], total_length=steps)  # [T, B, Hout], 0-padded
        valid = torch.arange(steps)[:, None] < lengths[None, :]  # [T, B]
        lengths_f = lengths.to(y.dtype)[:, None]
        if cfg["attention"] == "additive":
            u = torch.tanh(self.attention(y))
            scores = (u @ self.attention_v).masked_fill(~valid, float("-inf"))
            alpha = torch.softmax(scores, dim=0)
            pooled = (alpha[:, :, None] * y).sum(0)
            if cfg["pool"] == "mean":
                pooled = pooled / lengths_f
        elif cfg["pool"] == "mean":
            pooled = y.sum(0) / lengths_f
        else:
            songs = torch.arange(batch)
            final = y[lengths - 1, songs, :hidden]
            if cfg["bidirectional"]:
                final = torch.cat([final, y[0, :, hidden:]], dim=1)
            pooled = final
        p = cfg["dropout"]
        if dropout_seed is not None and p > 0:
            flat = pooled.numel()
            keep = torch.tensor([dropout_keep(dropout_seed, dropout_offset + i, p)
                                 for i in range(flat)]).reshape(pooled.shape)
            pooled = pooled * keep.to(pooled.dtype) / (1.0 - p)
        return self.output(pooled)
