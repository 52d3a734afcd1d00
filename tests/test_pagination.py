"""Page-number pagination: exactly the served rows, exactly ceil(n / page_size) requests, never a page too many."""

from __future__ import annotations

import json
import math
import typing as t

import pytest
import requests

from tap_exec.pagination import TotalPagesPaginator
from tap_exec.simulator import Counts, build
from tests.helpers import fast_config, run_tap

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.simulator import Simulator


def _response(body: dict[str, t.Any]) -> requests.Response:
    response = requests.Response()
    response._content = json.dumps(body).encode()
    response.status_code = 200
    return response


@pytest.mark.parametrize(
    ("page", "total_pages", "more"), [(1, 0, False), (1, 1, False), (1, 2, True), (2, 3, True), (3, 3, False), (4, 3, False)]
)
def test_paginator_stops_at_total_pages(page: int, total_pages: int, more: bool) -> None:
    paginator = TotalPagesPaginator()
    response = _response(
        {"data": [{}], "pagination": {"page": page, "page_size": 100, "total_count": 1, "total_pages": total_pages}}
    )
    assert paginator.has_more(response) is more
    assert paginator.total_pages == total_pages


@pytest.mark.parametrize("count", [0, 1, 100, 101, 250])
@pytest.mark.parametrize("page_size", [100, 7])
def test_collections_are_read_in_the_fewest_requests(make_sim: Callable[..., Simulator], count: int, page_size: int) -> None:
    sim = make_sim(data=build(2, Counts.scaled(0.1, collections=count)))
    out = run_tap(fast_config(sim, page_size=page_size), selected={"collections"})
    assert out.records("collections") == json.loads(json.dumps(sim.data.collections))
    assert sim.stats.requests == max(1, math.ceil(count / page_size))
    assert [q["page"] for _, q, _ in sim.stats.log] == [str(p) for p in range(1, sim.stats.requests + 1)]
    assert {q["page_size"] for _, q, _ in sim.stats.log} == {str(page_size)}


def test_an_empty_page_ends_the_stream(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=build(2, Counts.scaled(0.1, collections=250)))
    first_page = json.loads(json.dumps(sim.data.collections[:100]))
    sim.schedule(2, lambda data: data.collections.clear())  # everything is deleted after page 1 is served
    out = run_tap(fast_config(sim), selected={"collections"})
    assert out.records("collections") == first_page
    assert sim.stats.requests == 2
