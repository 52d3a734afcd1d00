"""The simulator answers bad queries as the API does: 400 with the error envelope, never a dropped connection."""

from __future__ import annotations

import typing as t

import pytest
import requests

if t.TYPE_CHECKING:
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
