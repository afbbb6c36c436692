#!/usr/bin/env python3
"""Inference speed of model directories side by side: a model and its compressed versions.

Each round runs `thresh bench --model DIR --mode infer` on every directory in turn (so slow
spells of a shared machine hit all of them alike): batches of 64 full-length sequences for
throughput and single sequences for latency. Prints the medians over the rounds and each
directory's ratio to the first one.

    python3 bench/compressed_speed.py trec trec-int8 trec-pruned --rounds 5
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model directories; the first is the baseline")
    ap.add_argument("--thresh", default="target/release/thresh")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40, help="timed batches of 64 per run")
    args = ap.parse_args()
    seq_per_s = {m: [] for m in args.models}
    latency = {m: [] for m in args.models}
    for _ in range(args.rounds):
        for m in args.models:
            base = [args.thresh, "bench", "--model", m, "--mode", "infer",
                    "--threads", str(args.threads)]
            r, _ = run(base + ["--batch", "64", "--steps", str(args.steps)])
            seq_per_s[m].append(float(r["seq_per_s"]))
            r, _ = run(base + ["--batch", "1", "--steps", "400", "--warmup", "40"])
            latency[m].append(1000.0 / float(r["seq_per_s"]))
    first = args.models[0]
    t0, l0 = statistics.median(seq_per_s[first]), statistics.median(latency[first])
    print(f"{'model':<40} {'seq/s (batch 64)':>17} {'ratio':>6} {'ms (batch 1, mean)':>13} {'speed-up':>9}")
    for m in args.models:
        t, lat = statistics.median(seq_per_s[m]), statistics.median(latency[m])
        print(f"{m:<40} {t:>17.0f} {t / t0:>6.2f} {lat:>19.3f} {l0 / lat:>9.2f}")


if __name__ == "__main__":
    main()
