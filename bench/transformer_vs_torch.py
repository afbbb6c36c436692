#!/usr/bin/env python3
"""Reference-model benchmark: thresh and PyTorch side by side, in one run.

Runs `thresh bench` and `../shared/bench/torch_reference.py` in turn (thresh, torch, thresh,
torch, ...) for each mode, so drift in the machine's speed hits both alike, and reports for
every round each side's figure, its peak resident memory (from the kernel's accounting of the
finished child process), and the ratio thresh / torch. The summary is the median over rounds.

Usage:
    python3 bench/transformer_vs_torch.py [--python VENV/bin/python] [--rounds 3]
        [--steps 30] [--warmup 5] [--threads 2] [--modes train,infer]

The PyTorch side needs a Python with torch (`python3 -m venv V && V/bin/pip install torch`).
Build thresh first: `cargo build --release`.
"""

import argparse
import statistics
import sys
from pathlib import Path

from common import run

ROOT = Path(__file__).resolve().parent.parent
TORCH_SCRIPT = ROOT.parent / "shared" / "bench" / "torch_reference.py"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="a Python that has torch")
    ap.add_argument("--thresh", default=str(ROOT / "target" / "release" / "thresh"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="train,infer")
    args = ap.parse_args()
    if not TORCH_SCRIPT.exists():
        sys.exit(f"{TORCH_SCRIPT} not found: this benchmark needs ../shared")
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup),
              "--threads", str(args.threads)]
    for mode in args.modes.split(","):
        key = "median_step_s" if mode == "train" else "seq_per_s"
        ours = [args.thresh, "bench", "--mode", mode] + common
        theirs = [args.python, str(TORCH_SCRIPT), "--mode", mode] + common
        rows = []
        for r in range(args.rounds):
            a, a_rss = run(ours)
            b, b_rss = run(theirs)
            fa, fb = float(a[key]), float(b[key])
            rows.append((fa, fb, fa / fb, a_rss, b_rss, a_rss / b_rss))
            print(f"{mode} round {r + 1}: thresh {key}={fa:.4f} rss={a_rss:.0f}MB | "
                  f"torch {key}={fb:.4f} rss={b_rss:.0f}MB | ratio {fa / fb:.3f} "
                  f"rss ratio {a_rss / b_rss:.3f}", flush=True)
        med = [statistics.median(c) for c in zip(*rows)]
        print(f"SUMMARY mode={mode} threads={args.threads} thresh_{key}={med[0]:.4f} "
              f"torch_{key}={med[1]:.4f} ratio={med[2]:.3f} thresh_rss_mb={med[3]:.0f} "
              f"torch_rss_mb={med[4]:.0f} rss_ratio={med[5]:.3f}", flush=True)


if __name__ == "__main__":
    main()
