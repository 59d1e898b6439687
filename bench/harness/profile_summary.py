"""Summarize a py-spy raw profile (`py-spy record --format raw -o FILE`): share of
samples per function, inclusive and self. Used for the profiles in bench/profiles/.

    .venv/bin/py-spy record --pid PID --duration 15 --format raw -o prof.txt [--gil]
    .venv/bin/python bench/harness/profile_summary.py prof.txt [--top 60] [--drop A,B]

--drop leaves out every stack with a frame containing one of the strings (a whole-run
profile's start-up or teardown), so the shares are of one phase.
"""

import argparse
from collections import Counter


def _name(frame: str) -> str:
    """`func (path/file.py:line)` -> `func (file.py)`."""
    func, _, where = frame.partition(" (")
    return f"{func} ({where.split(':')[0].rsplit('/', 1)[-1]}" + (")" if where else "")


def summarize(path: str, top: int, drop: tuple[str, ...] = ()) -> str:
    total = dropped = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in open(path):
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        n = int(count)
        if any(part in stack for part in drop):
            dropped += n
            continue
        total += n
        frames = [_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    lines = [f"samples: {total}" + (f" ({dropped} dropped: {', '.join(drop)})" if drop else "")]
    lines += ["", "inclusive:"]
    lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in own.most_common(top // 2)]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--drop", default="", help="comma-separated frame substrings")
    args = parser.parse_args()
    print(summarize(args.raw, args.top, tuple(filter(None, args.drop.split(",")))))
