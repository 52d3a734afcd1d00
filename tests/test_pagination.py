"""Page-number pagination: exactly the served rows, exactly ceil(n / page_size) requests, never a page too many."""

from __future__ import annotations

import json
import math
import typing as t

import pytest
import requests

from tap_exec.pagination import Cursor, ListPaginator, WindowPaginator
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


def _list_page(page: int, ids: list[str], total: int, size: int = 2) -> requests.Response:
    pages = math.ceil(total / size)
    return _response({"data": [{"id": i} for i in ids], "pagination": {"page": page, "total_count": total, "total_pages": pages}})


def _read(paginator: ListPaginator, pages: list[requests.Response]) -> list[int]:
    """Feed pages as the SDK does; the page numbers asked for, in order."""
    asked = [paginator.current_value]
    for response in pages:
        paginator.advance(response)
        if paginator.finished:
            break
        asked.append(paginator.current_value)
    return asked


@pytest.mark.parametrize("total", [0, 1, 2, 3, 6])
def test_a_list_that_does_not_move_is_read_once_and_proven(total: int) -> None:
    ids = [str(i) for i in range(total)]
    pages = [_list_page(p + 1, ids[p * 2 : p * 2 + 2], total) for p in range(max(1, math.ceil(total / 2)))]
    paginator = ListPaginator()
    assert _read(paginator, pages) == list(range(1, len(pages) + 1))
    assert paginator.finished
    assert paginator.proven
    assert paginator.restarts == 0


def test_a_list_that_shrinks_while_read_is_read_again_with_a_new_version() -> None:
    renewed: list[int] = []
    paginator = ListPaginator(on_restart=lambda: renewed.append(1))
    pages = [
        _list_page(1, ["a", "b"], 4),
        _list_page(2, ["d"], 3),  # "b" deleted after page 1: "c" moved up to page 1 and was skipped
        _list_page(1, ["a", "c"], 3),
        _list_page(2, ["d"], 3),
    ]
    assert _read(paginator, pages) == [1, 2, 1, 2]
    assert paginator.proven
    assert paginator.restarts == 1
    assert renewed == [1]


@pytest.mark.parametrize(
    "second",
    [
        _list_page(2, ["b", "c"], 5),  # a row inserted on page 1 repeats "b" (same total as a delete+insert)
        _list_page(2, ["c"], 4),  # the total moved
        _list_page(2, [], 2),  # a page past the end of a list that shrank
    ],
)
def test_every_sign_of_a_move_restarts_and_a_list_that_keeps_moving_is_not_proven(second: requests.Response) -> None:
    paginator = ListPaginator(passes=2)
    pages = [_list_page(1, ["a", "b"], 4), second, _list_page(1, ["a", "b"], 4), second]
    assert _read(paginator, pages) == [1, 2, 1, 2]
    assert paginator.finished
    assert not paginator.proven
    assert paginator.restarts == 1


def test_distinct_ids_short_of_the_total_are_not_proof() -> None:
    paginator = ListPaginator(passes=1)
    _read(paginator, [_list_page(1, ["a", "b"], 4), _list_page(2, ["d"], 4)])  # same total, yet "c" never served
    assert paginator.finished
    assert not paginator.proven


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
    assert out.records("collections") == first_page  # the rows read before they were deleted, then none
    assert sim.stats.requests == 3  # page 2 came back empty: the list moved, so it was read again from page 1


def _window_page(page: int, total: int, rows: list[tuple[str, str]], key: str = "created_at") -> requests.Response:
    body = {
        "data": [{"id": i, key: ts} for i, ts in rows],
        "pagination": {"page": page, "page_size": 2, "total_count": total, "total_pages": math.ceil(total / 2)},
    }
    return _response(body)


def test_window_paginator_restarts_at_the_last_timestamp_read_when_rows_vanish() -> None:
    paginator = WindowPaginator("created_at", newest_first=False)
    paginator.advance(_window_page(1, 6, [("a", "t1"), ("b", "t2")]))
    assert paginator.current_value == Cursor(page=2)
    # One row was deleted behind the cursor: total_count falls, so page 2 may have skipped a row.
    paginator.advance(_window_page(2, 5, [("d", "t3"), ("e", "t4")]))
    assert paginator.current_value == Cursor(page=1, anchor="t2")
    # The restarted window repeats `b` (seen at t2): dropped. `c` (the row page 2 skipped) and later rows pass.
    rows = [{"id": "b", "created_at": "t2"}, {"id": "c", "created_at": "t3"}, {"id": "d", "created_at": "t3"}]
    assert [r["id"] for r in paginator.unseen(rows)] == ["c", "d"]


def test_window_paginator_adds_one_catch_up_pass_to_newest_first_lists() -> None:
    paginator = WindowPaginator("updated_at", newest_first=True)
    paginator.advance(_window_page(1, 3, [("x", "t9"), ("y", "t8")], "updated_at"))
    paginator.advance(_window_page(2, 3, [("z", "t7")], "updated_at"))
    assert paginator.current_value == Cursor(page=1, catch_up=True)
    assert paginator.top == "t9"
    assert paginator.unseen([{"id": "w", "updated_at": "t10"}, {"id": "x", "updated_at": "t9"}]) == [
        {"id": "w", "updated_at": "t10"}
    ]
    paginator.advance(_window_page(1, 2, [("w", "t10"), ("x", "t9")], "updated_at"))
    assert paginator.finished


def test_window_paginator_costs_no_extra_request_for_a_single_page() -> None:
    paginator = WindowPaginator("updated_at", newest_first=True)
    paginator.advance(_window_page(1, 2, [("x", "t9"), ("y", "t8")], "updated_at"))
    assert paginator.top == "t9"
    assert paginator.finished


def test_an_id_read_twice_restarts_at_once_rather_than_after_the_last_page() -> None:
    """A row inserted on page 1 and one deleted later keep the total: the repeated id shows the move a page early."""
    paginator = ListPaginator()
    pages = [
        _list_page(1, ["a", "b"], 6),
        _list_page(2, ["b", "c"], 6),  # "x" inserted first, "f" deleted: same total, "b" again
        _list_page(1, ["x", "a"], 6),
        _list_page(2, ["b", "c"], 6),
        _list_page(3, ["d", "e"], 6),
    ]
    assert _read(paginator, pages) == [1, 2, 1, 2, 3]
    assert paginator.proven


def test_a_slice_ends_after_max_pages_that_gave_new_rows() -> None:
    """A history slice of two pages, resumed at a tie already read: the page of old rows does not count."""
    paginator = WindowPaginator("created_at", newest_first=False, catch_up=False, max_pages=2, tail="t1", tail_ids={"a", "b"})
    pages = [
        [("a", "t1"), ("b", "t1")],  # read by the run before: nothing new
        [("c", "t2"), ("d", "t3")],
        [("e", "t4"), ("f", "t5")],
        [("g", "t6"), ("h", "t7")],
    ]
    asked = [paginator.current_value.page]
    for number, rows in enumerate(pages, 1):
        response = _window_page(number, 8, rows)
        paginator.unseen(json.loads(response.content)["data"])  # as the stream passes each page's rows
        paginator.advance(response)
        if paginator.finished:
            break
        asked.append(paginator.current_value.page)
    assert asked == [1, 2, 3]
    assert paginator.finished
    assert not paginator.complete
    assert paginator.tail == "t5"
