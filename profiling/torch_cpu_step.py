#!/usr/bin/python3
"""PyTorch's CPU speed on the workload of profiling/bench_cpu_ops.cpp, for
comparison with Lyre's CPU backend: the same shapes (D=100, H=128, A=128, C=10,
batch 100, 300 steps), the same length profiles (0 = mixed like real lyrics,
1 = every song 300 tokens), float32.

    /usr/bin/python3 profiling/torch_cpu_step.py --threads 2 --full 0

Prints ms per iteration and tokens/s (real tokens, as the C++ benchmark counts
them) for the LSTM forward + backward alone and for a whole training step
(forward, loss, backward, Adam), each both over packed sequences (exact for
every model variant; PyTorch 1.13's CPU backward of a packed LSTM is slow) and
over the padded batch (what a unidirectional model with masked pooling can
use: the valid outputs are the same).
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

STEPS, BATCH, EMBED, HIDDEN, ATTENTION, CLASSES, VOCAB = 300, 100, 100, 128, 128, 10, 20000


def song_lengths(full, rng):
    if full:
        return np.full(BATCH, STEPS)
    lengths = np.clip(np.exp(np.log(110.0) + 0.6 * rng.standard_normal(BATCH)), 1, STEPS)
    lengths = np.sort(lengths.astype(np.int64))[::-1].copy()
    lengths[0] = STEPS
    return lengths


def run_lstm(lstm, x, lengths, packed):
    if not packed:
        return lstm(x)[0]
    return pad_packed_sequence(lstm(pack_padded_sequence(x, lengths))[0], total_length=STEPS)[0]


class Model(nn.Module):
    def __init__(self, packed):
        super().__init__()
        self.packed = packed
        self.embedding = nn.Embedding(VOCAB, EMBED, padding_idx=0)
        self.lstm = nn.LSTM(EMBED, HIDDEN)
        self.attention = nn.Linear(HIDDEN, ATTENTION)
        self.v = nn.Parameter(torch.empty(ATTENTION).uniform_(-0.1, 0.1))
        self.output = nn.Linear(HIDDEN, CLASSES)

    def forward(self, tokens, lengths):
        y = run_lstm(self.lstm, self.embedding(tokens), lengths, self.packed)
        valid = torch.arange(STEPS)[:, None] < lengths[None, :]
        scores = (torch.tanh(self.attention(y)) @ self.v).masked_fill(~valid, float("-inf"))
        alpha = torch.softmax(scores, dim=0)
        pooled = (alpha[:, :, None] * y).sum(0) / lengths[:, None].float()
        return self.output(F.dropout(pooled, 0.2, training=True))


def timed(fn, seconds=3.0):
    fn()
    iterations, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        iterations += 1
    return (time.perf_counter() - start) / iterations


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    lengths = torch.tensor(song_lengths(args.full, rng))
    tokens = torch.zeros(STEPS, BATCH, dtype=torch.int64)
    for b, length in enumerate(lengths.tolist()):
        tokens[:length, b] = torch.randint(1, VOCAB, (length,))
    labels = torch.randint(0, CLASSES, (BATCH,))
    token_count = int(lengths.sum())

    lstm = nn.LSTM(EMBED, HIDDEN)
    x = torch.randn(STEPS, BATCH, EMBED, requires_grad=True)

    for packed in (False, True):
        def lstm_step():
            y = run_lstm(lstm, x, lengths, packed)
            y.backward(torch.full_like(y, 1e-3))

        model = Model(packed)
        optimizer = torch.optim.Adam(model.parameters())

        def train_step():
            optimizer.zero_grad()
            F.cross_entropy(model(tokens, lengths), labels).backward()
            optimizer.step()

        for name, fn in (("lstm forward+backward", lstm_step), ("training step", train_step)):
            seconds = timed(fn)
            print(f"{name:22s} {'packed' if packed else 'padded'} threads {args.threads} "
                  f"full {args.full}: {seconds * 1e3:8.1f} ms "
                  f"{token_count / seconds / 1e3:8.1f}k tokens/s "
                  f"fill {token_count / (STEPS * BATCH):.3f}")


if __name__ == "__main__":
    main()
