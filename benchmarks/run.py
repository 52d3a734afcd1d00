"""Benchmark tap-exec against the simulator: throughput, CPU, memory, requests and rate-limited wall time.

CPU per record is compared with a hand-written floor (benchmarks/baseline.py, a bare requests + json loop). Prints a
table, writes results/latest.json and a PNG chart (records/s against data size).

    python benchmarks/run.py                      # 10k, 100k and 300k sessions, a 150-request run at 60/min, daily runs,
                                                  # and the comparison with the bare loop at 6k and 30k sessions
    python benchmarks/run.py --versus-only        # only that comparison (about a minute)
    python benchmarks/run.py --sizes 1000 --rate-requests 12 --rate-window 3 --daily-quick   # a quick smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import daily  # noqa: E402  (benchmarks/daily.py, beside this script)

from tap_exec.simulator import Counts, Limits, Simulator, build  # noqa: E402
from tap_exec.simulator.data import iso  # noqa: E402
from tests.helpers import catalog_for, recent  # noqa: E402

DAY = 86_400


@dataclass
class Measure:
    """One process run: wall seconds, CPU seconds (user + system), peak RSS, and what it wrote."""

    wall: float
    cpu: float
    peak_mb: float
    output: Output


@dataclass
class Output:
    """What a tap wrote: its records (a digest of their payloads, in order) and its last bookmark."""

    records: int = 0
    digest: str = ""
    state: t.Any = None

    @classmethod
    def of(cls, lines: t.Iterable[str]) -> Output:
        """Read Singer messages; payloads digested in canonical JSON (time_extracted differs by design)."""
        out, sha = cls(), hashlib.sha256()
        for line in lines:
            message = json.loads(line)
            if message["type"] == "RECORD":
                out.records += 1
                sha.update(json.dumps(message["record"], sort_keys=True).encode())
            elif message["type"] == "STATE":
                out.state = message["value"]
        out.digest = sha.hexdigest()
        return out


def _peak_mb(pid: int) -> float | None:
    """VmHWM of `pid`: the peak RSS of the program it runs now (ru_maxrss would include the forked parent's pages)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:  # noqa: PTH123
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


def run_process(cmd: list[str], env: dict[str, str] | None = None) -> Measure:
    """Run `cmd` with stdout to a file; measure it alone (not the simulator): CPU from wait4, peak RSS polled."""
    started = time.perf_counter()
    peak = 0.0
    with tempfile.TemporaryFile("w+") as sink, tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=errors, env={**os.environ, **(env or {})})
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _peak_mb(proc.pid) or 0.0)
            time.sleep(0.02)
        wall = time.perf_counter() - started
        if status != 0:
            errors.seek(0)
            raise SystemExit(f"{cmd[:3]} failed:\n{errors.read()[-3000:]}")
        sink.seek(0)
        return Measure(wall, usage.ru_utime + usage.ru_stime, peak, Output.of(sink))


def requests_made(sim: Simulator, since: int) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """The requests a run made (path and query), leaving out the date filters, which each side takes from its own clock."""
    return [
        (path, tuple(sorted((k, v) for k, v in query.items() if k not in {"end_date", "start_date"})))
        for path, query, _ in sim.stats.log[since:]
    ]


def tap_command(sim: Simulator, workdir: Path, selected: set[str], python: str = sys.executable, **settings: t.Any) -> list[str]:  # noqa: ANN401
    """tap-exec's CLI on `sim` with `selected` streams, run by `python`."""
    config = {"api_key": sim.api_key, "api_url": sim.url, "max_requests_per_minute": 1_000_000, "daily_request_budget": 10**9}
    config |= settings
    (workdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (workdir / "catalog.json").write_text(json.dumps(catalog_for(config, selected)), encoding="utf-8")
    return [
        python,
        "-m",
        "tap_exec",
        "--config",
        str(workdir / "config.json"),
        "--catalog",
        str(workdir / "catalog.json"),
    ]


def throughput(sizes: list[int], workdir: Path) -> list[dict[str, t.Any]]:
    """tap-exec vs the baseline on `sessions` at each size."""
    rows = []
    for size in sizes:
        # Sessions of the last five days, read from a start_date before them: the tap's current read, oldest first,
        # the same requests the baseline makes (history and its marks are measured by benchmarks/onboarding.py).
        with Simulator(recent(build(1, Counts.scaled(0.1, sessions=size)), within=5 * DAY)) as sim:
            tap = run_process(tap_command(sim, workdir, {"sessions"}, start_date=iso(int(time.time()) - 6 * DAY)))
            tap_requests = requests_made(sim, 0)
            base = run_process([sys.executable, str(HERE / "baseline.py"), sim.url, sim.api_key])
            base_requests = requests_made(sim, len(tap_requests))
        minimum = math.ceil(size / 100)
        bookmark = "replication_key_value"
        same_state = tap.output.state["bookmarks"]["sessions"][bookmark] == base.output.state["bookmarks"]["sessions"][bookmark]
        rows.append(
            {
                "sessions": size,
                "tap_records_per_s": size / tap.wall,
                "tap_cpu_per_10k": tap.cpu / size * 10_000,
                "base_records_per_s": size / base.wall,
                "base_cpu_per_10k": base.cpu / size * 10_000,
                "cpu_ratio": tap.cpu / base.cpu,
                "tap_peak_mb": tap.peak_mb,
                "base_peak_mb": base.peak_mb,
                "requests": len(tap_requests),
                "minimum_requests": minimum,
                "baseline_requests": len(base_requests),
                "same_requests": tap_requests == base_requests,
                "records": tap.output.records,
                "same_messages": (tap.output.records, tap.output.digest) == (base.output.records, base.output.digest)
                and same_state,
            }
        )
    return rows


#: What the tap may cost over the bare loop on `sessions` (issue 20): CPU for the whole run, and for each extra record.
TARGET_TOTAL, TARGET_MARGINAL = 1.4, 1.3


def versus_baseline(sizes: list[int], repeats: int, workdir: Path, python: str) -> dict[str, t.Any]:
    """tap-exec against the bare loop on `sessions` at each size: median CPU seconds and peak RSS of `repeats` runs.

    Each size starts with a warm-up run of each; then tap and loop alternate, so a machine busy with something
    else slows both alike. The marginal ratio is the tap's CPU per extra record between the smallest and the
    largest size over the loop's: start-up, which the loop barely has, cancels out.
    """
    rows: list[dict[str, t.Any]] = []
    for size in sizes:
        with Simulator(recent(build(1, Counts.scaled(0.1, sessions=size)), within=5 * DAY)) as sim:
            tap_cmd = tap_command(sim, workdir, {"sessions"}, python, start_date=iso(int(time.time()) - 6 * DAY))
            base_cmd = [python, str(HERE / "baseline.py"), sim.url, sim.api_key]
            for warm_up in (tap_cmd, base_cmd):
                run_process(warm_up)
            runs = [(run_process(tap_cmd), run_process(base_cmd)) for _ in range(repeats)]
        if any(not tap.output.records == base.output.records == size for tap, base in runs):
            raise SystemExit(f"the tap or the loop did not read all {size} sessions")
        tap_cpu, base_cpu = statistics.median(r[0].cpu for r in runs), statistics.median(r[1].cpu for r in runs)
        rows.append(
            {
                "sessions": size,
                "tap_cpu_s": tap_cpu,
                "base_cpu_s": base_cpu,
                "cpu_ratio": tap_cpu / base_cpu,
                "tap_peak_mb": statistics.median(r[0].peak_mb for r in runs),
                "base_peak_mb": statistics.median(r[1].peak_mb for r in runs),
                "tap_cpu_runs": [round(r[0].cpu, 3) for r in runs],
                "base_cpu_runs": [round(r[1].cpu, 3) for r in runs],
            }
        )
    first, last = rows[0], rows[-1]
    extra_base = last["base_cpu_s"] - first["base_cpu_s"]
    marginal = (last["tap_cpu_s"] - first["tap_cpu_s"]) / extra_base if extra_base > 0 and len(rows) > 1 else None
    return {
        "python": python,
        "repeats": repeats,
        "sizes": rows,
        "marginal_ratio": marginal,
        "tap_peak_growth_mb": last["tap_peak_mb"] - first["tap_peak_mb"],
        "within_target": last["cpu_ratio"] <= TARGET_TOTAL and marginal is not None and marginal <= TARGET_MARGINAL,
    }


def versus_report(versus: dict[str, t.Any]) -> str:
    """The comparison with the bare loop, as printed."""
    lines = [
        f"versus the bare loop (sessions; median of {versus['repeats']} after a warm-up; {versus['python']}):",
        f"{'sessions':>9} {'tap cpu':>8} {'loop cpu':>9} {'ratio':>6} {'tap MB':>7} {'loop MB':>8}",
    ]
    lines += [
        f"{r['sessions']:>9} {r['tap_cpu_s']:>7.2f}s {r['base_cpu_s']:>8.2f}s {r['cpu_ratio']:>6.2f} "
        f"{r['tap_peak_mb']:>7.1f} {r['base_peak_mb']:>8.1f}"
        for r in versus["sizes"]
    ]
    first, last = versus["sizes"][0], versus["sizes"][-1]
    marginal = versus["marginal_ratio"]
    lines.append(
        f"total at {last['sessions']:,}: {last['cpu_ratio']:.2f}x the loop (target <= {TARGET_TOTAL}x); "
        f"marginal {first['sessions']:,} -> {last['sessions']:,}: "
        + (f"{marginal:.2f}x" if marginal is not None else "-")
        + f" (target <= {TARGET_MARGINAL}x); tap peak RSS {versus['tap_peak_growth_mb']:+.1f} MB"
    )
    return "\n".join(lines)


def all_streams_requests(workdir: Path) -> dict[str, int]:
    """Every stream, children included, on a small workspace: requests made vs the planned minimum.

    The planner's first run reads the sessions list's pages twice (for the marts first, then for the details, newest
    first) plus the last week's page, and the pages list's archived pages: the minimum counts them.
    """
    from tests.expected import ENDPOINTS, expected_records

    with Simulator(build(2, Counts.scaled(0.5, sessions=2_345))) as sim:
        run_process(tap_command(sim, workdir, set(ENDPOINTS)))
        made = sim.stats.requests
        minimum = 0
        for stream, (_, _, parent, key, _) in ENDPOINTS.items():
            if parent is None:
                minimum += max(1, math.ceil(len(expected_records(sim, stream)) / 100))
                if stream == "sessions":  # a first run: the last week's page, and history read again for its details
                    minimum += 1 + math.ceil(len(expected_records(sim, stream)) / 100)
                if stream == "knowledge_hub_pages":  # the list leaves archived pages out: they are asked for too
                    minimum += 1
            else:  # one per parent, more only where one parent's children span several pages
                parents = expected_records(sim, parent)
                per_parent = {p["id"]: 0 for p in parents}
                for row in expected_records(sim, stream):
                    per_parent[row[str(key)]] += 1
                minimum += sum(max(1, math.ceil(n / 100)) for n in per_parent.values())
    return {"requests": made, "minimum_requests": minimum}


def rate_limited(requests: int, per_window: int, window: float, workdir: Path) -> dict[str, t.Any]:
    """A run of `requests` requests against a simulator limiting to `per_window` per `window` seconds."""
    sessions = (requests - 1) * 100  # a first run: the last week's (empty) page, then the history
    limits = Limits(per_window=per_window, window=window)
    with Simulator(build(3, Counts.scaled(0.1, sessions=sessions)), limits=limits) as sim:
        cmd = tap_command(sim, workdir, {"sessions"}, max_requests_per_minute=per_window, rate_limit_window_seconds=window)
        measure = run_process(cmd)
        made, throttled = sim.stats.requests, sim.stats.count(429)
    floor = ((made - 1) // per_window) * window  # the earliest the last request may start in a sliding window
    return {
        "requests": made,
        "limit": f"{per_window}/{window:g}s",
        "wall_s": measure.wall,
        "floor_s": floor,
        "ratio": measure.wall / floor if floor else None,
        "429s": throttled,
    }


def chart(rows: list[dict[str, t.Any]], path: Path) -> None:
    """records/s against data size, tap-exec and the baseline."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["sessions"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sizes, [r["tap_records_per_s"] for r in rows], marker="o", label="tap-exec")
    ax.plot(sizes, [r["base_records_per_s"] for r in rows], marker="s", label="hand-written baseline")
    ax.axhline(100, color="grey", linestyle="--", label="API ceiling (60 req/min x 100 rows)")
    ax.set(xscale="log", yscale="log", xlabel="sessions", ylabel="records/s (unthrottled simulator)", title="tap-exec throughput")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


COLUMNS = (
    ("sessions", "sessions", "{:>9}"),
    ("tap rec/s", "tap_records_per_s", "{:>10.0f}"),
    ("base rec/s", "base_records_per_s", "{:>10.0f}"),
    ("tap cpu/10k", "tap_cpu_per_10k", "{:>10.2f}s"),
    ("base cpu/10k", "base_cpu_per_10k", "{:>11.2f}s"),
    ("ratio", "cpu_ratio", "{:>6.2f}"),
    ("marginal", "marginal_ratio", "{:>8}"),
    ("tap MB", "tap_peak_mb", "{:>7.1f}"),
    ("base MB", "base_peak_mb", "{:>7.1f}"),
    ("requests", "requests", "{:>9}"),
    ("minimum", "minimum_requests", "{:>8}"),
    ("base req", "baseline_requests", "{:>9}"),
    ("same req", "same_requests", "{!s:>9}"),
    ("same msgs", "same_messages", "{!s:>10}"),
)


def _sample(key: str) -> t.Any:  # noqa: ANN401 - a value of the column's kind, for its width
    return "-" if key == "marginal_ratio" else True if key.startswith("same") else 0


def report(rows: list[dict[str, t.Any]]) -> str:
    """The throughput table; `marginal` is the tap/baseline ratio of CPU per extra record since the previous size."""
    for previous, row in zip([None, *rows], rows, strict=False):
        row["marginal_ratio"] = "-"
        if previous:
            extra = row["sessions"] - previous["sessions"]
            tap = row["tap_cpu_per_10k"] * row["sessions"] - previous["tap_cpu_per_10k"] * previous["sessions"]
            base = row["base_cpu_per_10k"] * row["sessions"] - previous["base_cpu_per_10k"] * previous["sessions"]
            row["marginal_ratio"] = f"{tap / base:.2f}" if base > 0 and extra > 0 else "-"
    header = " ".join(f"{title:>{len(fmt.format(_sample(key)))}}" for title, key, fmt in COLUMNS)
    lines = [" ".join(fmt.format(row[key]) for _, key, fmt in COLUMNS) for row in rows]
    return "\n".join([header, *lines])


def main() -> None:
    """Run the benchmark and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    parser.add_argument("--rate-requests", type=int, default=150, help="requests in the rate-limited run (0: skip)")
    parser.add_argument("--rate-limit", type=int, default=60)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument("--daily-grid", type=int, nargs="*", default=[25, 50, 100, 200, 300, 400, 600, 800])
    parser.add_argument("--daily-quick", action="store_true", help="small daily figures only (no capacity search, no backfill)")
    parser.add_argument("--versus-sizes", type=int, nargs="+", default=[6_000, 30_000], help="sizes compared with the bare loop")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each at each of --versus-sizes (median)")
    parser.add_argument("--versus-only", action="store_true", help="only the comparison with the bare loop")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter that runs the tap and the loop in that comparison, e.g. .meltano/extractors/tap-exec/venv/bin/python",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        versus = versus_baseline(args.versus_sizes, args.repeats, workdir, args.python)
        if args.versus_only:
            print(f"machine: {machine}")
            print(versus_report(versus))
            (args.out / "versus.json").write_text(json.dumps({"machine": machine, "versus": versus}, indent=2), encoding="utf-8")
            print(f"wrote {args.out / 'versus.json'}")
            return
        rows = throughput(args.sizes, workdir)
        requests = all_streams_requests(workdir)
        limited = rate_limited(args.rate_requests, args.rate_limit, args.rate_window, workdir) if args.rate_requests else None
    days = daily.run(args.daily_grid, quick=args.daily_quick)
    print(f"machine: {machine}")
    print(versus_report(versus))
    print(report(rows))
    print(f"all streams (children included): {requests['requests']} requests, minimum {requests['minimum_requests']}")
    if limited:
        print(
            f"rate-limited: {limited['requests']} requests at {limited['limit']}: {limited['wall_s']:.1f}s, "
            f"floor {limited['floor_s']:.1f}s, ratio {limited['ratio']:.3f}, 429s {limited['429s']}"
        )
    memory = rows[-1]["tap_peak_mb"] / rows[0]["tap_peak_mb"]
    print(f"peak memory, largest vs smallest size: {memory:.2f}x")
    print(daily.report(days))
    result = {
        "machine": machine,
        "versus": versus,
        "throughput": rows,
        "all_streams": requests,
        "rate_limited": limited,
        "memory_ratio": memory,
        "daily": days,
    }
    (args.out / "latest.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    chart(rows, args.out / "throughput.png")
    daily.chart(days, args.out / "daily.png")
    print(f"wrote {args.out / 'latest.json'}, {args.out / 'throughput.png'} and {args.out / 'daily.png'}")


if __name__ == "__main__":
    main()
