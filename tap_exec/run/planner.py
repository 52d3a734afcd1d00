"""The planner: a run reads its lists, decides what is owed and in which order, then spends the day's budget on it.

The order is what users need first:

1. every list, whole and current (full-table lists; the new rows of incremental lists);
2. children of parents that are new or changed since the last run, newest first: raw rows (session details, page
   contents) before the API's aggregates (scenario analytics and participants, skill proficiency);
3. parents owed by earlier runs (the same order);
4. history, newest first (sessions below the first run's window), each page's children right after it;
5. reconciliation: a slice of history read again, changed rows emitted again and their children owed;

then whatever 4 and 5 made owed, and last the parents whose children failed before. A parent whose children keep
failing (5xx after every retry, a 404 while it is still listed) stays owed with its tries and never blocks the
rest, nor the run's status: it is data. Every run ends with one WARNING line naming them and a `fetch_failures` row
for each (a dbt test fails on them), and an ERROR line once one has failed on `NEEDS_A_HUMAN_DAYS` API days. Three
failing in a row are an outage: the run stops. Today's budget ends the run wherever it is, with the state saved
(errors.DayBudgetSpentError).
"""

from __future__ import annotations

import time
import typing as t

from tap_exec.errors import DayBudgetSpentError, ParentNotFoundError, RetriesExhaustedError
from tap_exec.run.history import DETAILS, HISTORY, RECON
from tap_exec.run.memory import DAYS, FIRST, NEEDS_A_HUMAN_DAYS

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from tap_exec.run.protocols import Child, Listing, Mode
    from tap_exec.run.services import Services

CHECKPOINT_SECONDS = 60.0  # a STATE message at least this often while children are fetched
HISTORY_LIST_SHARE = 0.5  # history's list pages join the lists while they fit this share of today's budget
OUTAGE = 3  # consecutive children failing after every retry: the API is down, not one parent
FAILURES = "fetch_failures"  # the tap-written stream with a row per failing parent (children.py)
SHOWN = 3  # failing parents a log line names before "and N more"


class Planner:
    """Runs the phases in order and keeps the score of failures."""

    def __init__(self, run: Services) -> None:
        self.run = run
        self._last_checkpoint = time.monotonic()
        self._failing_in_a_row = 0
        self.phase = "lists"
        self.active = False  # True while `execute` runs the phases

    # -- what streams ask --------------------------------------------------------------------
    def inline(self, stream: Listing) -> bool:
        """True when a list fetches its rows' children as it reads them; else they wait for every list.

        That is in history, reconciliation, a sync the planner does not run (`--test`, the SDK's tests: each list
        with its children, as the SDK syncs them), and with tracking off.
        """
        return stream.mode != "current" or not self.active or not self.run.tracker.enabled

    def child_failed(self, child: Listing, context: dict[str, t.Any] | None, exc: Exception) -> None:
        """A parent's children could not be fetched: owe them with one more try; re-raise if the API looks down.

        A 404 is a lagging replica or a parent deleted since its list was read: a list with a key filter is asked
        (one request) whether it still has the parent; only a parent gone from its list is gone.
        """
        tracker = self.run.tracker
        parent_id = tracker.parent_id(child, context)
        listed = self._still_listed(child, parent_id) if isinstance(exc, ParentNotFoundError) else True
        if listed is False:
            tracker.vanished(tracker.parent_of[child.name], [parent_id])
            self.run.host.logger.warning("Skipped %s for %s: the parent no longer exists (%s)", child.name, parent_id, exc)
            return
        if listed is None and not tracker.tried(child, context):
            # A full list cannot be asked about one row: its next read (proven whole) says whether the parent is gone.
            tracker.failed(child, context, str(exc), report=False)
            self.run.host.logger.info("%s for %s: a 404; the next run's list says whether it is gone", child.name, parent_id)
            return
        tracker.failed(child, context, str(exc))
        if isinstance(exc, RetriesExhaustedError):
            self._failing_in_a_row += 1
            if self._failing_in_a_row >= OUTAGE:
                raise exc
        self.run.host.logger.warning("%s for %s is owed to the next run: %s", child.name, parent_id, exc)

    def _still_listed(self, child: Listing, parent_id: str) -> bool | None:
        """Whether the parent's list, asked with a filter on the parent's key, still has it (None: it cannot be asked)."""
        tracker = self.run.tracker
        parent = tracker.parent_of[child.name]
        dues = tracker.dues.get(child.name)
        key = dues.keys.get(parent_id) if dues is not None else None
        direct = tracker.direct.get(child.name)
        if key is None and direct is not None and direct[0] == parent_id:
            key = direct[1]  # a history row at the details cursor
        probe = getattr(parent, "still_listed", None)
        if key is None or probe is None:
            return None  # a full list decides on the next run (run/owed.py settles parents it no longer has)
        return bool(probe(parent_id, key))

    def child_fetched(self) -> None:
        """A parent's children were fetched: the API answers again; a STATE message if one is due."""
        self._failing_in_a_row = 0
        self.checkpoint_if_due()

    def checkpoint_if_due(self) -> None:
        """A STATE message with everything decided so far, if the last one is `CHECKPOINT_SECONDS` old.

        Or three quarters of the day's `open_bound` requests old, when the bound, not today's budget, limits what may
        follow it (run/budget.py): at the API's pace the minute comes first, and mid-read a STATE that repeats the last
        one is seldom needed.
        """
        if time.monotonic() - self._last_checkpoint >= CHECKPOINT_SECONDS or self.run.day.checkpoint_soon():
            self._last_checkpoint = time.monotonic()
            self.run.checkpoint()

    # -- the run -----------------------------------------------------------------------------
    def execute(self, streams: Mapping[str, Listing]) -> None:
        """Every phase in order (a stop of any kind leaves the state consistent; the caller writes it)."""
        try:
            self._phases(streams)
        except DayBudgetSpentError:
            self._report_failures()
            raise
        self._report_failures()

    def _phases(self, streams: Mapping[str, Listing]) -> None:
        self.active = True
        tracker = self.run.tracker
        tracker.on_gone = lambda stream, row_ids: stream.mark_deleted(row_ids)  # type: ignore[attr-defined]
        failures = streams.get(FAILURES)
        if failures is not None and failures.selected:
            tracker.on_failure = failures.write  # type: ignore[attr-defined]
        tops = [s for s in streams.values() if s.parent_stream_type is None and s.name in tracker.synced]
        backward = [s for s in tops if getattr(s, "reverse_params", None)]
        listed = self._lists(tops, backward)
        children = self._children_in_order()
        raw = [child for child in children if not child.aggregate]
        aggregates = [child for child in children if child.aggregate]
        self.phase = "today"
        self._pay(raw, lambda dues, p: p not in dues.carried and p not in dues.failed)
        keep = self._reserve(backward, listed, aggregates)  # backfills leave the aggregates and reconciliation room
        self.phase = "owed"  # failed ones included: a parent that failed before is retried on the next run
        self._pay(raw, lambda dues, p: p not in dues.tried_this_run, keep)
        self._history(backward, listed, keep)
        self.phase = "aggregates"  # the API's aggregates wait for raw rows, which the marts can derive them from
        self._pay(aggregates, lambda dues, p: p not in dues.failed)
        self.phase = RECON
        for stream in backward:
            if stream not in listed and self.run.history.due(stream, stream.marks, RECON):  # type: ignore[attr-defined]
                self._sync(stream, RECON)
        if keep:  # then the backfills again, with what the reserve left
            self.phase = "owed"
            self._pay(raw, lambda dues, p: p not in dues.tried_this_run)
            self.phase = HISTORY
            self._history_details_due(backward)
        self._pay(children, lambda dues, p: p not in dues.failed)
        self.phase = "failed"
        self._pay(children, lambda dues, p: p not in dues.tried_this_run)

    def _lists(self, tops: list[Listing], backward: list[Listing]) -> list[Listing]:
        """Phase 1: every list; history's list too while it fits half of today's budget. The lists reading history."""
        history = self.run.history
        for stream in backward:
            if HISTORY not in stream.stream_state and stream.stream_state.get("replication_key_value"):
                stream.stream_state[HISTORY] = {"done": True}  # a state from before history: it read the whole list
        # lists that read history in this run, or read it whole for the first time: they reconcile none of it
        listed: list[Listing] = [s for s in backward if HISTORY not in s.stream_state]
        self.phase = "lists"
        for stream in tops:
            self._sync(stream, "current")  # a first run's current read is where history begins
            if stream in backward:
                self.owe_history_details(stream)
            if stream in backward and history.due(stream, stream.marks, HISTORY):  # type: ignore[attr-defined]
                listed.append(stream)  # cheap, and the marts want every row
                self._sync(stream, HISTORY, share=HISTORY_LIST_SHARE)
        return listed

    def _history(self, backward: list[Listing], listed: list[Listing], keep: int) -> None:
        """Phase 4: the rest of history's list, then its rows' raw children, newest first, leaving `keep` requests."""
        self.phase = HISTORY
        for stream in listed:
            if self.run.history.due(stream, stream.marks, HISTORY):  # type: ignore[attr-defined]
                self._sync(stream, HISTORY)
        self._history_details_due(backward, keep)

    def _reserve(self, backward: list[Listing], listed: list[Listing], aggregates: list[Child]) -> int:
        """Requests the backfills (earlier debts, history's details) leave today for today's aggregates and reconciliation.

        At most half of what is left after today's new data: a backfill of months (a raw stream selected late) then
        takes longer, but the aggregates of today's changes and reconciliation move every day instead of waiting for
        it to end. A first run's aggregates are a backfill themselves: they wait for history, as before.
        """
        tracker, history = self.run.tracker, self.run.history
        need = 0
        for child in aggregates:  # touched by today's changes (not a first run's pass, which waits for raw history)
            dues = tracker.dues.get(child.name)
            if dues is not None and not tracker.first_run_of(child.name):
                need += sum(1 for parent_id in dues.queue() if parent_id not in dues.carried)
        for stream in backward:
            marks = stream.marks  # type: ignore[attr-defined]
            if stream not in listed and not marks.history_due() and marks.get(HISTORY):
                need += history.pages_for(marks)
        return min(need, self.run.day.left() // 2)

    def _history_details_due(self, backward: list[Listing], keep: int = 0) -> None:
        """History rows' raw children, newest first, while more than `keep` requests are left today.

        With no raw per-parent stream selected any more (deselected halfway), the cursor is dropped at once.
        """
        tracker = self.run.tracker
        for stream in backward:
            marks = stream.marks  # type: ignore[attr-defined]
            if not marks.details_due():
                continue
            raw = tracker.raw_children(stream)
            if not raw:
                marks.state.pop(DETAILS, None)
                continue
            self._history_details(stream, raw, keep)

    def owe_history_details(self, stream: Listing) -> None:
        """History just begun, or a raw per-parent stream selected for the first time: history rows owe children."""
        tracker, marks = self.run.tracker, stream.marks  # type: ignore[attr-defined]
        raw = tracker.raw_children(stream)
        if not raw or marks.details_due():
            return
        if marks.get(HISTORY).get("fresh") and not marks.get(HISTORY).get("read"):
            marks.state[DETAILS] = {"before": marks.top(), "ids": []}
        elif any(tracker.first_run_of(child.name) for child in raw):
            self.run.history.owe_details(marks, stream)
            note = "%s: first run; the %s rows older than the window are read again for it."
            self.run.host.logger.info(note, raw[0].name, stream.name)

    def _history_details(self, stream: Listing, raw: list[Child], keep: int) -> None:
        """The raw children of history rows, newest first, from the details cursor, while more than `keep` are left."""
        tracker, day = self.run.tracker, self.run.day
        key, replication_key = str(stream.child_key), str(stream.replication_key)
        for row in stream.history_rows():  # type: ignore[attr-defined]
            if keep and day.left() <= keep:
                break  # the cursor stays at the last row whose children were fetched
            for child in raw:
                tracker.fetch_now(child, str(row["id"]), row.get(replication_key))
                child.sync(context={key: str(row["id"])})
                tracker.direct.pop(child.name, None)
        for child in raw:
            self.run.progress.done(child)
        self.run.checkpoint()

    def _sync(self, stream: Listing, mode: Mode, share: float | None = None) -> None:
        stream.mode = mode
        stream.history_share = share  # type: ignore[attr-defined]
        try:
            stream.sync()
            stream.finalize_state_progress_markers()
        finally:
            stream.mode = "current"
        self.run.checkpoint()

    def _children_in_order(self) -> list[Child]:
        """Selected per-parent streams: raw rows first, the API's aggregates after them (registry order within)."""
        children = list(self.run.tracker.children.values())
        return [c for c in children if not c.aggregate] + [c for c in children if c.aggregate]

    def _pay(self, children: Iterable[Child], due: t.Callable[[t.Any, str], bool], keep: int = 0) -> None:
        """Fetch the owed parents `due` says, in the queue's order, while more than `keep` requests are left today."""
        tracker, day = self.run.tracker, self.run.day
        for child in children:
            dues = tracker.dues.get(child.name)
            if dues is None:
                continue
            key = str(tracker.parent_of[child.name].child_key)
            for parent_id in dues.queue(oldest_debt_first=child.aggregate):
                if keep and day.left() <= keep:
                    break
                if dues.owes(parent_id) and due(dues, parent_id):
                    child.sync(context={key: parent_id})
            self.run.progress.done(child)
        self.run.checkpoint()

    def _report_failures(self) -> None:
        """Every run while parents fail: one WARNING line naming them and a `fetch_failures` row each (not an exit status).

        One ERROR line names those that failed on `NEEDS_A_HUMAN_DAYS` distinct API days: they need a human.
        """
        tracker, log = self.run.tracker, self.run.host.logger
        failing = {name: dues.failing() for name, dues in tracker.dues.items() if dues.failing()}
        if tracker.on_failure is not None:
            for row in tracker.failure_rows():
                tracker.on_failure(row)
        if not failing:
            return
        parts = [f"{name}: {len(failed)} parent(s) owed, {_shown(failed)}" for name, failed in failing.items()]
        log.warning(
            "Still owed after failing: %s. Everything else is done and the state is saved; the next run tries them "
            "again (fetch_failures has a row for each).",
            "; ".join(parts),
        )
        stuck = {
            name: {pid: entry for pid, entry in failed.items() if int(entry.get(DAYS, 0)) >= NEEDS_A_HUMAN_DAYS}
            for name, failed in failing.items()
        }
        named = [f"{name}: {_shown(failed)}" for name, failed in stuck.items() if failed]
        if named:
            log.error(
                "Failing on %d or more API days, needs a human: report %s to Exec support (the stream, the parent id and "
                "the error). The run goes on without them.",
                NEEDS_A_HUMAN_DAYS,
                "; ".join(named),
            )


def _shown(failed: Mapping[str, dict[str, t.Any]]) -> str:
    """The first few failing parents with their tries, days and last error, and how many more."""
    shown = ", ".join(
        f"{pid} ({entry.get('tries', 0)} tries on {entry.get(DAYS, 0)} API day(s) since {entry.get(FIRST)}: "
        f"{entry.get('error', '?')})"
        for pid, entry in list(failed.items())[:SHOWN]
    )
    return shown + (f" and {len(failed) - SHOWN} more" if len(failed) > SHOWN else "")
