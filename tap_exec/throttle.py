"""One request governor per tap run: a sliding-window rate limiter, a request budget and per-stream counts."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

from tap_exec.errors import BudgetReachedError


class RequestGovernor:
    """Paces every request of every stream to at most `per_minute` in any `window` seconds (60 for the API)."""

    def __init__(self, per_minute: int, max_requests: int | None = None, *, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self.max_requests = max_requests
        self.sent: deque[float] = deque()
        self.by_stream: Counter[str] = Counter()
        self.waited = 0.0
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
            now = time.monotonic()
            while self.sent and now - self.sent[0] >= self.window:
                self.sent.popleft()
            if len(self.sent) >= self.per_minute:
                pause = self.window - (now - self.sent[0])
                self.waited += pause
                time.sleep(pause)
                self.sent.popleft()
                now = time.monotonic()
            self.sent.append(now)
            self.by_stream[stream] += 1

    def settle(self) -> None:
        """Re-stamp the last request with its completion time, which the server's arrival time cannot exceed.

        Spacing requests from completion keeps the server's own window from ever counting one too many.
        """
        with self._lock:
            if self.sent:
                self.sent[-1] = time.monotonic()

    def remaining_time(self, requests: int) -> float:
        """Seconds `requests` more requests take at the configured pace (for progress estimates)."""
        return max(0.0, requests * self.window / self.per_minute)

    def summary(self) -> str:
        """`N requests (stream: n, …)` for the end-of-run log."""
        parts = ", ".join(f"{name}: {n}" for name, n in sorted(self.by_stream.items()))
        return f"{self.total} requests ({parts}); {self.waited:.1f}s spent pacing under {self.per_minute}/min"
