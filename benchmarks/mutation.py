"""Mutation run: one-line mutants of the run's bookkeeping, drift and pagination code, each against the tests that run it.

    python benchmarks/mutation.py                       # every mutant of every target file (long: see the README)
    python benchmarks/mutation.py --limit 15            # 15 mutants per file, sampled with a fixed seed
    python benchmarks/mutation.py --files tap_exec/run/owed.py --list

Each mutant changes one line of a COPY of the tree (a temporary directory; the real files are never written): a
comparison flipped, `and`/`or` swapped, a `not` removed, an integer constant moved by one, a boolean flipped, a
one-line call or assignment replaced by `pass`, a returned value replaced by None (or an empty literal). It is
killed when a test fails (or the run times out). The tests run for a mutant are the `--max-tests` fastest (one
case per test function first) of those in its file's entry in TESTS that executed the mutated line in a traced pass
over the unmutated copy (`-x`; a slower test past the cap might still kill a survivor), then every test of those
files that also runs the tap as a separate process (not traced) or is newer than the trace; a line no test executed
survives without a run ("uncovered"). Traces are kept per test file in benchmarks/results/ until a target or a
shared helper changes (delete them when what an existing test runs changes).
Writes benchmarks/results/mutation.json. Not part of CI.

This module is also the pytest plugin (`-p mutation`) that traces lines and, for every run, makes the simulator's
`serve_forever` poll every 0.05 s instead of 0.5 s (a stop then takes 0.05 s, not 0.5 s: it only saves time).
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import asdict, dataclass
from pathlib import Path

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

    import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTEST = [sys.executable, "-m", "pytest"]
QUIET_PLUGINS = ("schemathesis", "hypothesispytest", "anyio", "xdist", "xdist.looponfail", "singer_testing", "platformdirs")

_OWED = (
    "tests/test_changes.py",
    "tests/test_selection.py",
    "tests/test_kills.py",
    "tests/test_planner.py",
    "tests/test_deletions.py",
)
_DRIFT = ("tests/test_drift.py",)
# Target files, most important first, and the test files that may kill their mutants.
TESTS: dict[str, tuple[str, ...]] = {
    "tap_exec/run/owed.py": _OWED,
    "tap_exec/run/memory.py": _OWED,
    "tap_exec/run/prints.py": _OWED,
    "tap_exec/run/history.py": (*_OWED, "tests/test_incremental.py"),
    "tap_exec/run/gone.py": ("tests/test_deletions.py", "tests/test_selection.py", "tests/test_kills.py"),
    "tap_exec/run/planner.py": (*_OWED, "tests/test_daily_limit.py"),
    "tap_exec/run/budget.py": ("tests/test_daily_limit.py", "tests/test_planner.py"),
    "tap_exec/pagination.py": ("tests/test_pagination.py", "tests/test_incremental.py", "tests/test_deletions.py"),
    "tap_exec/drift.py": _DRIFT,
    "tap_exec/shapes.py": _DRIFT,
    "tap_exec/run/embeds.py": _OWED,
    "tap_exec/run/estimate.py": ("tests/test_planner.py", "tests/test_progress.py"),
    "tap_exec/run/pace.py": ("tests/test_daily_limit.py", "tests/test_planner.py"),
    "tap_exec/run/progress.py": ("tests/test_progress.py", "tests/test_planner.py"),
    "tap_exec/run/services.py": _OWED,
    "tap_exec/run/__init__.py": _OWED,
}

# Survivors whose change no caller can observe: (file, mutated line, stripped, as --list prints it) -> why.
EQUIVALENT: dict[tuple[str, str], str] = {
    (
        "tap_exec/run/prints.py",
        "if known is not None and known[0] != READ:",
    ): "keep() then rewrites an entry already (version, READ) with the same value: only `dirty`, the same string again",
}


@dataclass
class Mutant:
    """One changed line of one file."""

    file: str
    line: int
    operator: str
    original: str
    mutated: str
    outcome: str = ""  # killed, survived, timeout, uncovered (survived: no test runs the line), equivalent
    seconds: float = 0.0
    tests: int = 0


# -- generating mutants ---------------------------------------------------------------------------------------------

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_ATOMS = (ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript, ast.List, ast.Dict, ast.Tuple, ast.Set)


def _skipped_lines(tree: ast.Module) -> set[int]:
    """Lines no mutant should touch: docstrings, type-checking imports, annotations."""
    skip: set[int] = set()

    def span(node: ast.stmt) -> range:
        return range(node.lineno, (node.end_lineno or node.lineno) + 1)

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.update(span(body[0]))
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(span(node))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            skip.update(span(node))
    return skip


def _annotation_nodes(tree: ast.Module) -> set[int]:
    """The ids of every node inside an annotation (never evaluated at run time: `from __future__ import annotations`)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotations.append(node.annotation)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            annotations.append(node.returns)
        for annotation in annotations:
            inside.update(id(sub) for sub in ast.walk(annotation))
    return inside


def _replacements(node: ast.AST) -> Iterator[tuple[str, ast.AST | None]]:
    """(operator, replacement node) for an expression or statement; None replaces a statement with `pass`."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _FLIP:
                new = copy.deepcopy(node)
                new.ops[i] = _FLIP[type(op)]()
                yield "compare", new
    elif isinstance(node, ast.BoolOp):
        yield "boolop", ast.BoolOp(op=ast.Or() if isinstance(node.op, ast.And) else ast.And(), values=node.values)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not", node.operand
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "bool", ast.Constant(not node.value)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield "int+1", ast.Constant(node.value + 1)
        yield "int-1", ast.Constant(node.value - 1)
    elif isinstance(node, ast.stmt):
        yield from _statement_replacements(node)


def _statement_replacements(node: ast.stmt) -> Iterator[tuple[str, ast.AST | None]]:
    """A call or an assignment deleted; a returned value replaced by None, or an empty literal of its kind."""
    calls = isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await))
    if calls or isinstance(node, (ast.Assign, ast.AugAssign)) or (isinstance(node, ast.AnnAssign) and node.value is not None):
        yield "delete", None
    elif isinstance(node, ast.Return) and node.value is not None:
        value = node.value
        if isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, bool)):
            return  # None already, or a boolean: the flip covers it
        empty: ast.expr = ast.Constant(None)
        if isinstance(value, (ast.List, ast.ListComp)):
            empty = ast.List(elts=[])
        elif isinstance(value, (ast.Dict, ast.DictComp)):
            empty = ast.Dict(keys=[], values=[])
        elif isinstance(value, ast.Tuple):
            empty = ast.Tuple(elts=[])
        elif isinstance(value, ast.Constant) and isinstance(value.value, str):
            empty = ast.Constant("")
        yield "return", ast.Return(value=empty)


def mutants_of(file: str) -> list[Mutant]:
    """Every one-line mutant of `file` (relative to the tree), in line order."""
    source = (ROOT / file).read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    skip = _skipped_lines(tree)
    annotations = _annotation_nodes(tree)
    found: list[Mutant] = []
    seen: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.expr, ast.stmt)) or node.lineno != node.end_lineno:
            continue
        if node.lineno in skip or id(node) in annotations:
            continue
        row = node.lineno - 1
        raw = lines[row].encode("utf-8")
        for operator, new in _replacements(node):
            if new is None:  # the whole statement, alone on its line
                if raw[: node.col_offset].strip() or raw[node.end_col_offset :].strip().split(b"#")[0].strip():
                    continue
                text = " " * node.col_offset + "pass"
            else:
                replacement = ast.unparse(new)
                if not isinstance(new, (*_ATOMS, ast.stmt)):
                    replacement = f"({replacement})"
                text = (raw[: node.col_offset] + replacement.encode() + raw[node.end_col_offset :]).decode("utf-8")
            if text == lines[row] or (node.lineno, text) in seen:
                continue
            candidate = [*lines[:row], text, *lines[row + 1 :]]
            try:
                ast.parse("\n".join(candidate))
            except SyntaxError:
                continue
            seen.add((node.lineno, text))
            found.append(Mutant(file, node.lineno, operator, lines[row].strip(), text.strip()))
    found.sort(key=lambda m: (m.line, m.operator, m.mutated))
    return found


# -- the pytest plugin: tracing, and a quick simulator stop ----------------------------------------------------------

_TRACE_OUT = "MUTATION_TRACE"
_hits: dict[str, set[tuple[str, int]]] = {}
_durations: dict[str, float] = {}
_current = ["<import>"]


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001
    """Quick simulator stops; with MUTATION_TRACE set, trace which target lines each test executes."""
    import socketserver
    import threading

    socketserver.BaseServer.serve_forever.__defaults__ = (0.05,)
    if not os.environ.get(_TRACE_OUT):
        return
    targets = {str(Path.cwd() / file): file for file in TESTS}

    def local(frame: FrameType, event: str, arg: object) -> t.Any:  # noqa: ARG001, ANN401
        if event == "line":
            _hits.setdefault(_current[0], set()).add((targets[frame.f_code.co_filename], frame.f_lineno))
        return local

    def calls(frame: FrameType, event: str, arg: object) -> t.Any:  # noqa: ARG001, ANN401
        if frame.f_code.co_filename in targets:
            if event == "call":
                _hits.setdefault(_current[0], set()).add((targets[frame.f_code.co_filename], frame.f_lineno))
            return local
        return None

    sys.settrace(calls)
    threading.settrace(calls)


def pytest_runtest_logstart(nodeid: str, location: object) -> None:  # noqa: ARG001
    """Lines from here on belong to this test."""
    _current[0] = nodeid


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up each test's setup, call and teardown time."""
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_unconfigure(config: pytest.Config) -> None:  # noqa: ARG001
    """Write the traced lines."""
    out = os.environ.get(_TRACE_OUT)
    if not out:
        return
    sys.settrace(None)
    lines = {test: sorted(f"{file}:{line}" for file, line in hits) for test, hits in _hits.items()}
    Path(out).write_text(json.dumps({"lines": lines, "durations": _durations}), encoding="utf-8")


# -- running ---------------------------------------------------------------------------------------------------------


def _copy_tree(into: Path) -> Path:
    """The project's files (no git, venv, output or caches), copied under `into`."""
    ignore = shutil.ignore_patterns(".git", ".venv", "output", "results", "__pycache__", ".*_cache", "transform", "*.duckdb*")
    tree = into / "tree"
    shutil.copytree(ROOT, tree, ignore=ignore)
    return tree


def _pytest(tree: Path, args: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int | None, float]:
    """Run pytest in the copy; (exit code or None on timeout, seconds)."""
    quiet = [f"-pno:{name}" for name in QUIET_PLUGINS]
    command = [*PYTEST, "-q", "-x", "-m", "not e2e", "-p", "no:cacheprovider", *quiet, "-p", "mutation", "-o", "addopts=", *args]
    environ = {
        **os.environ,
        "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'benchmarks'}",
        "PYTHONDONTWRITEBYTECODE": "1",
        **(env or {}),
    }
    start = time.monotonic()
    try:
        done = subprocess.run(command, cwd=tree, env=environ, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - start
    return done.returncode, time.monotonic() - start


def _trace_path(test_file: str) -> Path:
    """Where the trace of one test file over the target files is kept, until a target or a shared helper changes.

    A test added since is not in it: it runs for every mutant of its files (`_tests_for`). Delete the trace when
    what an existing test runs changes.
    """
    digest = hashlib.sha256()
    for name in ("tests/helpers.py", "tests/conftest.py", *TESTS):
        digest.update((ROOT / name).read_bytes())
    return RESULTS / f"trace-{Path(test_file).stem}-{digest.hexdigest()[:12]}.json"


def _trace(tree: Path, files: list[str]) -> dict[str, t.Any]:
    """Which tests execute which target lines, and how long each takes, over the unmutated copy (one run per test file)."""
    merged: dict[str, t.Any] = {"lines": {"<import>": []}, "durations": {}}
    for test_file in sorted({test for file in files for test in TESTS[file]}):
        out = _trace_path(test_file)
        if not out.exists():
            RESULTS.mkdir(parents=True, exist_ok=True)
            print(f"tracing {test_file} over the unmutated tree ...", flush=True)
            code, seconds = _pytest(tree, [test_file], timeout=3600, env={_TRACE_OUT: str(out)})
            if code != 0:
                sys.exit(f"{test_file} fails on the unmutated tree (exit {code}): fix it first")
            print(f"traced in {seconds:.0f} s", flush=True)
        trace = json.loads(out.read_text(encoding="utf-8"))
        merged["lines"]["<import>"] = sorted({*merged["lines"]["<import>"], *trace["lines"].pop("<import>", [])})
        merged["lines"].update(trace["lines"])
        merged["durations"].update(trace["durations"])
        merged["untraced"] = [*merged.get("untraced", []), *_untraced(tree, test_file, trace["durations"])]
    merged["spawning"] = _spawning({test for file in files for test in TESTS[file]})
    return merged


def _untraced(tree: Path, test_file: str, traced: dict[str, float]) -> list[str]:
    """Tests of `test_file` added since its trace was taken."""
    done = subprocess.run(
        [*PYTEST, "-q", "--collect-only", "-m", "not e2e", "-p", "no:cacheprovider", "-o", "addopts=", test_file],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in done.stdout.splitlines() if line.startswith(test_file + "::") and line not in traced]


def _spawning(test_files: set[str]) -> set[str]:
    """Tests that also run the tap as a separate process (directly or through a helper of their module): `file::name`."""
    found = set()
    for test_file in test_files:
        functions = [
            node for node in ast.parse((ROOT / test_file).read_text(encoding="utf-8")).body if isinstance(node, ast.FunctionDef)
        ]
        spawn = {"run_cli", "Popen", "subprocess"}
        for _ in range(3):  # helpers of helpers
            for node in functions:
                names = {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}
                names |= {sub.attr for sub in ast.walk(node) if isinstance(sub, ast.Attribute)}
                if names & spawn:
                    spawn.add(node.name)
        found |= {f"{test_file}::{node.name}" for node in functions if node.name.startswith("test_") and node.name in spawn}
    return found


def _tests_for(mutant: Mutant, trace: dict[str, t.Any], most: int) -> list[str]:
    """The `most` fastest of the file's tests that execute the mutant's line (of all of them for import-time lines).

    One case of each test function first (the fastest), then further cases of parametrized ones.

    Then every one of the file's tests that also runs the tap as a separate process, where the line may run untraced.
    """
    where = f"{mutant.file}:{mutant.line}"
    allowed = TESTS[mutant.file]
    durations: dict[str, float] = trace["durations"]
    if where in trace["lines"].get("<import>", ()):
        covering = [test for test in durations if test.split("::")[0] in allowed]
    else:
        covering = [test for test, lines in trace["lines"].items() if test.split("::")[0] in allowed and where in lines]
    covering.sort(key=lambda test: durations.get(test, 0.0))
    functions = {test.split("[")[0]: test for test in reversed(covering)}  # the fastest case of each test function
    covering = [*sorted(functions.values(), key=covering.index), *(test for test in covering if test not in functions.values())]
    covering = covering[:most]
    spawning = [test for test in trace["untraced"] if test.split("::")[0] in allowed]  # new, and focused: first
    spawning += [test for test in durations if test.split("::")[0] in allowed and test.split("[")[0] in trace["spawning"]]
    return [*covering, *(test for test in spawning if test not in covering)]


def run(mutants: list[Mutant], tree: Path, trace: dict[str, t.Any], most: int) -> None:
    """Apply each mutant to the copy in turn, run its tests, restore the file."""
    for n, mutant in enumerate(mutants, 1):
        if (mutant.file, mutant.mutated) in EQUIVALENT:
            mutant.outcome = "equivalent"
            continue
        tests = _tests_for(mutant, trace, most)
        mutant.tests = len(tests)
        if not tests:
            mutant.outcome = "uncovered"
            continue
        path = tree / mutant.file
        original = path.read_text(encoding="utf-8")
        lines = original.splitlines(keepends=True)
        indent = lines[mutant.line - 1][: len(lines[mutant.line - 1]) - len(lines[mutant.line - 1].lstrip())]
        lines[mutant.line - 1] = indent + mutant.mutated + "\n"
        path.write_text("".join(lines), encoding="utf-8")
        budget = 20 + 3 * sum(trace["durations"].get(test, 1.0) for test in tests)
        try:
            code, mutant.seconds = _pytest(tree, tests, timeout=budget)
        finally:
            path.write_text(original, encoding="utf-8")
        mutant.outcome = "timeout" if code is None else "survived" if code == 0 else "killed"
        if code not in (None, 0, 1, 2, 4):  # 2, 4: the mutant broke an import, so collection or a test id failed
            mutant.outcome = f"error {code}"
        print(
            f"[{n}/{len(mutants)}] {mutant.outcome:9} {mutant.seconds:5.1f}s {mutant.file}:{mutant.line} {mutant.mutated}",
            flush=True,
        )


def report(mutants: list[Mutant], seconds: float) -> dict[str, t.Any]:
    """Per file: killed, survived, timeouts, equivalent; each survivor by file:line and its mutated line."""
    files: dict[str, dict[str, int]] = {}
    for mutant in mutants:
        counts = files.setdefault(mutant.file, {})
        counts[mutant.outcome] = counts.get(mutant.outcome, 0) + 1
    print(f"\n{'file':32} {'mutants':>7} {'killed':>6} {'timeout':>7} {'equiv':>5} {'survived':>8} {'kill rate':>9}")
    total: dict[str, int] = {}
    for file, counts in files.items():
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        _row(file, counts)
    _row("total", total)
    survivors = [m for m in mutants if m.outcome in ("survived", "uncovered")]
    if survivors:
        print("\nsurvivors:")
    for m in survivors:
        print(f"  {m.file}:{m.line}  {m.original}  ->  {m.mutated}{'  (no test runs it)' if m.outcome == 'uncovered' else ''}")
    print(f"\n{seconds / 60:.1f} min")
    return {"seconds": round(seconds), "files": files, "total": total, "mutants": [asdict(m) for m in mutants]}


def _row(name: str, counts: dict[str, int]) -> None:
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    survived = counts.get("survived", 0) + counts.get("uncovered", 0)
    rate = f"{100 * killed / (killed + survived):.1f}%" if killed + survived else "-"
    mutants = sum(counts.values())
    print(f"{name:32} {mutants:7} {killed:6} {counts.get('timeout', 0):7} {counts.get('equivalent', 0):5} {survived:8} {rate:>9}")


def main() -> None:
    """Generate, sample, list or run the mutants."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", nargs="+", choices=list(TESTS), default=list(TESTS), metavar="FILE")
    parser.add_argument("--limit", type=int, help="sample this many mutants per file (seeded)")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--max-tests", type=int, default=10, help="run at most this many covering tests per mutant")
    parser.add_argument("--again", type=Path, help="run again only the survivors of this results file")
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--out", type=Path, default=RESULTS / "mutation.json")
    args = parser.parse_args()
    mutants: list[Mutant] = []
    for file in args.files:
        found = mutants_of(file)
        if args.limit is not None and len(found) > args.limit:
            found = sorted(random.Random(f"{args.seed}:{file}").sample(found, args.limit), key=lambda m: m.line)
        mutants.extend(found)
    if args.again:
        earlier = json.loads(args.again.read_text(encoding="utf-8"))["mutants"]
        again = {(m["file"], m["line"], m["mutated"]) for m in earlier if m["outcome"] in ("survived", "uncovered")}
        mutants = [m for m in mutants if (m.file, m.line, m.mutated) in again]
    if args.list:
        for m in mutants:
            print(f"{m.file}:{m.line} [{m.operator}] {m.mutated}")
        print(f"{len(mutants)} mutants")
        return
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        tree = _copy_tree(Path(tmp))
        trace = _trace(tree, args.files)
        run(mutants, tree, trace, args.max_tests)
    result = report(mutants, time.monotonic() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
