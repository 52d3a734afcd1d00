"""The many-day soak (tests/soak.py) on many seeds: runs, kills, requests, the busiest API day, every broken promise.

Unlike the CI test it enables every operation by default, and it never stops at a violation: each seed's soak runs
to its end and reports all it found (day, invariant, detail, the run operations in play that day).

    python benchmarks/soak.py                          # 20 seeds x 60 days, every operation
    python benchmarks/soak.py --seeds 5 --days 30      # a shorter run
    python benchmarks/soak.py --only start_date        # the CI test's operations plus one: its minimal reproduction
    python benchmarks/soak.py --operations kills,new_sessions,old_deletions
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import typing as t
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.soak import OPERATIONS, soak  # noqa: E402
from tests.test_soak import PASSING  # noqa: E402

if t.TYPE_CHECKING:
    from tests.soak import Soak


def operations(args: argparse.Namespace) -> frozenset[str]:
    """The operations to enable: --only adds one to the CI test's set; --operations names them all."""
    if args.only:
        return PASSING | {args.only}
    if args.operations:
        return frozenset(name.strip() for name in args.operations.split(",") if name.strip())
    return OPERATIONS


def report(result: Soak, seconds: float) -> None:
    """One seed's figures, then each violation on its own line."""
    s = result.summary()
    print(
        f"seed {s['seed']:>3}: {s['runs']} runs, {s['kills']} kills, {s['requests']:,} requests, "
        f"max {s['max_day_requests']} in an API day; busiest against its budget: day {s['busiest_day']}, "
        f"{s['busiest_day_requests']} of {s['busiest_day_budget']:,}; {s['violations']} violations ({seconds:.1f} s)"
    )
    for violation in result.violations:
        print(f"    {violation}")


def main() -> None:
    """Soak each seed in turn and print a summary line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="seeds 1..N (default 20)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=60, help="changing days per seed, before the quiet days (default 60)")
    parser.add_argument("--only", choices=sorted(OPERATIONS), help="the CI test's operations plus this one")
    parser.add_argument("--operations", help="comma-separated operations to enable (default: all)")
    args = parser.parse_args()
    enabled = operations(args)
    logging.disable(logging.CRITICAL)  # the tap logs every request, and each failure the report already shows
    print(f"operations: {', '.join(sorted(enabled))}")
    started = time.monotonic()
    totals: Counter[str] = Counter()
    failing: Counter[str] = Counter()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        begun = time.monotonic()
        result = soak(seed, args.days, enabled)
        report(result, time.monotonic() - begun)
        s = result.summary()
        totals.update({"runs": s["runs"], "kills": s["kills"], "requests": s["requests"], "violations": s["violations"]})
        failing.update({v.invariant for v in result.violations})
        totals["seeds failing"] += bool(result.violations)
    broken = ", ".join(f"{name} ({n} seeds)" for name, n in sorted(failing.items())) or "none"
    print(
        f"summary: {args.seeds} seeds x {args.days} days, {totals['runs']} runs, {totals['kills']} kills, "
        f"{totals['requests']:,} requests, {totals['violations']} violations in {totals['seeds failing']} seeds; "
        f"invariants broken: {broken}; {time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
