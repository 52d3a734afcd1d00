"""The simulator's HTTP layer: bearer auth, rate limits, injected faults and scheduled data changes."""

from __future__ import annotations

import email.utils
import gzip
import json
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tap_exec.simulator.api import ExecApi
from tap_exec.simulator.seed import build

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.simulator.data import Dataset
    from tap_exec.simulator.drift import ApiDrift

BASE_PATH = "/rest/v1"
DAY = 86_400
DEFAULT_API_KEY = "exec_live_" + "S1mulat0rKey" * 3 + "abcd"
FAULT_KINDS = ("500", "502", "503", "504", "drop", "truncate", "invalid_json", "slow")


@dataclass
class Faults:
    """Seeded fault injection: each request fails with probability `rate`, as one of `kinds`."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 1
    slow_seconds: float = 3.0


@dataclass
class Limits:
    """Rate limits: `per_window` requests per `window` seconds, and `daily` per API day (UTC, by the simulator's clock)."""

    per_window: int | None = None
    window: float = 60.0
    retry_after: float | None = None  # announced wait; None announces the real time to the next free slot
    daily: int | None = None  # requests accepted per UTC day of `Simulator.now()`; the count resets at each midnight
    daily_retry_after: int | None = None  # announced wait past `daily`; None announces the seconds to the next midnight
    style: str = "body"  # body (top level), error (inside `error`), header (seconds), header-date, none


@dataclass
class Canned:
    """A fixed response for one path, for testing how clients treat odd answers."""

    path: str
    status: int
    body: bytes
    content_type: str
    times: int | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stats:
    """What the simulator served, for tests and benchmarks (never the key)."""

    log: list[tuple[str, dict[str, str], int]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """Every request answered, whatever its status."""
        return len(self.log)

    def count(self, status: int) -> int:
        """How many responses had `status`."""
        return sum(1 for _, _, s in self.log if s == status)

    def paths(self, status: int = 200) -> list[str]:
        """Paths answered with `status`, in order."""
        return [p for p, _, s in self.log if s == status]


class Simulator:
    """A running Exec API double on loopback."""

    def __init__(  # noqa: PLR0913 - every knob is keyword-only
        self,
        data: Dataset | None = None,
        *,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        limits: Limits | None = None,
        members_shape: str = "flat",
        compress: bool = False,
        churn_every: int = 0,
        clock_offset: float = 0.0,
        drift: ApiDrift | None = None,
    ) -> None:
        self.clock_offset = clock_offset
        self.data = data if data is not None else build()
        self.data.now = self.now  # rows added while serving are stamped by this simulator's clock
        self.api = ExecApi(self.data, members_shape=members_shape, drift=drift)
        self.api_key = api_key
        self.faults = faults or Faults()
        self.limits = limits or Limits()
        self.compress = compress
        self.churn_every = churn_every
        self.stats = Stats()
        self.lock = threading.Lock()
        self._fault_rng = random.Random(self.faults.seed)
        self._window: deque[float] = deque()
        self._accepted = 0
        self._day: int | None = None  # the API day (days since the epoch, UTC) that `_today` counts
        self._today = 0
        self._schedule: dict[int, list[Callable[[Dataset], Any]]] = {}
        self._canned: list[Canned] = []
        self.server = ThreadingHTTPServer((host, port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        """The API's clock, in epoch seconds: the wall clock plus `clock_offset` (the `Date` header of every response)."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> float:
        """Move the API's clock forward by `seconds` (a simulated day: 86,400); returns the new `now()`."""
        self.clock_offset += seconds  # no lock: a scheduled change may advance the clock while the lock is held
        return self.now()

    def seconds_to_midnight(self, now: float | None = None) -> int:
        """Whole seconds from `now` (default: `now()`) to the next UTC midnight of the API's clock, when `daily` resets."""
        moment = self.now() if now is None else now
        return max(1, math.ceil((math.floor(moment / DAY) + 1) * DAY - moment))

    @property
    def url(self) -> str:
        """The API base URL, as the tap's `api_url` setting wants it."""
        host, port = self.server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host!s}:{port}{BASE_PATH}"

    def schedule(self, at_request: int, change: Callable[[Dataset], Any]) -> None:
        """Apply `change` to the data just before serving the `at_request`-th accepted request (1-based)."""
        self._schedule.setdefault(at_request, []).append(change)

    def answer(  # noqa: PLR0913 - every knob of a fixed answer
        self,
        path: str,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        *,
        times: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer GETs of `path` (below the base path) with a fixed response, `times` times or for good."""
        self._canned.append(Canned(path, status, body, content_type, times, headers or {}))

    def heal(self, path: str) -> None:
        """Stop the fixed responses for `path`: it answers from the data again."""
        self._canned = [entry for entry in self._canned if entry.path != path]

    def canned(self, path: str | None) -> Canned | None:
        """The fixed response due for `path`, if any, spending one of its uses."""
        for entry in self._canned:
            if entry.path == path and entry.times != 0:
                if entry.times is not None:
                    entry.times -= 1
                return entry
        return None

    def start(self) -> Simulator:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, name="exec-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Simulator:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request pipeline (called under the lock) --------------------------------------
    def gate(self, auth: str | None) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """Auth and rate limits; None lets the request through."""
        if auth != f"Bearer {self.api_key}":
            body = {
                "error": {"type": "authentication_error", "code": "invalid_api_key", "message": "Invalid or inactive API key"}
            }
            return 401, body, {}
        now = time.monotonic()
        while self._window and now - self._window[0] >= self.limits.window:
            self._window.popleft()
        api_now = self.now()
        day = math.floor(api_now / DAY)
        if day != self._day:
            self._day, self._today = day, 0
        if self.limits.daily is not None and self._today >= self.limits.daily:
            fixed = self.limits.daily_retry_after
            until = self.seconds_to_midnight(api_now) if fixed is None else fixed
            return self._rate_limited(until, "Daily request limit exceeded")
        if self.limits.per_window is not None and len(self._window) >= self.limits.per_window:
            wait = self.limits.retry_after
            if wait is None:
                wait = max(0.0, self.limits.window - (now - self._window[0]))
            return self._rate_limited(wait, "Rate limit exceeded")
        self._window.append(now)
        self._accepted += 1
        self._today += 1
        for change in self._schedule.pop(self._accepted, []):
            change(self.data)
        if self.churn_every and self._accepted % self.churn_every == 0:
            self.data.churn()
        return None

    def _rate_limited(self, wait: float, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        seconds: float = int(wait) if float(wait).is_integer() else wait
        error: dict[str, Any] = {"type": "rate_limited", "code": "rate_limit_exceeded", "message": message}
        body: dict[str, Any] = {"error": error}
        headers: dict[str, str] = {}
        style = self.limits.style
        if style == "body":
            body["retry_after"] = seconds
        elif style == "error":
            error["retry_after"] = seconds
        elif style == "header":
            headers["Retry-After"] = str(seconds)
        elif style == "header-date":
            headers["Retry-After"] = email.utils.formatdate(self.now() + wait, usegmt=True)
        return 429, body, headers

    def draw_fault(self) -> str | None:
        """The injected fault for this request, if any (seeded, so runs repeat)."""
        if self.faults.rate and self._fault_rng.random() < self.faults.rate:
            return self._fault_rng.choice(self.faults.kinds)
        return None


def _handler_for(sim: Simulator) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - one small class
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # one small response per request: no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401
            """Quiet: the simulator keeps its own log in `stats`."""

        def date_time_string(self, timestamp: float | None = None) -> str:
            """The `Date` header `send_response` adds to every response (once), from the simulator's clock."""
            return email.utils.formatdate(sim.now() if timestamp is None else timestamp, usegmt=True)

        def do_GET(self) -> None:
            """Serve one API request."""
            parts = urlsplit(self.path)
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            query = dict(pairs)
            path = parts.path.removeprefix(BASE_PATH) if parts.path.startswith(BASE_PATH + "/") else None
            with sim.lock:
                denied = sim.gate(self.headers.get("Authorization"))
                fault = None if denied else sim.draw_fault()
                canned = None if denied else sim.canned(path)
                if canned:
                    sim.stats.log.append((parts.path, query, canned.status))
                    self._send(canned.status, canned.body, {"Content-Type": canned.content_type, **canned.headers})
                    return
                if denied:
                    status, body, headers = denied
                elif path is None:
                    status, body, headers = 404, {"error": {"type": "not_found", "message": f"No route: {parts.path}"}}, {}
                else:
                    status, body = sim.api.get(path, pairs)
                    headers = {}
                    if fault in {"500", "502", "503", "504"}:
                        status, body = int(fault), {"error": {"type": "server_error", "message": "Upstream failure"}}
                payload = json.dumps(body, ensure_ascii=False).encode()
                sim.stats.log.append((parts.path, query, status if fault in {None, "500", "502", "503", "504"} else -1))
            self._reply(status, payload, headers, fault)

        def refuse(self) -> None:
            """Every other method: 405, as the API answers a method it does not serve here."""
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            message = f"Method {self.command} is not allowed here: the simulator serves the API's GET endpoints"
            body = {"error": {"type": "invalid_request", "code": "method_not_allowed", "message": message}}
            payload = b"" if self.command == "HEAD" else json.dumps(body).encode()
            self._send(405, payload, {"Content-Type": "application/json; charset=utf-8", "Allow": "GET"})

        def __getattr__(self, name: str) -> Callable[[], None]:
            """`do_<METHOD>` for every method but GET (POST, HEAD, TRACE, QUERY…): refuse it."""
            if name.startswith("do_"):
                return self.refuse
            raise AttributeError(name)

        def _reply(self, status: int, payload: bytes, headers: dict[str, str], fault: str | None) -> None:
            if fault == "drop":
                self.close_connection = True
                return
            if fault == "slow":
                time.sleep(sim.faults.slow_seconds)
            if fault == "invalid_json":
                payload = payload[: len(payload) // 2]
            encoding = None
            if sim.compress and "gzip" in self.headers.get("Accept-Encoding", "") and len(payload) > 512:
                payload, encoding = gzip.compress(payload, compresslevel=5), "gzip"
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            if encoding:
                headers["Content-Encoding"] = encoding
            self._send(status, payload, headers, declared=len(payload) * (2 if fault == "truncate" else 1))
            if fault == "truncate":
                self.close_connection = True

        def _send(self, status: int, payload: bytes, headers: dict[str, str], declared: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload) if declared is None else declared))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler
