#!/usr/bin/env python3
"""Training step time of the default image network: thresh and PyTorch side by side.

Both sides train the network `thresh train --model cnn` builds for 28 x 28 grey images
(CnnConfig::small): stages of 32 and 64 channels, each of 3 x 3 convolutions without bias,
batch norm and ReLU, then 2 x 2 max pooling; flatten, a dense layer of 128 with ReLU, dropout
0.3 and a 10-class head; cross-entropy and AdamW (learning rate 1e-3, weight decay 0.01). The
batches come from the xorshift64* generator of the reference benchmark (seed 42): each pixel is
next() % 256 over 255, and the label is the first pixel modulo 10.

Rounds alternate `thresh bench --cnn` and this script's PyTorch side (--torch-side, in the
Python given by --python). The summary gives the medians of the step times and the ratio
thresh / PyTorch, with each side's peak RSS.

    python3 bench/cnn_vs_torch.py --python VENV/bin/python [--rounds 3] [--batch 32]
        [--steps 30] [--warmup 5] [--threads 2] [--blocks 1]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from common import XorShift, run

ROOT = Path(__file__).resolve().parent.parent


def torch_side(args):
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers, channels = [], 1
    for out in (32, 64):
        for _ in range(args.blocks):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU()]
            channels = out
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
               nn.Linear(128, 10)]
    model = nn.Sequential(*layers)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    rng = XorShift(42)
    batches = []
    for _ in range(args.warmup + args.steps):
        rows = [[rng.next() % 256 for _ in range(28 * 28)] for _ in range(args.batch)]
        x = torch.tensor(rows, dtype=torch.float32).div_(255.0).reshape(args.batch, 1, 28, 28)
        batches.append((x, torch.tensor([r[0] % 10 for r in rows])))
    model.train()
    times = []
    for x, y in batches:
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    print(f"RESULT mode=train median_step_s={statistics.median(times[args.warmup:]):.5f}")


def step_time(cmd):
    fields, rss = run(cmd)
    return float(fields["median_step_s"]), rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="a Python with torch")
    ap.add_argument("--thresh", default=str(ROOT / "target" / "release" / "thresh"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blocks", type=int, default=1, help="convolutions per stage (thresh's default)")
    ap.add_argument("--torch-side", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_side:
        torch_side(args)
        return
    shape = ["--batch", str(args.batch), "--steps", str(args.steps), "--warmup",
             str(args.warmup), "--threads", str(args.threads)]
    ours = [args.thresh, "bench", "--mode", "train", "--cnn"] + shape
    theirs = [args.python, __file__, "--torch-side", "--blocks", str(args.blocks)] + shape
    rows = []
    for r in range(args.rounds):
        (a, a_rss), (b, b_rss) = step_time(ours), step_time(theirs)
        rows.append((a, b, a / b, a_rss, b_rss))
        print(f"round {r + 1}: thresh {a:.5f} s/step rss {a_rss:.0f}MB | torch {b:.5f} s/step "
              f"rss {b_rss:.0f}MB | ratio {a / b:.3f}", flush=True)
    med = [statistics.median(c) for c in zip(*rows)]
    print(f"SUMMARY batch={args.batch} threads={args.threads} thresh_step_s={med[0]:.5f} "
          f"torch_step_s={med[1]:.5f} ratio={med[2]:.3f} thresh_rss_mb={med[3]:.0f} "
          f"torch_rss_mb={med[4]:.0f}")


if __name__ == "__main__":
    main()
