"""The simulator against the Exec OpenAPI spec, tested by schemathesis, a tool nobody here wrote.

Every GET operation, its examples and coverage phases (valid values, every boundary and invalid value of each
parameter, duplicated parameters, missing auth, other methods): no server error, only documented status codes,
documented content types and response schemas. The simulator is what every other test trusts.
"""

from __future__ import annotations

import atexit
import os
import typing as t

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tap_exec.simulator import Counts, Simulator, build
from tests.spec_schemas import SPEC_PATH

if t.TYPE_CHECKING:
    from schemathesis import Case, CheckContext, Response

# CI always has ../shared beside the clone; only a bare clone elsewhere may lack it.
if not SPEC_PATH.exists() and not os.environ.get("CI"):
    pytest.skip("../shared/spec is not beside this clone", allow_module_level=True)

# Status codes the API documentation gives where the spec is silent (NOTES.md): every bad parameter is a
# 400 `invalid_request` (e.g. code `invalid_pagination`), also on operations whose spec lists no 400.
ALLOWED_UNDOCUMENTED = {(400, "invalid_request")}

# schemathesis builds its tests when this module is collected, so the simulator starts here.
_SIM = Simulator(build(5, Counts.scaled(0.2))).start()
atexit.register(_SIM.stop)
_DATA = _SIM.data
_DATA.archive_page(1)  # so `status=archived` lists a row (the default list leaves it out)
_CONFIG = schemathesis.Config.from_dict(
    {
        "base-url": _SIM.url,
        "headers": {"Authorization": f"Bearer {_SIM.api_key}"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True, "generate-duplicate-query-parameters": True},
            "fuzzing": {"enabled": False},
            "stateful": {"enabled": False},
        },
        # Ids that exist, so the coverage phase reaches each operation's logic instead of its 404.
        "parameters": {
            "path.session_id": _DATA.sessions[0].id,
            "path.skill_id": _DATA.skills[0]["id"],
            "path.scenario_id": _DATA.scenarios[0]["id"],
            "path.folder_id": _DATA.folders[0]["id"],
            "path.page_id": _DATA.pages[0]["id"],
            "path.source_id": _DATA.sources[0]["id"],
            "query.user_email": _DATA.members[0]["email"],
        },
    }
)
schema = schemathesis.openapi.from_path(SPEC_PATH, config=_CONFIG).include(method="GET")


def documented_status(ctx: CheckContext, response: Response, case: Case[t.Any]) -> bool | None:  # noqa: ARG001
    """The status code is one the spec documents for the operation, or one the allow list names.

    Other methods on a GET path (the coverage phase tries them) must be refused with 405.
    """
    if case.method.upper() != case.operation.method.upper():
        assert response.status_code == 405, f"{case.method} answered {response.status_code}"
        return None
    if str(response.status_code) in case.operation.definition.raw.get("responses", {}):
        return None
    error = (
        response.json().get("error", {}) if response.headers.get("content-type", [""])[0].startswith("application/json") else {}
    )
    assert (response.status_code, error.get("type")) in ALLOWED_UNDOCUMENTED, f"undocumented {response.status_code}: {error}"
    return None


@schema.parametrize()
def test_the_simulator_keeps_the_api_contract(case: Case[t.Any]) -> None:
    response = case.call()
    case.validate_response(
        response,
        checks=[not_a_server_error, content_type_conformance, response_schema_conformance, documented_status],
    )
