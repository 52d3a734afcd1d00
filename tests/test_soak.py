"""The many-day soak (tests/soak.py) on a few seeds, every operation on (`benchmarks/soak.py`: more seeds and days)."""

from __future__ import annotations

import logging
import typing as t

import pytest

from tests.soak import OPERATIONS, soak

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: The operations CI runs: all of them (an operation that breaks a promise is left out here until it is fixed).
PASSING = OPERATIONS
DAYS = 15


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    """The tap logs every request at INFO: a failure should show the violations, not thousands of log lines."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.usefixtures("quiet_logs")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_soak_keeps_every_promise(seed: int) -> None:
    result = soak(seed, DAYS, PASSING)
    assert result.runs > DAYS
    assert result.kills
    assert not result.violations, "\n".join(map(str, result.violations))
