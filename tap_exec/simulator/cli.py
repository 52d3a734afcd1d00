"""`exec-simulator`: run the Exec API simulator on loopback until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tap_exec.simulator.data import Counts
from tap_exec.simulator.drift import ApiDrift
from tap_exec.simulator.seed import build
from tap_exec.simulator.server import DEFAULT_API_KEY, Faults, Limits, Simulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options: where to listen, what data to seed, which limits and faults to apply."""
    parser = argparse.ArgumentParser(prog="exec-simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--seed", type=int, default=7, help="data seed (same seed, same data)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplier on the default row counts")
    parser.add_argument("--sessions", type=int, help="exact number of sessions (overrides --scale)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the bearer key the simulator accepts")
    parser.add_argument("--rate-limit", type=int, help="requests allowed per --rate-window seconds")
    parser.add_argument("--rate-window", type=float, default=60.0, help="rate-limit window in seconds (default 60)")
    parser.add_argument("--retry-after", type=float, help="retry_after announced on 429 (default: real time to wait)")
    parser.add_argument(
        "--daily-limit",
        type=int,
        help="requests allowed per API day (UTC day of the simulator's clock; then 429 with retry_after to its midnight)",
    )
    parser.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the API's clock (its Date header, the day of --daily-limit, new rows) runs this far ahead of the wall clock",
    )
    parser.add_argument("--retry-style", default="body", choices=("body", "error", "header", "header-date", "none"))
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability that a request fails (seeded)")
    parser.add_argument("--fault-seed", type=int, default=1)
    parser.add_argument("--churn-every", type=int, default=0, help="change one session or page every N requests (seeded)")
    parser.add_argument("--gzip", action="store_true", help="gzip responses when the client accepts it")
    parser.add_argument(
        "--extra-field",
        action="append",
        default=[],
        metavar="STREAM.FIELD",
        help="serve an undocumented object field on every row of a list (repeatable), e.g. sessions.sentiment",
    )
    parser.add_argument("--string-scores", action="store_true", help='serve sessions\' score as a numeric string ("48.3")')
    parser.add_argument("--text-scores", action="store_true", help='serve one graded score in four as text ("48.3 pts")')
    parser.add_argument(
        "--assignment-scores",
        action="store_true",
        help="serve assignments' best_score as --string-scores and --text-scores serve sessions' score",
    )
    parser.add_argument("--url-file", help="also write the base URL to this file once listening")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Start the simulator, print its URL, serve until SIGINT/SIGTERM."""
    args = parse_args(argv)
    overrides = {"sessions": args.sessions} if args.sessions is not None else {}
    sim = Simulator(
        build(args.seed, Counts.scaled(args.scale, **overrides)),
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        faults=Faults(rate=args.fault_rate, seed=args.fault_seed),
        limits=Limits(
            per_window=args.rate_limit,
            window=args.rate_window,
            retry_after=args.retry_after,
            daily=args.daily_limit,
            style=args.retry_style,
        ),
        compress=args.gzip,
        churn_every=args.churn_every,
        clock_offset=args.clock_offset,
        drift=ApiDrift(
            tuple(args.extra_field),
            string_scores=args.string_scores,
            text_scores=args.text_scores,
            assignment_scores=args.assignment_scores,
        ),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sim.start()
    print(sim.url, flush=True)  # noqa: T201 - the command's output is its URL
    if args.url_file:
        with open(args.url_file, "w", encoding="utf-8") as handle:  # noqa: PTH123
            handle.write(sim.url + "\n")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        print(f"served {sim.stats.requests} requests", file=sys.stderr)  # noqa: T201


if __name__ == "__main__":
    main()
