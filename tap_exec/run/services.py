"""What the planner, the estimate and the progress lines use of a run (`Run` has them), so that they need not import it."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    from tap_exec.run.budget import ApiDay
    from tap_exec.run.history import History
    from tap_exec.run.owed import ChangeTracker
    from tap_exec.run.pace import RequestGovernor
    from tap_exec.run.protocols import Listing


class StateWriter(t.Protocol):
    """The SDK's state writer."""

    def write_state(self, state: dict[str, t.Any]) -> None:
        """Write a STATE message if the state changed."""
        ...


class Host(t.Protocol):
    """What the run needs of the tap: its settings, state, streams and output."""

    @property
    def config(self) -> Mapping[str, t.Any]:
        """The settings."""
        ...

    @property
    def state(self) -> dict[str, t.Any]:
        """The state, updated in place."""
        ...

    @property
    def streams(self) -> Mapping[str, t.Any]:
        """Every stream, in sync order."""
        ...

    @property
    def state_writer(self) -> StateWriter:
        """Where STATE messages go."""
        ...

    logger: logging.Logger


class Services(t.Protocol):
    """One run's services, as the planner, the estimate and the progress lines see them."""

    host: Host

    @property
    def config(self) -> Mapping[str, t.Any]:
        """The settings."""
        ...

    @property
    def streams(self) -> Mapping[str, Listing]:
        """Every stream, in sync order."""
        ...

    @property
    def day(self) -> ApiDay:
        """The API's day and its budget."""
        ...

    @property
    def governor(self) -> RequestGovernor:
        """The rate limiter."""
        ...

    @property
    def tracker(self) -> ChangeTracker:
        """What is owed."""
        ...

    @property
    def history(self) -> History:
        """History and reconciliation."""
        ...

    @property
    def progress(self) -> t.Any:  # noqa: ANN401 - progress.RunProgress, which uses these services itself
        """Progress lines."""
        ...

    def checkpoint(self) -> None:
        """A STATE message with everything the run decided so far."""
        ...
