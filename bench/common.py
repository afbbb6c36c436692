"""Pieces the side-by-side benchmark scripts share: the batch generator and child runs."""

import os
import subprocess
import sys

MASK = (1 << 64) - 1


class XorShift:
    """xorshift64*, as `thresh bench` uses: x ^= x >> 12; x ^= x << 25; x ^= x >> 27, then
    ((x * 0x2545F4914F6CDD1D) mod 2^64) >> 33."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        x = self.state
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        self.state = x
        return ((x * 0x2545F4914F6CDD1D) & MASK) >> 33


def run(cmd):
    """Runs `cmd`; returns the fields of its `RESULT k=v ...` line and its peak RSS in MB."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"command failed ({code}): {' '.join(map(str, cmd))}")
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"no RESULT line from: {' '.join(map(str, cmd))}")
    return dict(kv.split("=", 1) for kv in line.split()[1:]), usage.ru_maxrss / 1024.0
