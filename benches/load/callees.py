#!/usr/bin/env python3
"""Splits the samples of one function by the function it called (default) or by its caller
(--callers), from `perf script -F comm,ip,sym` output of a call-graph profile
(benches/load/profile.sh). Prints how many samples include the function, then the split."""
import collections
import re
import sys


def stacks(path):
    cur = []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                yield cur
            cur = []
        elif line[0] in "\t ":
            parts = line.strip().split(" ", 1)
            cur.append(re.sub(r"\+0x[0-9a-f]+", "", parts[-1]))
    if cur:
        yield cur


def main():
    args = [a for a in sys.argv[1:] if a != "--callers"]
    callers = "--callers" in sys.argv
    if len(args) != 2:
        sys.exit("usage: callees.py [--callers] PERF_SCRIPT_OUTPUT FUNCTION_SUBSTRING")
    path, target = args
    split, total, hits = collections.Counter(), 0, 0
    for s in stacks(path):
        total += 1
        # Frames run from the sampled function outwards; the outermost match is the one asked.
        at = [i for i, f in enumerate(s) if target in f]
        if not at:
            continue
        hits += 1
        i = at[-1]
        if callers:
            split[s[i + 1][:110] if i + 1 < len(s) else "(root)"] += 1
        else:
            split[s[i - 1][:110] if i > 0 else "(self)"] += 1
    print(f"{hits} of {total} samples ({100 * hits / max(total, 1):.1f}%)")
    for name, n in split.most_common(15):
        print(f"{n:6} {100 * n / max(total, 1):5.1f}%  {name}")


main()
