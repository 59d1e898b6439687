"""Summarize a py-spy raw profile (`py-spy record --format raw -o FILE`): share of
samples per function, inclusive and self. Used for the profiles in bench/profiles/.

    .venv/bin/py-spy record --pid PID --duration 15 --format raw -o prof.txt [--gil]
    .venv/bin/python bench/harness/profile_summary.py prof.txt [--top 60]
"""

import argparse
from collections import Counter


def _name(frame: str) -> str:
    """`func (path/file.py:line)` -> `func (file.py)`."""
    func, _, where = frame.partition(" (")
    return f"{func} ({where.split(':')[0].rsplit('/', 1)[-1]}" + (")" if where else "")


def summarize(path: str, top: int) -> str:
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in open(path):
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    lines = [f"samples: {total}", "", "inclusive:"]
    lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in own.most_common(top // 2)]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    print(summarize(args.raw, args.top))
