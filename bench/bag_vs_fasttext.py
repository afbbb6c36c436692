#!/usr/bin/env python3
"""thresh's bag model side by side with the fastText CLI, on the same files in the same run.

For each dataset (TSV with a header, label and text columns, as in ../shared/datasets), both
tools train with bigrams, 50 dimensions, learning rate 0.5, 10 epochs and 2 threads on the
whole training file, then score the test file. Rounds alternate the two tools; the script
prints each round and the medians of training wall time, prediction wall time, test accuracy
and model size, with thresh/fastText ratios.

    python3 bench/bag_vs_fasttext.py [--datasets ../shared/datasets] [--rounds 3] [--loss ova]

Needs the `fasttext` binary (Debian: apt-get install fasttext) and a release build of thresh.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SETTINGS = {"ngrams": 2, "dim": 50, "lr": 0.5, "epochs": 10, "threads": 2, "loss": "softmax"}


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = [h.lower() for h in rows[0]]
    label = header.index("label")
    text = next(i for i, h in enumerate(header) if i != label)
    return [(r[label], r[text]) for r in rows[1:] if len(r) > max(label, text)]


def write_fasttext(rows, path):
    with open(path, "w", encoding="utf-8") as f:
        for label, text in rows:
            f.write(f"__label__{label} {text}\n")


def timed(cmd, **kw):
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    return time.perf_counter() - start, out.stdout


def dir_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def fasttext_round(work, train_ft, test_ft, test_rows):
    model = os.path.join(work, "ft")
    s = SETTINGS
    train_s, _ = timed([
        "fasttext", "supervised", "-input", train_ft, "-output", model,
        "-wordNgrams", str(s["ngrams"]), "-dim", str(s["dim"]), "-lr", str(s["lr"]),
        "-epoch", str(s["epochs"]), "-thread", str(s["threads"]), "-verbose", "0",
        "-loss", s["loss"],
    ])
    texts = os.path.join(work, "texts.txt")
    with open(texts, "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for _, t in test_rows)
    predict_s, out = timed(["fasttext", "predict", model + ".bin", texts])
    predicted = [line.strip().removeprefix("__label__") for line in out.splitlines()]
    accuracy = sum(p == l for p, (l, _) in zip(predicted, test_rows)) / len(test_rows)
    return train_s, predict_s, accuracy, dir_size(model + ".bin")


def thresh_round(thresh, work, train_tsv, test_tsv, test_rows):
    model = os.path.join(work, "thresh-model")
    shutil.rmtree(model, ignore_errors=True)
    s = SETTINGS
    train_s, _ = timed([
        thresh, "train", "--train", train_tsv, "--out", model, "--model", "bag",
        "--ngrams", str(s["ngrams"]), "--dim", str(s["dim"]), "--lr", str(s["lr"]),
        "--epochs", str(s["epochs"]), "--threads", str(s["threads"]),
        "--valid-fraction", "0", "--loss", s["loss"], "-q",
    ])
    texts = os.path.join(work, "texts.txt")
    with open(texts, "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for _, t in test_rows)
    predict_s, out = timed([thresh, "predict", model, texts])
    predicted = [json.loads(line)["label"] for line in out.splitlines()]
    accuracy = sum(p == l for p, (l, _) in zip(predicted, test_rows)) / len(test_rows)
    return train_s, predict_s, accuracy, dir_size(model)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=os.path.join(ROOT, "..", "shared", "datasets"))
    ap.add_argument("--names", default="sst2,trec")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--thresh", default=os.path.join(ROOT, "target", "release", "thresh"))
    ap.add_argument("--loss", choices=["softmax", "ova"], default="softmax",
                    help="the loss of both tools (fastText's -loss)")
    args = ap.parse_args()
    SETTINGS["loss"] = args.loss
    if shutil.which("fasttext") is None:
        sys.exit("fasttext not found (apt-get install fasttext)")
    if not os.path.exists(args.thresh):
        sys.exit(f"{args.thresh} not found (cargo build --release)")
    for name in args.names.split(","):
        train_tsv = os.path.join(args.datasets, name, "train.tsv")
        test_tsv = os.path.join(args.datasets, name, "test.tsv")
        if not os.path.exists(train_tsv):
            print(f"{name}: {train_tsv} not found, skipped")
            continue
        with tempfile.TemporaryDirectory() as work:
            train_ft = os.path.join(work, "train.ft")
            test_ft = os.path.join(work, "test.ft")
            test_rows = read_tsv(test_tsv)
            write_fasttext(read_tsv(train_tsv), train_ft)
            write_fasttext(test_rows, test_ft)
            results = {"thresh": [], "fasttext": []}
            for r in range(args.rounds):
                results["fasttext"].append(fasttext_round(work, train_ft, test_ft, test_rows))
                results["thresh"].append(
                    thresh_round(args.thresh, work, train_tsv, test_tsv, test_rows))
                t, f = results["thresh"][-1], results["fasttext"][-1]
                print(f"{name} round {r + 1}: thresh train {t[0]:.2f}s predict {t[1]:.2f}s "
                      f"acc {t[2]:.4f} size {t[3] / 1e6:.1f}MB | fasttext train {f[0]:.2f}s "
                      f"predict {f[1]:.2f}s acc {f[2]:.4f} size {f[3] / 1e6:.1f}MB")
            med = {k: [statistics.median(x[i] for x in v) for i in range(4)]
                   for k, v in results.items()}
            t, f = med["thresh"], med["fasttext"]
            print(f"SUMMARY {name} train_s thresh={t[0]:.2f} fasttext={f[0]:.2f} "
                  f"ratio={t[0] / f[0]:.3f} predict_s thresh={t[1]:.2f} fasttext={f[1]:.2f} "
                  f"ratio={t[1] / f[1]:.3f} accuracy thresh={t[2]:.4f} fasttext={f[2]:.4f} "
                  f"size_mb thresh={t[3] / 1e6:.1f} fasttext={f[3] / 1e6:.1f}")


if __name__ == "__main__":
    main()
