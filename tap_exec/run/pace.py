"""One request governor per tap run: a sliding-window rate limiter, the run's and the day's budgets, per-stream counts."""

from __future__ import annotations

import threading
import time
import typing as t
from collections import Counter, defaultdict, deque

from tap_exec.errors import BudgetReachedError, day_over

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.run.budget import ApiDay


class RequestGovernor:
    """Paces every request of every stream to at most `per_minute` in any `window` seconds (60 for the API)."""

    def __init__(self, per_minute: int, max_requests: int | None = None, *, window: float = 60.0, day: ApiDay) -> None:
        self.per_minute = per_minute
        self.day = day
        self.window = window
        self.max_requests = max_requests
        self.sent: deque[float] = deque()
        self.by_stream: Counter[str] = Counter()
        self.waited: defaultdict[str, float] = defaultdict(float)  # seconds each stream waited for the rate limit (pace, 429s)
        self.busy = 0.0  # seconds spent inside requests, for their typical duration
        self.on_wait: Callable[[str], None] | None = None  # called every `tick` seconds of a long wait
        #: Writes a STATE message counting the requests sent so far (the day's `must_report`); set while the run syncs.
        self.report: Callable[[], None] | None = None
        self.tick = 10.0
        self._started: float | None = None
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """Requests sent so far in this run."""
        return sum(self.by_stream.values())

    def acquire(self, stream: str) -> None:
        """Block until one more request fits the window; refuse past the budget."""
        with self._lock:
            if self.max_requests is not None and self.total >= self.max_requests:
                msg = (
                    f"Stopped after {self.total} requests: the `max_requests` budget is reached. "
                    "State is saved; run again with the same state to continue."
                )
                raise BudgetReachedError(msg)
            if self.day.left() <= 0:
                raise day_over(self.day)
            if self.report is not None and self.day.must_report():
                self.report()  # a kill after this request must not leave more uncounted than the last STATE says
            now = time.monotonic()
            while self.sent and now - self.sent[0] >= self.window:
                self.sent.popleft()
            pause = self.window - (now - self.sent[0]) if len(self.sent) >= self.per_minute else 0.0
            self.waited[stream] += pause
        self._sleep(pause, stream)
        with self._lock:
            if pause:
                self.sent.popleft()
            now = time.monotonic()
            self.sent.append(now)
            self._started = now
            self.by_stream[stream] += 1
            self.day.spend()

    def _sleep(self, seconds: float, stream: str) -> None:
        """Wait, saying where the run is every `tick` seconds of it (the progress lines)."""
        while seconds > 0:
            step = min(seconds, self.tick)
            time.sleep(step)
            seconds -= step
            if self.on_wait is not None and seconds > 0:
                self.on_wait(stream)

    def settle(self) -> None:
        """Re-stamp the last request with its completion time, which the server's arrival time cannot exceed.

        Spacing requests from completion keeps the server's own window from ever counting one too many.
        """
        with self._lock:
            now = time.monotonic()
            if self.sent:
                self.sent[-1] = now
            if self._started is not None:
                self.busy += now - self._started
                self._started = None

    def waited_out(self, stream: str, seconds: float) -> None:
        """Count a wait the API asked for (429) as time spent waiting for the rate limit."""
        with self._lock:
            self.waited[stream] += seconds

    def time_for(self, requests: int) -> float:
        """Seconds `requests` more requests take: the sliding window's free slots go at once, then one as each frees.

        Never less than their typical duration allows (a slow API is the pace then, not the limit).
        """
        now = time.monotonic()
        with self._lock:
            times = [sent for sent in self.sent if now - sent < self.window]
        starts: deque[float] = deque(times[-self.per_minute :], maxlen=self.per_minute)
        last = now
        for _ in range(max(0, requests)):
            last = max(now, starts[0] + self.window) if len(starts) == self.per_minute else now
            starts.append(last)
        typical = self.busy / self.total if self.total else 0.0
        return max(last - now, requests * typical)
