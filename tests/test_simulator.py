"""The simulator answers bad queries as the API does (400 with the error envelope), and keeps the API's clock and day."""

from __future__ import annotations

import email.utils
import time
import typing as t

import pytest
import requests

from tap_exec.simulator import Counts, Limits, build

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.simulator import Simulator

BAD_QUERIES = [
    ("/sessions", "start_date=null", "start_date"),
    ("/sessions", "start_date=2026-01-01T00:00:00Z&start_date=2026-13-01T00:00:00Z", "start_date"),
    ("/sessions", "end_date=2026-01-01T00:00:00Z&end_date=2026-01-02T00:00:00Z", "given more than once"),
    ("/knowledge-hub/pages", "updated_after=null", "updated_after"),
    ("/knowledge-hub/pages", "updated_before=", "updated_before"),
    ("/sessions", "sorting=newest", "sorting"),
    ("/sessions", "rank=gold,platinum", "rank"),
    ("/sessions", "exclude_system_users=yes", "exclude_system_users"),
    ("/scenarios", "include_archived=1", "include_archived"),
    ("/scenarios", "owner_email=jane", "owner_email"),
    ("/skills", "page=0", "page"),
    ("/skills", "page_size=101", "page_size"),
    ("/collections", "page_size=1.5", "page_size"),
    ("/knowledge-hub/sources", "status=done", "status"),
    ("/scenarios/assignments", "status=late", "status"),
]


def _get(sim: Simulator, path: str, query: str = "", method: str = "GET") -> requests.Response:
    return requests.request(method, f"{sim.url}{path}?{query}", headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=5)


@pytest.mark.parametrize(("path", "query", "named"), BAD_QUERIES)
def test_a_bad_parameter_is_a_400_with_the_envelope(sim: Simulator, path: str, query: str, named: str) -> None:
    response = _get(sim, path, query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert named in error["message"]
    expected = "invalid_pagination" if "page" in query.split("=", maxsplit=1)[0] else "invalid_parameter"
    assert error["code"] == expected


def test_unknown_parameters_are_ignored_and_required_ones_required(sim: Simulator) -> None:
    assert _get(sim, "/sessions", "color=blue&page_size=3").status_code == 200
    scenario = sim.data.scenarios[0]["id"]
    assert _get(sim, f"/scenarios/{scenario}/access").json()["error"]["message"] == "Invalid value for `user_email`: is required"
    member = sim.data.members[0]["email"]
    assert _get(sim, f"/scenarios/{scenario}/access", f"user_email={member}").status_code == 200


def test_other_methods_are_refused_with_405(sim: Simulator) -> None:
    for method in ("POST", "DELETE", "TRACE", "QUERY"):
        response = _get(sim, "/sessions", method=method)
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "GET"


def _midnight_after(moment: float) -> float:
    return (moment // 86_400 + 1) * 86_400


def test_every_response_carries_one_date_header_from_the_simulated_clock(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(clock_offset=3 * 86_400)
    sim.advance(86_400 + 0.25)
    for path, status in (("/workspace", 200), ("/sessions/nope", 404), ("/sessions?sorting=newest", 400)):
        response = _get(sim, path)
        assert response.status_code == status, path
        dates = [value for name, value in response.raw.headers.items() if name.lower() == "date"]
        assert len(dates) == 1, dates
        sent = email.utils.parsedate_to_datetime(dates[0]).timestamp()
        assert abs(sent - sim.now()) < 2, (dates[0], sim.now())
        assert sent - time.time() > 4 * 86_400 - 2
    unauthorised = requests.get(f"{sim.url}/workspace", timeout=5)
    assert unauthorised.status_code == 401
    assert abs(email.utils.parsedate_to_datetime(unauthorised.headers["Date"]).timestamp() - sim.now()) < 2


def test_rows_added_while_serving_are_stamped_by_the_simulated_clock(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=build(3, Counts.scaled(0.05)), clock_offset=-time.time() % 86_400 + 10 * 86_400)
    before = sim.data.sessions[-1].created
    sim.advance(86_400)
    session = sim.data.insert_session()
    assert abs(session.created - sim.now()) < 2
    assert session.created > before
    assert _get(sim, "/sessions", "page_size=1").json()["data"][0]["id"] == session.id


def test_the_daily_limit_is_per_api_day_and_announces_the_seconds_to_midnight(make_sim: Callable[..., Simulator]) -> None:
    start = 10 * 86_400 + 3_600 - time.time() % 86_400  # 01:00 UTC, ten days ahead
    sim = make_sim(data=build(3, Counts.scaled(0.05)), limits=Limits(daily=3, style="body"), clock_offset=start)
    assert [_get(sim, "/workspace").status_code for _ in range(3)] == [200, 200, 200]
    refused = _get(sim, "/workspace")
    assert refused.status_code == 429
    to_midnight = _midnight_after(sim.now()) - sim.now()
    assert abs(refused.json()["retry_after"] - to_midnight) <= 2
    assert 22 * 3600 < refused.json()["retry_after"] <= 23 * 3600
    assert "Date" in refused.headers
    sim.advance(12 * 3600)  # 13:00 the same day: still spent
    assert _get(sim, "/workspace").status_code == 429
    sim.advance(to_midnight - 12 * 3600 + 60)  # just past midnight: a new day
    assert [_get(sim, "/workspace").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_fixed_daily_retry_after_is_announced_as_given(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=build(3, Counts.scaled(0.05)), limits=Limits(daily=1, daily_retry_after=20_000, style="header"))
    assert _get(sim, "/workspace").status_code == 200
    refused = _get(sim, "/workspace")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20000"
