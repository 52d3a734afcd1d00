"""CPU cost of the schema-drift check: 300k sessions with the check on, and with it off, median of 3 runs each.

    python benchmarks/drift.py [--sessions 300000] [--runs 3]

Process CPU time (user + system, from wait4), not wall time: the simulator shares the machine. "Off" is the same
tap with the writer's drift hook bypassed (`ExecWriter.write_message = ExecWriter.emit`), so the two runs differ
only by the check. The outputs must be the same records.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from run import run_process, tap_command  # noqa: E402

from tap_exec.simulator import Counts, Simulator, build  # noqa: E402

OFF = (
    "import tap_exec.output as o; o.ExecWriter.write_message = o.ExecWriter.emit; from tap_exec.tap import TapExec; TapExec.cli()"
)


def main() -> None:
    """Alternate on and off runs; print each run's CPU seconds and the medians' ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    digests = set()
    with tempfile.TemporaryDirectory() as tmp, Simulator(build(1, Counts.scaled(0.1, sessions=args.sessions))) as sim:
        on = tap_command(sim, Path(tmp), {"sessions"})
        off = [on[0], "-c", OFF, *on[3:]]
        for n in range(args.runs):
            for name, cmd in (("on", on), ("off", off)) if n % 2 == 0 else (("off", off), ("on", on)):
                measure = run_process(cmd)
                cpu[name].append(measure.cpu)
                digests.add((measure.output.records, measure.output.digest))
                print(f"{name:>3}: {measure.cpu:6.2f} s CPU, {measure.output.records:,} records", flush=True)
    median_on, median_off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
    print(
        f"median CPU: on {median_on:.2f} s, off {median_off:.2f} s: {100 * (median_on / median_off - 1):+.1f}% "
        f"({'same' if len(digests) == 1 else 'DIFFERENT'} records)"
    )


if __name__ == "__main__":
    main()
