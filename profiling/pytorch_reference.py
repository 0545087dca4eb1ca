#!/usr/bin/env python3
"""The paper's primary model and training step in PyTorch, for side-by-side
throughput figures with `lyre bench` on the same machine.

Same model (embedding 30,000 x 100 -> LSTM 128 -> additive attention ->
global average pooling -> dropout 0.2 -> linear 10), same batch size (100),
same synthetic song lengths (log-normal around 120 tokens, cut at 300) and the
same length bucketing (sort within windows of 20 batches), so batches carry
little padding. The LSTM runs over the padded batch by default: for this
one-directional model with masked attention that gives the same outputs at
every valid step, and it is PyTorch's fastest CPU path (PyTorch 1.13's CPU
backward over packed sequences zero-fills a full-size gradient at every time
step and runs ~10x slower; --packed measures it). Folds run one after
another, as a PyTorch user would write it.

  CPU:  /usr/bin/python3 profiling/pytorch_reference.py --device cpu --threads 2
  GPU:  python3 profiling/pytorch_reference.py --device cuda --folds 5

Prints JSON: songs/s and tokens/s of the timed epochs (the first two batches
of each fold warm up and are not timed).
"""
import argparse
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class PrimaryModel(nn.Module):
    def __init__(self, vocab, dim, hidden, attention_dim, classes, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.lstm = nn.LSTM(dim, hidden)
        self.attention = nn.Linear(hidden, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, classes)

    def forward(self, tokens, lengths, packed):  # tokens [T, B], lengths [B] sorted descending
        steps = tokens.shape[0]
        if packed:
            seq = pack_padded_sequence(self.embedding(tokens), lengths.cpu(), enforce_sorted=True)
            y, _ = self.lstm(seq)
            y, _ = pad_packed_sequence(y, total_length=steps)  # [T, B, H], zero at padding
        else:  # outputs at t < len are exact; padded steps are masked below
            y, _ = self.lstm(self.embedding(tokens))
        scores = self.score(torch.tanh(self.attention(y))).squeeze(-1)  # [T, B]
        valid = torch.arange(steps, device=tokens.device)[:, None] < lengths[None, :]
        alpha = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=0)
        pooled = (alpha.unsqueeze(-1) * y).sum(0) / lengths[:, None].to(y.dtype)
        return self.output(self.dropout(pooled))


def synthetic_corpus(songs, vocab, classes, seed):
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.exp(np.log(120.0) + 0.6 * rng.standard_normal(songs)), 5, 1000).astype(np.int64)
    tokens = [2 + (rng.random(n) ** 3 * (vocab - 2)).astype(np.int64) for n in lengths]
    labels = rng.integers(0, classes, songs)
    return tokens, labels


def bucketed_batches(tokens, max_len, batch, window, rng):
    order = rng.permutation(len(tokens))
    batches = []
    for start in range(0, len(order), batch * window):
        chunk = sorted(order[start:start + batch * window], key=lambda s: -min(len(tokens[s]), max_len))
        batches += [chunk[i:i + batch] for i in range(0, len(chunk), batch)]
    rng.shuffle(batches)
    return batches


def make_batch(songs, tokens, labels, max_len, device):
    lengths = [min(len(tokens[s]), max_len) for s in songs]
    matrix = np.zeros((lengths[0], len(songs)), dtype=np.int64)
    for b, s in enumerate(songs):
        matrix[:lengths[b], b] = tokens[s][:lengths[b]]
    return (torch.from_numpy(matrix).to(device), torch.tensor(lengths, device=device),
            torch.from_numpy(labels[songs]).to(device), sum(lengths))


def run_fold(args, tokens, labels, fold):
    torch.manual_seed(args.seed + fold)
    device = torch.device(args.device)
    model = PrimaryModel(args.vocab, 100, args.hidden, args.hidden, args.classes, 0.2).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed + fold)
    batches = bucketed_batches(tokens, args.max_len, args.batch_size, 20, rng)
    if len(batches) <= 2:
        sys.exit(f"pytorch_reference.py: {len(batches)} batches a fold leave none to time after "
                 f"the two warm-up batches; use more --songs or a smaller --batch-size")
    songs = real_tokens = 0
    for i, batch in enumerate(batches):
        if i == 2:  # two warm-up batches
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        x, lengths, y, n_tokens = make_batch(batch, tokens, labels, args.max_len, device)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x, lengths, args.packed), y)
        loss.backward()
        optimizer.step()
        if i >= 2:
            songs += len(batch)
            real_tokens += n_tokens
    if device.type == "cuda":
        torch.cuda.synchronize()
    return songs, real_tokens, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    parser.add_argument("--songs", type=int, default=2000, help="songs per fold")
    parser.add_argument("--folds", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--max-len", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--vocab", type=int, default=30000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--packed", action="store_true", help="pack the sequences (slow on CPU)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tokens, labels = synthetic_corpus(args.songs, args.vocab, args.classes, args.seed)
    songs = real_tokens = 0
    seconds = 0.0
    for fold in range(args.folds):  # one after another, as a PyTorch user would
        s, t, sec = run_fold(args, tokens, labels, fold)
        songs, real_tokens, seconds = songs + s, real_tokens + t, seconds + sec
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "threads": torch.get_num_threads(),
        "folds": args.folds,
        "packed": args.packed,
        "songs": songs,
        "tokens": real_tokens,
        "seconds": seconds,
        "songs_per_second": songs / seconds,
        "tokens_per_second": real_tokens / seconds,
    }, indent=2))


if __name__ == "__main__":
    main()
