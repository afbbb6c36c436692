#!/usr/bin/env python3
"""Fine-tuning throughput of a pretrained BERT encoder: thresh and PyTorch + transformers.

Both sides fine-tune the same checkpoint (all-MiniLM-L6-v2 by default, fetched by
scripts/fetch-minilm.sh) on the same synthetic batches: the encoder in training mode (its
dropout), mean pooling over the tokens, a new 4-class linear head, cross-entropy, AdamW with
learning rate 1e-4 and weight decay 0.01. Batches come from the xorshift64* generator the
reference benchmark uses (seed 42; token 0 is next() % 64 and sets the label, the others are
next() % vocabulary), `--batch` sequences of `--seq` tokens with no padding.

Rounds alternate thresh (`thresh bench --pretrained DIR`) and PyTorch (this script with
--torch-side, in the Python given by --python); each reports the median step time over
`--steps` steps after `--warmup`. The summary gives the medians over rounds, tokens per second
(batch x seq / step time) and the ratio thresh / PyTorch, with each side's peak RSS.

    python3 bench/bert_vs_torch.py --python VENV/bin/python [--model target/minilm]
        [--rounds 3] [--batch 32] [--seq 64] [--steps 20] [--warmup 3] [--threads 2]

The PyTorch side needs torch and transformers (`VENV/bin/pip install torch transformers`).
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
    from transformers import AutoModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = AutoModel.from_pretrained(args.model)
    vocab = encoder.config.vocab_size
    head = nn.Linear(encoder.config.hidden_size, 4)
    dropout = nn.Dropout(encoder.config.hidden_dropout_prob)
    params = list(encoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    rng = XorShift(42)
    batches = []
    for _ in range(args.warmup + args.steps):
        rows = [[rng.next() % 64] + [rng.next() % vocab for _ in range(args.seq - 1)]
                for _ in range(args.batch)]
        batches.append((torch.tensor(rows), torch.tensor([r[0] % 4 for r in rows])))
    encoder.train()
    times = []
    for ids, labels in batches:
        start = time.perf_counter()
        optimizer.zero_grad()
        hidden = encoder(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        loss = loss_fn(head(dropout(hidden.mean(1))), labels)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    print(f"RESULT mode=train median_step_s={statistics.median(times[args.warmup:]):.4f}")


def step_time(cmd):
    fields, rss = run(cmd)
    return float(fields["median_step_s"]), rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="a Python with torch, transformers")
    ap.add_argument("--thresh", default=str(ROOT / "target" / "release" / "thresh"))
    ap.add_argument("--model", default=str(ROOT / "target" / "minilm"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--torch-side", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_side:
        torch_side(args)
        return
    if not Path(args.model, "model.safetensors").exists():
        sys.exit(f"{args.model}: no checkpoint (scripts/fetch-minilm.sh {args.model})")
    shape = ["--batch", str(args.batch), "--seq", str(args.seq), "--steps", str(args.steps),
             "--warmup", str(args.warmup), "--threads", str(args.threads)]
    ours = [args.thresh, "bench", "--mode", "train", "--pretrained", args.model] + shape
    theirs = [args.python, __file__, "--torch-side", "--model", args.model] + shape
    tokens = args.batch * args.seq
    rows = []
    for r in range(args.rounds):
        (a, a_rss), (b, b_rss) = step_time(ours), step_time(theirs)
        rows.append((a, b, tokens / a, tokens / b, (tokens / a) / (tokens / b), a_rss, b_rss))
        print(f"round {r + 1}: thresh {a:.4f} s/step {tokens / a:.0f} tokens/s rss {a_rss:.0f}MB"
              f" | torch {b:.4f} s/step {tokens / b:.0f} tokens/s rss {b_rss:.0f}MB"
              f" | speed ratio {(tokens / a) / (tokens / b):.3f}", flush=True)
    med = [statistics.median(c) for c in zip(*rows)]
    print(f"SUMMARY batch={args.batch} seq={args.seq} threads={args.threads} "
          f"thresh_step_s={med[0]:.4f} torch_step_s={med[1]:.4f} "
          f"thresh_tokens_per_s={med[2]:.0f} torch_tokens_per_s={med[3]:.0f} "
          f"speed_ratio={med[4]:.3f} thresh_rss_mb={med[5]:.0f} torch_rss_mb={med[6]:.0f}")


if __name__ == "__main__":
    main()
