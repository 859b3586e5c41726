"""``hashrc captures show FILE``: what a capture holds."""

from __future__ import annotations

import argparse

HELP = "Inspect capture files: `hashrc captures show FILE` prints metadata and share counts by outcome."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show"])
    parser.add_argument("capture", help="capture file (.sqlite)")


def summarise(path: str) -> str:
    """Metadata (inputs left out), event counts per table and shares by outcome."""
    from collections import Counter

    from asic_bridge.capture import CaptureReader
    from asic_bridge.events import KIND_EVENTS

    with CaptureReader(path) as reader:
        meta = {k: v for k, v in reader.metadata().items() if k != "input_u"}
        counts = {t: reader.count(t) for t in KIND_EVENTS}
        outcomes = Counter(row[reader.columns("shares").index("outcome")] for row in reader.rows("shares"))
        ok = reader.integrity_ok()
        stats = reader.writer_stats()
    lines = [f"capture {path} (integrity {'ok' if ok else 'FAILED'})"]
    lines += [f"  {k}: {v}" for k, v in sorted(meta.items())]
    lines += ["events:"] + [f"  {t}: {n}" for t, n in counts.items()]
    lines += ["shares by outcome:"] + [f"  {o}: {n}" for o, n in sorted(outcomes.items())]
    if stats:
        lines += [
            "capture writer (as of its last commit):",
            f"  commits: {stats['batches']}, events per commit: mean {stats['mean_batch']}, "
            f"max {stats['max_batch']}",
            f"  queue depth: max {stats['max_backlog']} events waiting",
            f"  worst commit gap: {stats['max_commit_gap_s']:.3f} s "
            f"(longest single commit {stats['max_commit_s']:.3f} s)",
            f"  producers held at the queue bound: {stats['producer_waits']} times, "
            f"{stats['producer_wait_s']:.3f} s in all",
        ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    print(summarise(args.capture))
    return 0
